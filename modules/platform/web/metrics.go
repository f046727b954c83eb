package web

import (
	"maps"
	"strconv"
	"sync"
	"sync/atomic"
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
	series := newSeriesCache(requests, duration)
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
		s := series.get(seriesKey{method: c.Method(), route: route, status: status})
		s.requests.Inc()
		s.duration.Observe(time.Since(start).Seconds())
		return err
	}
}

// seriesKey names one request counter: method, route pattern and status.
type seriesKey struct {
	method, route string
	status        int
}

type series struct {
	requests prometheus.Counter
	duration prometheus.Observer
}

// seriesCache keeps the counter and the histogram of each (method, route, status) met so far, so a
// request costs one map lookup rather than the vectors' label hashing and locking. The map is
// copied on write: the set of routes, methods and statuses is small and soon complete, and reads
// then take no lock.
type seriesCache struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
	mu       sync.Mutex // serialises writers
	m        atomic.Pointer[map[seriesKey]series]
}

func newSeriesCache(requests *prometheus.CounterVec, duration *prometheus.HistogramVec) *seriesCache {
	c := &seriesCache{requests: requests, duration: duration}
	c.m.Store(&map[seriesKey]series{})
	return c
}

func (c *seriesCache) get(k seriesKey) series {
	if s, ok := (*c.m.Load())[k]; ok {
		return s
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	old := *c.m.Load()
	if s, ok := old[k]; ok {
		return s
	}
	// fiber's strings alias buffers reused by the next request: keys and labels outlive it, so copy.
	k.method, k.route = utils.CopyString(k.method), utils.CopyString(k.route)
	s := series{
		requests: c.requests.WithLabelValues(k.method, k.route, strconv.Itoa(k.status)),
		duration: c.duration.WithLabelValues(k.method, k.route),
	}
	next := make(map[seriesKey]series, len(old)+1)
	maps.Copy(next, old)
	next[k] = s
	c.m.Store(&next)
	return s
}

func metricsHandler(reg *prometheus.Registry) fiber.Handler {
	return adaptor.HTTPHandler(promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg}))
}
