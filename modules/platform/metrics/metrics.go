// Package metrics owns the service's Prometheus registry: Go runtime and process collectors, plus
// whatever the modules register on it.
package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/fx"
)

// Module provides the *prometheus.Registry that /metrics serves.
var Module = fx.Module("metrics", fx.Provide(New))

// New returns a registry with the Go runtime and process collectors registered.
func New() *prometheus.Registry {
	r := prometheus.NewRegistry()
	r.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return r
}
