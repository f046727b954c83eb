package web_test

import (
	"bufio"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"syscall"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/gophermart/gophermart/modules/platform/metrics"
	"github.com/gophermart/gophermart/modules/platform/web"
)

// stubAuth accepts the one token "good", as user u1, at no cost: the benchmarks measure the edge,
// not token verification.
type stubAuth struct{}

func (stubAuth) Authenticate(_ context.Context, token string) (string, error) {
	if token != "good" {
		return "", errors.New("bad token")
	}
	return "u1", nil
}

// benchServe runs req through the real app's handler, in process, on one reusable RequestCtx, as
// fasthttp's server does for a keep-alive connection: no network, so the numbers are the chain's.
func benchServe(b *testing.B, app *fiber.App, req string, want int) {
	b.Helper()
	h := app.Handler()
	var fctx fasthttp.RequestCtx
	var r fasthttp.Request
	if err := r.Read(bufioReader(req)); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	cpu0 := processCPU(b)
	for b.Loop() {
		r.CopyTo(&fctx.Request)
		fctx.Response.Reset()
		fctx.ResetUserValues() // as the server does between two requests of a connection
		h(&fctx)
		if got := fctx.Response.StatusCode(); got != want {
			b.Fatalf("status %d, want %d: %s", got, want, fctx.Response.Body())
		}
	}
	// The machine is shared: wall-clock ns/op counts time spent waiting for a core, CPU time does not.
	b.ReportMetric(float64(processCPU(b)-cpu0)/float64(b.N), "cpu-ns/op")
}

// processCPU is the CPU time (user and system) the process has used so far, in nanoseconds.
func processCPU(b *testing.B) int64 {
	b.Helper()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return ru.Utime.Nano() + ru.Stime.Nano()
}

func benchApp(withMetrics bool) *fiber.App {
	var opts []web.Option
	if withMetrics {
		opts = append(opts, web.WithMetrics(metrics.New(), "bench"))
	}
	routes := web.Routes{Protected: func(r fiber.Router) {
		r.Get("/balance", func(c *fiber.Ctx) error { return c.SendString(web.UserID(c)) })
	}}
	return web.NewServer(web.DefaultConfig(), slog.New(slog.NewTextHandler(io.Discard, nil)), stubAuth{}, nopPing{},
		[]web.Routes{routes}, opts...).App()
}

// BenchmarkEdge measures the whole middleware chain (metrics, request id, Host check, deadline,
// recovery, inflation and, on /api/user, the guard) around trivial handlers.
func BenchmarkEdge(b *testing.B) {
	const healthz = "GET /healthz HTTP/1.1\r\nHost: shop\r\n\r\n"
	const balance = "GET /api/user/balance HTTP/1.1\r\nHost: shop\r\nAuthorization: Bearer good\r\nUser-Agent: loadgen\r\nAccept: */*\r\n\r\n"
	b.Run("healthz", func(b *testing.B) { benchServe(b, benchApp(true), healthz, 200) })
	b.Run("guarded", func(b *testing.B) { benchServe(b, benchApp(true), balance, 200) })
	b.Run("guarded-no-metrics", func(b *testing.B) { benchServe(b, benchApp(false), balance, 200) })
	b.Run("request-id-given", func(b *testing.B) {
		benchServe(b, benchApp(true), "GET /healthz HTTP/1.1\r\nHost: shop\r\nX-Request-Id: abc-123\r\n\r\n", 200)
	})
	// The floor: a bare fiber app with the same handler and no middleware at all.
	b.Run("bare-fiber", func(b *testing.B) {
		app := fiber.New(fiber.Config{DisableStartupMessage: true})
		app.Get("/api/user/balance", func(c *fiber.Ctx) error { return c.SendString("u1") })
		benchServe(b, app, balance, 200)
	})
}

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }
