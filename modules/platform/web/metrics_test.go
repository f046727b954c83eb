package web_test

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/gophermart/gophermart/modules/platform/metrics"
	"github.com/gophermart/gophermart/modules/platform/web"
)

func TestMetricsPerRoutePattern(t *testing.T) {
	reg := metrics.New()
	app := web.NewServer(web.DefaultConfig(), slog.New(slog.NewTextHandler(io.Discard, nil)), anyAuth{}, nopPing{},
		[]web.Routes{testRoutes()}, web.WithMetrics(reg, "svc")).App()

	for _, path := range []string{"/teapot", "/teapot", "/panic", "/no/such/thing", "/api/user/me"} {
		resp, _ := do(t, app, httptest.NewRequest(http.MethodGet, path, nil))
		require.NotEqual(t, 200, resp.StatusCode)
	}
	// A POST after GETs: fiber reuses the buffers behind c.Method(), so an uncopied label would turn
	// an earlier "GET" into "POST"-shaped garbage such as "GETT".
	for range 2 {
		resp, _ := do(t, app, httptest.NewRequest(http.MethodPost, "/echo", nil))
		require.Equal(t, 200, resp.StatusCode)
	}
	resp, body := do(t, app, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, 200, resp.StatusCode)
	text := string(body)
	assert.Contains(t, text, `svc_http_requests_total{method="GET",route="/teapot",status="418"} 2`)
	assert.Contains(t, text, `svc_http_requests_total{method="GET",route="/panic",status="500"} 1`)
	assert.Contains(t, text, `svc_http_requests_total{method="GET",route="unmatched",status="404"} 1`)
	assert.Contains(t, text, `svc_http_requests_total{method="GET",route="/api/user",status="401"} 1`, "guard refusals are counted")
	assert.Contains(t, text, `svc_http_request_duration_seconds_bucket{method="GET",route="/teapot"`)
	assert.Contains(t, text, "go_goroutines")
	assert.NotContains(t, text, "/no/such/thing", "raw paths never become labels")
	assert.Contains(t, text, `svc_http_requests_total{method="POST",route="/echo",status="200"} 2`)
	assert.NotContains(t, text, "\nhttp_", "every HTTP metric is in the namespace")
	assert.NotContains(t, text, `method="GETT"`)
	assert.NotContains(t, text, `method="POSTT"`)
}

// TestMetricsNeedANamespace: the module refuses a registry without a namespace, rather than export
// names no one chose.
func TestMetricsNeedANamespace(t *testing.T) {
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	opts := fx.Options(
		fx.NopLogger,
		fx.Supply(web.DefaultConfig(), log, metrics.New()),
		fx.Provide(func() web.Authenticator { return anyAuth{} }, func() web.Pinger { return nopPing{} }),
		web.Module,
		fx.Invoke(func(*web.Server) {}),
	)
	err := fx.New(opts).Err()
	require.Error(t, err)
	assert.Contains(t, err.Error(), "web.MetricsNamespace")
	require.NoError(t, fx.New(opts, fx.Supply(web.MetricsNamespace("svc"))).Err())
}
