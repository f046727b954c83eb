package balance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// maxLoggedViolations caps the Error lines one check logs; the rest are counted in one more line.
const maxLoggedViolations = 100

// Reconciler checks the ledger invariant (Service.CheckLedger) every Config.ReconcileInterval
// while the app runs: each user who breaks it is logged at Error (a human must look), and the gauge
// gophermart_ledger_violations holds how many did at the last check (0 until the first; not
// exported when the check is off). The first check comes one interval after start, so a restart
// does not rescan the database. Every instance checks on its own. It is a prometheus.Collector.
// Safe for concurrent use.
type Reconciler struct {
	check    func(ctx context.Context) ([]Violation, error)
	interval time.Duration
	log      *slog.Logger
	gauge    prometheus.Gauge

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewReconciler returns the periodic ledger check of svc. It does nothing until Start.
func NewReconciler(cfg Config, svc *Service, log *slog.Logger) *Reconciler {
	return newReconciler(cfg, svc.CheckLedger, log)
}

func newReconciler(cfg Config, check func(context.Context) ([]Violation, error), log *slog.Logger) *Reconciler {
	return &Reconciler{
		check: check, interval: cfg.ReconcileInterval, log: log,
		gauge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "gophermart_ledger_violations",
			Help: "Users whose balance disagreed with their credits and withdrawals at the last periodic ledger check (0 until the first).",
		}),
	}
}

// Start starts checking every interval on a context of its own, until Stop. With no interval it
// does nothing.
func (r *Reconciler) Start(context.Context) error {
	if r.interval <= 0 {
		return nil
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.done != nil {
		return errors.New("ledger reconciler started twice")
	}
	ctx, cancel := context.WithCancel(context.Background())
	r.cancel, r.done = cancel, make(chan struct{})
	go r.run(ctx, r.done)
	r.log.Info("ledger reconciliation started", "interval", r.interval.String())
	return nil
}

// Stop stops checking, cancelling a check in progress, and waits for it until ctx ends.
func (r *Reconciler) Stop(ctx context.Context) error {
	r.mu.Lock()
	cancel, done := r.cancel, r.done
	r.mu.Unlock()
	if done == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop ledger reconciler: %w", ctx.Err())
	}
}

func (r *Reconciler) run(ctx context.Context, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(r.interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			r.reconcile(ctx)
		}
	}
}

// reconcile runs one check and reports what it found.
func (r *Reconciler) reconcile(ctx context.Context) {
	violations, err := r.check(ctx)
	if err != nil {
		if ctx.Err() == nil {
			r.log.WarnContext(ctx, "ledger check failed", "err", err)
		}
		return
	}
	r.gauge.Set(float64(len(violations)))
	for i, v := range violations {
		if i == maxLoggedViolations {
			r.log.ErrorContext(ctx, "ledger invariant broken for more users", "users", len(violations)-i)
			break
		}
		r.log.ErrorContext(ctx, "ledger invariant broken", "user_id", v.UserID, "detail", v.String(),
			"current", v.Current.String(), "withdrawn", v.Withdrawn.String(),
			"credited", v.Credited.String(), "spent", v.Spent.String())
	}
}

// Describe implements prometheus.Collector.
func (r *Reconciler) Describe(ch chan<- *prometheus.Desc) { r.gauge.Describe(ch) }

// Collect implements prometheus.Collector: nothing while the check is off.
func (r *Reconciler) Collect(ch chan<- prometheus.Metric) {
	if r.interval > 0 {
		r.gauge.Collect(ch)
	}
}
