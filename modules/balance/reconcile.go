package balance

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gophermart/gophermart/modules/platform/db"
)

// maxLoggedViolations caps the Error lines one check logs; the rest are counted in one more line.
const maxLoggedViolations = 100

// Reconciler checks the ledger invariant (Service.CheckLedger) every Config.ReconcileInterval
// while the app runs: each user who breaks it is logged at Error (a human must look), and the gauge
// gophermart_ledger_violations holds how many did at the last check (0 until the first; not
// exported when the check is off). The first check comes one interval after start, so a restart
// does not rescan the database.
//
// Several instances on one database check it once per interval between them, not once each: time
// is cut into slots of one interval (wall-clock time truncated to it), and each instance, when its
// ticker fires, first claims the slot it is in with one conditional upsert of a gm_settings row
// holding the newest slot claimed. The upsert is atomic on both engines (PostgreSQL's row lock,
// SQLite's single writer, also across processes sharing the file), so exactly one instance wins a
// slot and checks; the others skip it. Each instance ticks once per interval, so every slot gets a
// check as long as one instance runs. Clocks are assumed in sync: a skew between instances only
// moves a check within its interval. The gauge is each instance's own: the one that checked holds
// the count, the others keep theirs (so alert on its max across instances).
//
// It is a prometheus.Collector. Safe for concurrent use.
type Reconciler struct {
	check    func(ctx context.Context) ([]Violation, error)
	claim    func(ctx context.Context, slot time.Time) (bool, error)
	interval time.Duration
	log      *slog.Logger
	gauge    prometheus.Gauge

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewReconciler returns the periodic ledger check of svc. It does nothing until Start.
func NewReconciler(cfg Config, svc *Service, log *slog.Logger) *Reconciler {
	return newReconciler(cfg, svc.CheckLedger, claimSlot(svc.db), log)
}

// reconcileSetting names the gm_settings row that holds the newest slot an instance claimed.
const reconcileSetting = "ledger_check_slot"

// claimSlot claims slot on d for this instance: it reports true when no instance had claimed it
// (or a later one) yet. The slot is stored as its Unix time in nanoseconds, zero-padded to a fixed
// width, so that the text comparison orders slots like numbers.
func claimSlot(d *db.DB) func(ctx context.Context, slot time.Time) (bool, error) {
	return func(ctx context.Context, slot time.Time) (bool, error) {
		res := d.Conn(ctx).Exec(`INSERT INTO gm_settings (name, value) VALUES (?, ?)
			ON CONFLICT (name) DO UPDATE SET value = excluded.value WHERE gm_settings.value < excluded.value`,
			reconcileSetting, fmt.Sprintf("%020d", slot.UnixNano()))
		if res.Error != nil {
			return false, fmt.Errorf("claim the ledger check: %w", res.Error)
		}
		return res.RowsAffected == 1, nil
	}
}

func newReconciler(cfg Config, check func(context.Context) ([]Violation, error),
	claim func(context.Context, time.Time) (bool, error), log *slog.Logger,
) *Reconciler {
	return &Reconciler{
		check: check, claim: claim, interval: cfg.ReconcileInterval, log: log,
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
		case now := <-t.C:
			r.tick(ctx, now)
		}
	}
}

// tick checks the ledger unless another instance did already in the slot that holds now.
func (r *Reconciler) tick(ctx context.Context, now time.Time) {
	ok, err := r.claim(ctx, now.Truncate(r.interval))
	switch {
	case err != nil:
		if ctx.Err() == nil {
			r.log.WarnContext(ctx, "ledger check failed", "err", err)
		}
	case ok:
		r.reconcile(ctx)
	default:
		r.log.DebugContext(ctx, "ledger check skipped: another instance ran it in this interval")
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
