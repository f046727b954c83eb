package accrual

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Collector exports the worker's counters, the shared 429 pause and the queue length to
// Prometheus, as gophermart_accrual_* and gophermart_orders_pending. Values are read at scrape
// time, so the worker's hot path pays nothing for them.
type Collector struct {
	w         *Worker
	orders    Orders
	responses *prometheus.Desc
	requests  *prometheus.Desc
	credited  *prometheus.Desc
	requeued  *prometheus.Desc
	pause     *prometheus.Desc
	limit     *prometheus.Desc
	pending   *prometheus.Desc
}

// NewCollector returns the collector of w's metrics, counting pending orders through orders.
func NewCollector(w *Worker, orders Orders) *Collector {
	return &Collector{
		w: w, orders: orders,
		responses: prometheus.NewDesc("gophermart_accrual_responses_total",
			"Answers of the accrual system by outcome: processed, processing, invalid, not_registered (204), rate_limited (429), failed (5xx, network, unexpected), timeout (no whole answer within the deadline), redirect (3xx, never followed), bad_answer (an impossible accrual: a human must look).",
			[]string{"outcome"}, nil),
		requests: prometheus.NewDesc("gophermart_accrual_requests_total", "Requests sent to the accrual system.", nil, nil),
		credited: prometheus.NewDesc("gophermart_accrual_credited_points_total", "Points credited to users by this instance.", nil, nil),
		requeued: prometheus.NewDesc("gophermart_accrual_requeued_total", "Orders given back to the queue to be asked again later.", nil, nil),
		pause: prometheus.NewDesc("gophermart_accrual_pause_seconds",
			"Seconds left of the shared pause imposed by the accrual system's last 429 (0: not paused).", nil, nil),
		limit: prometheus.NewDesc("gophermart_accrual_rate_limit_per_minute",
			"The accrual system's per-minute limit as last learned from a 429 (0: unknown).", nil, nil),
		pending: prometheus.NewDesc("gophermart_orders_pending", "Orders not final yet (NEW or PROCESSING).", nil, nil),
	}
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{c.responses, c.requests, c.credited, c.requeued, c.pause, c.limit, c.pending} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	s := c.w.Stats()
	answered := s.Processed + s.Invalid + s.NotRegistered + s.RateLimited + s.Failures + s.Timeouts +
		s.Redirects + s.BadAnswers
	outcomes := map[string]int64{
		"processed": s.Processed, "invalid": s.Invalid, "not_registered": s.NotRegistered,
		"rate_limited": s.RateLimited, "failed": s.Failures, "timeout": s.Timeouts, "redirect": s.Redirects,
		"bad_answer": s.BadAnswers,
		"processing": max(0, s.Requests-answered),
	}
	for outcome, n := range outcomes {
		ch <- prometheus.MustNewConstMetric(c.responses, prometheus.CounterValue, float64(n), outcome)
	}
	ch <- prometheus.MustNewConstMetric(c.requests, prometheus.CounterValue, float64(s.Requests))
	ch <- prometheus.MustNewConstMetric(c.credited, prometheus.CounterValue, float64(s.Credited)/100)
	ch <- prometheus.MustNewConstMetric(c.requeued, prometheus.CounterValue, float64(s.Requeued))
	until, limit := c.w.RateLimit()
	ch <- prometheus.MustNewConstMetric(c.pause, prometheus.GaugeValue, max(0, time.Until(until).Seconds()))
	ch <- prometheus.MustNewConstMetric(c.limit, prometheus.GaugeValue, float64(limit))
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if n, err := c.orders.Pending(ctx); err == nil {
		ch <- prometheus.MustNewConstMetric(c.pending, prometheus.GaugeValue, float64(n))
	} else {
		ch <- prometheus.NewInvalidMetric(c.pending, err)
	}
}
