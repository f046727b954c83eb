package calculator

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/web"
)

type noAuth struct{}

func (noAuth) Authenticate(context.Context, string) (string, error) {
	return "", errors.New("no protected routes")
}

// TestModule boots Module as the accrual binary does, on web.Module's server, and Builtin as
// gophermart does, on a server of its own beside the host's (which never serves the accrual API);
// both on a database that already holds Gophermart's schema, on real sockets.
func TestModule(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		for _, mode := range []string{"standalone", "builtin"} {
			t.Run(name+"/"+mode, func(t *testing.T) {
				t.Parallel()
				moduleFlow(t, open(t), mode == "builtin")
			})
		}
	}
}

func moduleFlow(t *testing.T, d *db.DB, builtin bool) {
	t.Helper()
	cfg := DefaultConfig()
	cfg.ProcessingDelay = 5 * time.Millisecond
	cfg.Address = "127.0.0.1:0"
	httpCfg := web.DefaultConfig()
	httpCfg.Address = "127.0.0.1:0"
	var host *web.Server
	var gate *Gate
	opts := []fx.Option{
		fx.Supply(d, discardLog(), cfg, httpCfg),
		fx.Provide(
			func() web.Authenticator { return noAuth{} },
			func(d *db.DB) web.Pinger { return d },
		),
		web.Module,
		fx.Populate(&host, &gate),
	}
	var own *Server
	if builtin {
		opts = append(opts, Builtin, fx.Populate(&own))
	} else {
		opts = append(opts, Module)
	}
	app := fxtest.New(t, opts...)
	app.RequireStart()
	defer app.RequireStop()
	base := "http://" + host.Addr()
	if builtin {
		base = own.URL()
		assert.NotEqual(t, "http://"+host.Addr(), base)
		assert.Regexp(t, `^http://127\.0\.0\.1:[1-9][0-9]*$`, base)
		for _, path := range []string{"/api/goods", "/api/orders", "/accrual/api/goods"} {
			req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, "http://"+host.Addr()+path,
				strings.NewReader(`{"match":"Bork","reward":5,"reward_type":"%"}`))
			require.NoError(t, err)
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			_ = resp.Body.Close()
			assert.Equal(t, http.StatusNotFound, resp.StatusCode, "the host's server never serves %s", path)
		}
	}

	post := func(path, body string) int {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, base+path, strings.NewReader(body))
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		return resp.StatusCode
	}
	get := func(path string) (int, string) {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, base+path, nil)
		require.NoError(t, err)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	require.Equal(t, http.StatusOK, post("/api/goods", `{"match":"Bork","reward":5,"reward_type":"%"}`))
	require.Equal(t, http.StatusConflict, post("/api/goods", `{"match":"Bork","reward":5,"reward_type":"%"}`))
	n := luhn("9000000001")
	require.Equal(t, http.StatusAccepted, post("/api/orders", `{"order":"`+n+`","goods":[{"description":"Чайник Bork","price":14599.50}]}`))
	deadline := time.Now().Add(10 * time.Second)
	for {
		status, body := get("/api/orders/" + n)
		require.Equal(t, http.StatusOK, status, body)
		var o orderResponse
		require.NoError(t, json.Unmarshal([]byte(body), &o))
		if o.Status == StatusProcessed {
			assert.JSONEq(t, `{"order":"`+n+`","status":"PROCESSED","accrual":729.98}`, body)
			break
		}
		require.True(t, time.Now().Before(deadline), "not processed after 10s: %s", body)
		time.Sleep(5 * time.Millisecond)
	}
	status, _ := get("/api/orders/" + luhn("9000000002"))
	assert.Equal(t, http.StatusNoContent, status)
	assert.NotEmpty(t, gate.Requests(), "the gate recorded the GETs")
}

// Builtin refuses an address other machines could reach.
func TestBuiltinRefusesPublicAddress(t *testing.T) {
	d := dbtest.Migrated(t, dbtest.Open(t, "sqlite"))
	for _, addr := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:8081"} {
		cfg := DefaultConfig()
		cfg.Address = addr
		app := fx.New(fx.NopLogger, fx.Supply(d, discardLog(), cfg), Builtin, fx.Invoke(func(*Server) {}))
		require.Error(t, app.Err(), addr)
		assert.Contains(t, app.Err().Error(), "loopback", addr)
	}
}
