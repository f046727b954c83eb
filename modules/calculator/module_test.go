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

// TestModule boots Module the way gophermart's built-in mode does: on a database that already holds
// Gophermart's schema, with web.Module on a real socket and the routes under /accrual.
func TestModule(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := DefaultConfig()
			cfg.Prefix = "/accrual"
			cfg.ProcessingDelay = 5 * time.Millisecond
			httpCfg := web.DefaultConfig()
			httpCfg.Address = "127.0.0.1:0"
			var srv *web.Server
			var gate *Gate
			app := fxtest.New(t,
				fx.Supply(open(t), discardLog(), cfg, httpCfg),
				fx.Provide(
					func() web.Authenticator { return noAuth{} },
					func(d *db.DB) web.Pinger { return d },
				),
				web.Module,
				Module,
				fx.Populate(&srv, &gate),
			)
			app.RequireStart()
			defer app.RequireStop()
			base := "http://" + srv.Addr() + "/accrual"

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
		})
	}
}
