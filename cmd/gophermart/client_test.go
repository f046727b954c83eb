//go:build e2e

package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/docs/openapi"
	"github.com/gophermart/gophermart/docs/openapi/openapitest"
)

// apiClient speaks to a running gophermart over real HTTP. Every answer is validated against the
// OpenAPI documents: gophermart.yaml, and accrual.yaml for the accrual service's paths.
type apiClient struct {
	t       *testing.T
	base    string
	http    *http.Client
	doc     *openapitest.Checker // gophermart's document
	accrual *openapitest.Checker // the accrual service's, for its paths (under accrualPrefix)
	prefix  string
}

func newAPI(t *testing.T, addr string) *apiClient {
	t.Helper()
	return &apiClient{t: t, base: "http://" + addr, http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{DisableCompression: true},
	}, doc: openapitest.New(t, openapi.Gophermart)}
}

// newAPIFrom is newAPI for a client whose connections come from localIP, another loopback address
// such as 127.0.0.2: another client address to the server.
func newAPIFrom(t *testing.T, addr, localIP string) *apiClient {
	t.Helper()
	a := newAPI(t, addr)
	dialer := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(localIP)}, Timeout: 10 * time.Second}
	a.http.Transport = &http.Transport{DisableCompression: true, DialContext: dialer.DialContext}
	return a
}

// newAccrualAPI is an apiClient for the accrual service at addr, mounted under prefix there ("" for
// the accrual binary and for gophermart's built-in one, each on its own listener).
func newAccrualAPI(t *testing.T, addr, prefix string) *apiClient {
	t.Helper()
	a := newAPI(t, addr)
	a.accrual, a.prefix = openapitest.NewAt(t, openapi.Accrual, prefix), prefix
	return a
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
	a.validate(method, path, ctype, body, resp, raw)
	return apiReply{status: resp.StatusCode, header: resp.Header, body: raw}
}

// validate checks a real answer against the document that describes its path.
func (a *apiClient) validate(method, path, ctype string, body any, resp *http.Response, raw []byte) {
	a.t.Helper()
	doc := a.doc
	if doc == nil { // a client probing paths the documents do not describe
		return
	}
	if a.accrual != nil && strings.HasPrefix(path, a.prefix+"/api/") && !strings.HasPrefix(path, "/api/user/") {
		doc = a.accrual
	}
	var reqBody []byte
	switch b := body.(type) {
	case nil:
	case string:
		reqBody = []byte(b)
	default:
		reqBody, _ = json.Marshal(b)
	}
	req := httptest.NewRequest(method, path, bytes.NewReader(reqBody))
	if body != nil {
		req.Header.Set("Content-Type", ctype)
	}
	doc.Check(a.t, req, openapitest.Response{Status: resp.StatusCode, Header: resp.Header, Body: raw}, false)
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
