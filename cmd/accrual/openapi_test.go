package main

import (
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/gophermart/gophermart/docs/openapi"
	"github.com/gophermart/gophermart/docs/openapi/openapitest"
	"github.com/gophermart/gophermart/modules/platform/web"
)

// TestOpenAPIRoutesAreDocumented: the routes of the accrual binary, composed as it runs
// (appOptions), are exactly the operations of docs/openapi/accrual.yaml. The answers themselves are
// checked against the document in docs/openapi (TestAccrualAnswersMatchTheDocument).
func TestOpenAPIRoutesAreDocumented(t *testing.T) {
	fs := pflag.NewFlagSet("accrual", pflag.ContinueOnError)
	addFlags(fs)
	require.NoError(t, fs.Parse([]string{"--run-address=127.0.0.1:0", "--database-uri=", "--log-level=error"}))
	cfg, err := loadConfig(fs)
	require.NoError(t, err)
	var srv *web.Server
	app := fxtest.New(t, appOptions(cfg), fx.Populate(&srv))
	app.RequireStart()
	t.Cleanup(app.RequireStop)
	openapitest.AssertSameRoutes(t, openapitest.New(t, openapi.Accrual).Operations(), openapitest.Routes(t, srv.App()))
}

// TestMetrics: the binary's /metrics answers as accrual.yaml says, with its HTTP metrics named
// accrual_… and the standard Go collectors.
func TestMetrics(t *testing.T) {
	fs := pflag.NewFlagSet("accrual", pflag.ContinueOnError)
	addFlags(fs)
	require.NoError(t, fs.Parse([]string{"--run-address=127.0.0.1:0", "--database-uri=", "--log-level=error"}))
	cfg, err := loadConfig(fs)
	require.NoError(t, err)
	var srv *web.Server
	app := fxtest.New(t, appOptions(cfg), fx.Populate(&srv))
	app.RequireStart()
	t.Cleanup(app.RequireStop)

	c := openapitest.New(t, openapi.Accrual)
	require.Equal(t, http.StatusOK, c.DoValid(t, srv.App(), httptest.NewRequest(http.MethodGet, "/healthz", nil)).Status)
	r := c.DoValid(t, srv.App(), httptest.NewRequest(http.MethodGet, "/metrics", nil))
	require.Equal(t, http.StatusOK, r.Status)
	text := string(r.Body)
	assert.Contains(t, text, `accrual_http_requests_total{method="GET",route="/healthz",status="200"} 1`)
	assert.Contains(t, text, "accrual_http_request_duration_seconds_bucket")
	assert.Contains(t, text, "go_goroutines")
	assert.Contains(t, text, "process_cpu_seconds_total")
	assert.NotContains(t, text, "gophermart_")
}
