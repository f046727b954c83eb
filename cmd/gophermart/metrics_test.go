package main

import (
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/gophermart/gophermart/config"
	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/web"
)

// readmeMetricRE matches a metric's name in the first column of the README's metrics table.
var readmeMetricRE = regexp.MustCompile("(?m)^  \\| `(gophermart_[a-z_]+)` \\|")

// TestMetricNames: everything the service exports is named gophermart_…, or comes from the standard
// collectors (go_…, process_…, the pool's go_sql_… labelled db_name="gophermart", and promhttp's
// count of failed scrapes); and the README's table lists exactly the gophermart_… metrics there are.
func TestMetricNames(t *testing.T) {
	fs := pflag.NewFlagSet("gophermart", pflag.ContinueOnError)
	config.AddFlags(fs)
	require.NoError(t, fs.Parse([]string{"--run-address=127.0.0.1:0", "--database-uri=" + dbtest.URI(t, "sqlite"), "--log-level=error"}))
	cfg, err := config.Load(fs)
	require.NoError(t, err)
	var (
		srv *web.Server
		reg *prometheus.Registry
	)
	app := fxtest.New(t, serveOptions(cfg), fx.Populate(&srv, &reg))
	app.RequireStart()
	t.Cleanup(app.RequireStop)
	resp, err := srv.App().Test(httptest.NewRequest(http.MethodGet, "/healthz", nil), -1)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())

	families, err := reg.Gather()
	require.NoError(t, err)
	var own []string
	for _, mf := range families {
		name := mf.GetName()
		switch {
		case strings.HasPrefix(name, "gophermart_"):
			own = append(own, name)
		case strings.HasPrefix(name, "go_sql_"):
			for _, m := range mf.GetMetric() {
				require.Len(t, m.GetLabel(), 1, name)
				assert.Equal(t, "db_name", m.GetLabel()[0].GetName(), name)
				assert.Equal(t, "gophermart", m.GetLabel()[0].GetValue(), name)
			}
		case strings.HasPrefix(name, "go_"), strings.HasPrefix(name, "process_"),
			name == "promhttp_metric_handler_errors_total":
		default:
			t.Errorf("metric %s is outside the naming scheme (gophermart_…, or a standard collector's)", name)
		}
	}
	assert.Contains(t, own, "gophermart_http_requests_total")
	assert.Contains(t, own, "gophermart_orders_pending")

	readme, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	var documented []string
	for _, m := range readmeMetricRE.FindAllStringSubmatch(string(readme), -1) {
		documented = append(documented, m[1])
	}
	slices.Sort(own)
	slices.Sort(documented)
	assert.Equal(t, own, documented, "the README's metrics table lists every gophermart_… metric, and no other")
}
