package web

import (
	"strconv"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/utils"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Option adjusts a Server at construction.
type Option func(*Server)

// MetricsNamespace is the first part of the names of the server's metrics: "gophermart" gives
// gophermart_http_requests_total. Each binary supplies its own, so that dashboards and alerts never
// mix up two services' requests.
type MetricsNamespace string

// WithMetrics records request counts and latencies per route on reg, named under namespace, and
// serves reg at GET /metrics.
func WithMetrics(reg *prometheus.Registry, namespace MetricsNamespace) Option {
	return func(s *Server) { s.metrics, s.namespace = reg, string(namespace) }
}

// httpMetrics is the middleware recording <namespace>_http_requests_total and
// <namespace>_http_request_duration_seconds, labelled by method, route pattern (never the raw path:
// order numbers would explode cardinality) and status.
func httpMetrics(reg prometheus.Registerer, namespace string, handleError fiber.ErrorHandler) fiber.Handler {
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: namespace,
		Subsystem: "http",
		Name:      "requests_total",
		Help:      "HTTP requests answered, by method, route pattern and status code.",
	}, []string{"method", "route", "status"})
	duration := prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: namespace,
		Subsystem: "http",
		Name:      "request_duration_seconds",
		Help:      "HTTP request latency, by method and route pattern.",
		Buckets:   []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
	}, []string{"method", "route"})
	reg.MustRegister(requests, duration)
	return func(c *fiber.Ctx) error {
		start := time.Now()
		// Answer errors here, through the one error handler, so the status counted is the one sent.
		var err error
		if herr := c.Next(); herr != nil {
			err = handleError(c, herr)
		}
		status := c.Response().StatusCode()
		route := c.Route().Path
		if status == fiber.StatusNotFound && (route == "/" || route == "") {
			route = "unmatched"
		}
		// fiber's strings alias buffers reused by the next request: labels outlive it, so copy.
		method := utils.CopyString(c.Method())
		requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
		duration.WithLabelValues(method, route).Observe(time.Since(start).Seconds())
		return err
	}
}

func metricsHandler(reg *prometheus.Registry) fiber.Handler {
	return adaptor.HTTPHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
}
