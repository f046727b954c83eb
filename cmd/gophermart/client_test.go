//go:build e2e

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// apiClient speaks to a running gophermart over real HTTP.
type apiClient struct {
	t    *testing.T
	base string
	http *http.Client
}

func newAPI(t *testing.T, addr string) *apiClient {
	t.Helper()
	return &apiClient{t: t, base: "http://" + addr, http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{DisableCompression: true},
	}}
}

type apiReply struct {
	status int
	header http.Header
	body   []byte
}

func (r apiReply) json(t *testing.T, v any) {
	t.Helper()
	require.NoError(t, json.Unmarshal(r.body, v), string(r.body))
}

// do sends body (a string as is, anything else as JSON) with the token, if any, as a bearer token.
func (a *apiClient) do(method, path, token string, body any) apiReply {
	a.t.Helper()
	var rd io.Reader
	ctype := "application/json"
	switch b := body.(type) {
	case nil:
	case string:
		rd, ctype = bytes.NewBufferString(b), "text/plain"
	default:
		raw, err := json.Marshal(b)
		require.NoError(a.t, err)
		rd = bytes.NewReader(raw)
	}
	req, err := http.NewRequestWithContext(context.Background(), method, a.base+path, rd)
	require.NoError(a.t, err)
	if rd != nil {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := a.http.Do(req)
	require.NoError(a.t, err)
	defer func() { _ = resp.Body.Close() }()
	raw, err := io.ReadAll(resp.Body)
	require.NoError(a.t, err)
	return apiReply{status: resp.StatusCode, header: resp.Header, body: raw}
}

// register registers login and returns its token, requiring 200.
func (a *apiClient) register(login, password string) string {
	a.t.Helper()
	r := a.do(http.MethodPost, "/api/user/register", "", map[string]string{"login": login, "password": password})
	require.Equal(a.t, http.StatusOK, r.status, string(r.body))
	return bearer(a.t, r)
}

func bearer(t *testing.T, r apiReply) string {
	t.Helper()
	h := r.header.Get("Authorization")
	require.Regexp(t, `^Bearer \S+$`, h)
	return h[len("Bearer "):]
}
