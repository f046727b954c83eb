package orders

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gofiber/fiber/v2"

	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/web"
	"github.com/gophermart/gophermart/modules/platform/web/webtest"
)

// benchEnv is the orders module on PostgreSQL when GOPHERMART_TEST_DSN is set, else SQLite, served
// by the real server together with a trivial protected route for the baseline.
func benchEnv(b *testing.B) *env {
	b.Helper()
	engines := dbtest.Engines(b)
	open, ok := engines["postgres"]
	if !ok {
		open = engines["sqlite"]
	}
	e := setup(b, open)
	e.app = webtest.New(NewRoutes(e.svc), web.Routes{Protected: func(r fiber.Router) {
		r.Get("/bench/ok", func(c *fiber.Ctx) error { return c.SendString("ok") })
	}})
	return e
}

func benchDo(b *testing.B, app *fiber.App, method, path, body string, want int) {
	b.Helper()
	req := httptest.NewRequestWithContext(context.Background(), method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+webtest.Token("alice"))
	resp, err := app.Test(req, -1)
	if err != nil {
		b.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != want {
		b.Fatalf("%s %s: %d, want %d", method, path, resp.StatusCode, want)
	}
}

func BenchmarkBaseline(b *testing.B) {
	e := benchEnv(b)
	b.ResetTimer()
	for range b.N {
		benchDo(b, e.app, http.MethodGet, "/api/user/bench/ok", "", http.StatusOK)
	}
}

var benchSeq atomic.Int64

func BenchmarkUpload(b *testing.B) {
	e := benchEnv(b)
	b.ResetTimer()
	for range b.N {
		benchDo(b, e.app, http.MethodPost, "/api/user/orders", num(90, int(benchSeq.Add(1))), http.StatusAccepted)
	}
}

func BenchmarkListOrders100(b *testing.B) {
	e := benchEnv(b)
	for i := range 100 {
		benchDo(b, e.app, http.MethodPost, "/api/user/orders", num(91, i), http.StatusAccepted)
	}
	b.ResetTimer()
	for range b.N {
		benchDo(b, e.app, http.MethodGet, "/api/user/orders", "", http.StatusOK)
	}
}
