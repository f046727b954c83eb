package accrual

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.uber.org/fx"

	"github.com/gophermart/gophermart/modules/platform/db"
)

// Deps is what a Worker needs.
type Deps struct {
	fx.In

	Config Config
	DB     *db.DB
	Orders Orders
	Ledger Ledger
	Tx     Tx
	Client Client
	Log    *slog.Logger
}

// Worker moves every pending order to a final status. It is made of parts with one job each:
//
//	dispatch.go  the dispatcher: when to claim due orders, and how many
//	pool.go      the pool: a worker per order, and a slow lane so that slow answers never stall it
//	ask.go       the asker: one ask with its retries, from the gate to an outcome
//	limit.go     the gate: the shared 429 pause and the pacing to the learned limit
//	settle.go    the settler: an outcome to a status, a credit (exactly once) or a backoff
//	lease.go     the lease book: per-claim tokens, and giving everything back at stop
//
// Safe for concurrent use.
type Worker struct {
	cfg      Config
	log      *slog.Logger
	owner    string
	stats    counters
	limit    *limiter
	leases   *leases
	orders   Orders
	dispatch *dispatcher
	ask      *asker
	settle   *settler

	mu     sync.Mutex
	cancel context.CancelFunc // stops claiming and waiting
	abort  context.CancelFunc // aborts in-flight requests
	done   chan struct{}      // closed when the pool has stopped
}

// NewWorker returns a Worker; it does nothing until Start.
func NewWorker(d Deps) *Worker {
	cfg := d.Config.withDefaults()
	w := &Worker{cfg: cfg, log: d.Log, owner: uuid.NewString(), orders: d.Orders}
	w.limit = newLimiter(cfg.RateWindow, &stateStore{db: d.DB})
	w.leases = newLeases(w.owner)
	w.ask = &asker{cfg: cfg, client: d.Client, orders: d.Orders, tx: d.Tx, limit: w.limit, stats: &w.stats, log: d.Log}
	w.dispatch = &dispatcher{
		cfg: cfg, orders: d.Orders, limit: w.limit, leases: w.leases, pool: newPool(cfg.Workers),
		stats: &w.stats, log: d.Log, work: w.work, wake: make(chan struct{}, 1),
	}
	w.settle = &settler{
		cfg: cfg, orders: d.Orders, ledger: d.Ledger, tx: d.Tx, leases: w.leases, stats: &w.stats, log: d.Log,
		due: w.dispatch.due, paced: w.limit.paced,
	}
	return w
}

// Owner is this worker's id, random per process; each claim's lease token starts with it.
func (w *Worker) Owner() string { return w.owner }

// Wake makes the worker look for due orders now (an order was just accepted, here or, as another
// instance announced, elsewhere) instead of at its next poll. It never blocks.
func (w *Worker) Wake() { w.dispatch.wakeup() }

// work asks about one claimed order and records the outcome.
func (w *Worker) work(ctx, reqCtx context.Context, c claim, s *slot) {
	o := w.ask.ask(ctx, reqCtx, c, s)
	w.dispatch.unsent.Add(-1)
	w.settle.record(reqCtx, c, o)
}

// Start starts the dispatcher on its own contexts: it runs until Stop.
func (w *Worker) Start(context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done != nil {
		return errors.New("accrual worker started twice")
	}
	ctx, cancel := context.WithCancel(context.Background())
	reqCtx, abort := context.WithCancel(context.Background())
	w.cancel, w.abort = cancel, abort
	w.done = make(chan struct{})
	go func() {
		defer close(w.done)
		w.dispatch.run(ctx, reqCtx)
	}()
	w.log.Info("accrual worker started", "owner", w.owner, "workers", w.cfg.Workers,
		"poll_interval", w.cfg.PollInterval.String())
	return nil
}

// releaseTimeout bounds giving the leases back at stop.
const releaseTimeout = 5 * time.Second

// Stop stops claiming, lets in-flight requests finish and record their answers (aborting them when
// ctx ends first), then gives back every lease still held so that another instance, or the next
// start, asks about those orders at once.
func (w *Worker) Stop(ctx context.Context) error {
	w.mu.Lock()
	cancel, abort, done := w.cancel, w.abort, w.done
	w.mu.Unlock()
	if done == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
	case <-ctx.Done():
		abort()
		<-done
	}
	abort()
	if w.leases.count() == 0 {
		w.log.Info("accrual worker stopped")
		return nil
	}
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer rcancel()
	released, err := w.leases.releaseAll(rctx, w.orders, time.Now())
	if err != nil {
		return err // what was not given back returns when its lease expires
	}
	w.log.Info("accrual worker stopped", "released", released)
	return nil
}

// sleep waits d or until ctx ends; it reports whether the whole d passed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Stats counts what a Worker did since it was made (for metrics).
type Stats struct {
	Claimed       int64 // orders claimed from the queue
	Requests      int64 // requests sent to the accrual system
	Processed     int64 // orders this worker made PROCESSED
	Credited      int64 // hundredths of points credited by this worker
	Invalid       int64 // orders this worker made INVALID
	NotRegistered int64 // 204 answers
	RateLimited   int64 // 429 answers
	Failures      int64 // failed requests other than timeouts and redirects: 5xx, network errors, nonsense
	Timeouts      int64 // requests that ran out of their deadline (slow or dripping answers)
	Redirects     int64 // 3xx answers, never followed
	BadAnswers    int64 // answers with an impossible accrual (negative, too large): a human must look
	Requeued      int64 // orders given back to the queue to be asked again later
	LeaseLost     int64 // claimed orders dropped unasked because their lease had expired
}

type counters struct {
	claimed, requests, processed, credited, invalid, notRegistered, rateLimited, failures, timeouts,
	redirects, requeued, leaseLost, badAnswers atomic.Int64
}

// countFailure counts a failed request by its kind.
func (c *counters) countFailure(err error) {
	switch {
	case isTimeout(err):
		c.timeouts.Add(1)
	case isRedirect(err):
		c.redirects.Add(1)
	default:
		c.failures.Add(1)
	}
}

// RateLimit returns until when every request is paused (zero or past: not paused) and the
// accrual system's per-minute limit as last learned (0: unknown), for metrics.
func (w *Worker) RateLimit() (pausedUntil time.Time, limitPerMinute int) { return w.limit.snapshot() }

// Stats returns the counters so far.
func (w *Worker) Stats() Stats {
	s := &w.stats
	return Stats{
		Claimed: s.claimed.Load(), Requests: s.requests.Load(), Processed: s.processed.Load(),
		Credited: s.credited.Load(), Invalid: s.invalid.Load(), NotRegistered: s.notRegistered.Load(),
		RateLimited: s.rateLimited.Load(), Failures: s.failures.Load(), Timeouts: s.timeouts.Load(),
		Redirects: s.redirects.Load(), Requeued: s.requeued.Load(), LeaseLost: s.leaseLost.Load(),
		BadAnswers: s.badAnswers.Load(),
	}
}
