package pprof_test

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/pprof"
)

func TestCheckAddress(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		wantErr bool
	}{
		{name: "off", give: ""},
		{name: "ipv4 loopback", give: "127.0.0.1:6060"},
		{name: "other 127/8 address", give: "127.0.0.2:6060"},
		{name: "ipv6 loopback", give: "[::1]:6060"},
		{name: "localhost", give: "localhost:6060"},
		{name: "any port", give: "127.0.0.1:0"},
		{name: "every interface", give: ":6060", wantErr: true},
		{name: "unspecified ipv4", give: "0.0.0.0:6060", wantErr: true},
		{name: "unspecified ipv6", give: "[::]:6060", wantErr: true},
		{name: "public address", give: "192.0.2.10:6060", wantErr: true},
		{name: "host name", give: "example.com:6060", wantErr: true},
		{name: "no port", give: "127.0.0.1", wantErr: true},
		{name: "bad port", give: "127.0.0.1:99999", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := pprof.CheckAddress(tt.give)
			if tt.wantErr {
				assert.Error(t, err)
			} else {
				assert.NoError(t, err)
			}
		})
	}
	assert.ErrorIs(t, pprof.CheckAddress("0.0.0.0:6060"), pprof.ErrNotLoopback)
}

func quiet() *slog.Logger { return slog.New(slog.DiscardHandler) }

func TestServesProfilesOnLoopback(t *testing.T) {
	s := pprof.NewServer(pprof.Config{Address: "127.0.0.1:0"}, quiet())
	ctx := context.Background()
	require.NoError(t, s.Start(ctx))
	t.Cleanup(func() { assert.NoError(t, s.Stop(context.Background())) })

	for _, path := range []string{"/debug/pprof/", "/debug/pprof/goroutine?debug=1", "/debug/pprof/cmdline"} {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+s.Addr()+path, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err, path)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, resp.Body.Close())
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, resp.StatusCode, path)
		if path == "/debug/pprof/" {
			assert.Contains(t, string(body), "goroutine", "the index lists the profiles")
		}
	}
}

func TestOffWithoutAddress(t *testing.T) {
	s := pprof.NewServer(pprof.Config{}, quiet())
	require.NoError(t, s.Start(context.Background()))
	assert.Empty(t, s.Addr())
	require.NoError(t, s.Stop(context.Background()))
}

func TestStartRefusesAPublicAddress(t *testing.T) {
	s := pprof.NewServer(pprof.Config{Address: "0.0.0.0:0"}, quiet())
	err := s.Start(context.Background())
	require.ErrorIs(t, err, pprof.ErrNotLoopback)
	assert.Empty(t, s.Addr(), "nothing listens")
}
