package main

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/gophermart/gophermart/config"
	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/web"
)

// BenchmarkBalanceRealAuth is GET /api/user/balance through the whole service as serve composes it:
// the real JWT guard (signature, claims and the user's existence) in front of the real handler and
// store, on PostgreSQL when GOPHERMART_TEST_DSN is set, else SQLite. The modules' own benchmarks use a
// stand-in authenticator; this one measures what a client pays.
func BenchmarkBalanceRealAuth(b *testing.B) {
	engine := "sqlite"
	if len(dbtest.EngineNames(b)) > 1 {
		engine = "postgres"
	}
	fs := pflag.NewFlagSet("gophermart", pflag.ContinueOnError)
	config.AddFlags(fs)
	require.NoError(b, fs.Parse([]string{
		"--run-address=127.0.0.1:0", "--database-uri=" + dbtest.URI(b, engine), "--log-level=error",
		"--accrual-address=http://127.0.0.1:9", // no built-in accrual service: nothing but the API
	}))
	cfg, err := config.Load(fs)
	require.NoError(b, err)
	var srv *web.Server
	app := fxtest.New(b, serveOptions(cfg), fx.Populate(&srv))
	app.RequireStart()
	b.Cleanup(app.RequireStop)
	gm := srv.App()

	req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/api/user/register",
		strings.NewReader(`{"login":"bench","password":"bench password"}`))
	resp, err := gm.Test(req, -1)
	require.NoError(b, err)
	_ = resp.Body.Close()
	require.Equal(b, http.StatusOK, resp.StatusCode)
	token := resp.Header.Get("Authorization")
	require.NotEmpty(b, token)

	for b.Loop() {
		req := httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/api/user/balance", nil)
		req.Header.Set("Authorization", token)
		resp, err := gm.Test(req, -1)
		if err != nil {
			b.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			b.Fatalf("status %d", resp.StatusCode)
		}
	}
}
