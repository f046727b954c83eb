package accrual

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"math/rand/v2"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
	"go.uber.org/fx"

	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/queue"
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

// Worker moves every pending order to a final status: it claims due orders from the durable queue
// in batches, asks the accrual system about each with a pool of goroutines, and records the answer;
// a PROCESSED answer is settled and credited in one transaction, exactly once. All goroutines go
// through one gate that honours the accrual system's 429 pauses and, once learned, its per-minute
// limit; both are shared with sibling instances through the database (the pause in
// gm_accrual_state, each send slot in gm_accrual_sends), so that all instances together stay within
// the limit. Safe for concurrent use.
type Worker struct {
	cfg    Config
	db     *db.DB
	orders Orders
	ledger Ledger
	tx     Tx
	client Client
	state  *stateStore
	gate   *gate
	log    *slog.Logger
	owner  string
	now    func() time.Time

	wake     chan struct{} // capacity 1: work may be due
	announce atomic.Bool   // a local upload that sibling instances should hear of
	synced   atomic.Int64  // when the shared pause was last read, unix nanoseconds
	planned  atomic.Int64  // when the dispatcher looks at the queue next, unix nanoseconds
	stats    counters

	claims atomic.Uint64 // counts this worker's claims, numbering their lease tokens

	mu       sync.Mutex
	held     map[ordernum.Number]string // orders leased and not yet given back -> the claim's lease token
	cancel   context.CancelFunc         // stops claiming and waiting
	abort    context.CancelFunc         // aborts in-flight requests
	done     chan struct{}              // closed when the pool has stopped
	listened chan struct{}              // closed when the listener has stopped
}

// NewWorker returns a Worker; it does nothing until Start.
func NewWorker(d Deps) *Worker {
	cfg := d.Config.withDefaults()
	now := func() time.Time { return time.Now().UTC() }
	return &Worker{
		cfg:    cfg,
		db:     d.DB,
		orders: d.Orders,
		ledger: d.Ledger,
		tx:     d.Tx,
		client: d.Client,
		state:  &stateStore{db: d.DB},
		gate:   newGate(cfg.RateWindow, now),
		log:    d.Log,
		owner:  uuid.NewString(),
		now:    now,
		wake:   make(chan struct{}, 1),
		held:   map[ordernum.Number]string{},
	}
}

// Owner is this worker's id, random per process. Each claim's lease token (gm_orders.lease_owner)
// is Owner, a colon and the claim's sequence number, so that a stale job of this worker can never
// end or renew a newer claim on the same order.
func (w *Worker) Owner() string { return w.owner }

// nextToken returns the lease token of a new claim.
func (w *Worker) nextToken() string {
	return w.owner + ":" + strconv.FormatUint(w.claims.Add(1), 10)
}

// Notify tells the worker that order n was just accepted: the dispatcher looks for due orders at
// once, and on PostgreSQL wakes sibling instances too. It never blocks.
func (w *Worker) Notify(ordernum.Number) {
	w.announce.Store(true)
	w.wakeup()
}

func (w *Worker) wakeup() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Start starts the dispatcher, the pool and (on PostgreSQL) the listener for sibling instances'
// notifications, all on their own context: they run until Stop.
func (w *Worker) Start(context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.done != nil {
		return errors.New("accrual worker started twice")
	}
	ctx, cancel := context.WithCancel(context.Background())
	reqCtx, abort := context.WithCancel(context.Background())
	w.cancel, w.abort = cancel, abort
	w.done, w.listened = make(chan struct{}), make(chan struct{})
	go w.run(ctx, reqCtx)
	if w.db.Dialect() == db.Postgres {
		go w.listen(ctx)
	} else {
		close(w.listened)
	}
	w.log.Info("accrual worker started", "owner", w.owner, "workers", w.cfg.Workers,
		"poll_interval", w.cfg.PollInterval.String())
	return nil
}

// Stop stops claiming, lets in-flight requests finish and record their answers (aborting them when
// ctx ends first), then gives back every lease still held so that another instance, or the next
// start, asks about those orders at once.
func (w *Worker) Stop(ctx context.Context) error {
	w.mu.Lock()
	cancel, abort, done, listened := w.cancel, w.abort, w.done, w.listened
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
	<-listened
	held := w.heldByToken()
	if len(held) == 0 {
		w.log.Info("accrual worker stopped")
		return nil
	}
	rctx, rcancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer rcancel()
	var released int64
	for token, numbers := range held {
		n, err := w.orders.Release(rctx, token, numbers, w.now())
		if err != nil {
			return err // the leases expire by themselves
		}
		released += n
	}
	w.log.Info("accrual worker stopped", "released", released)
	return nil
}

// claimed is a job with its claim's lease token and the time its lease ends.
type claimed struct {
	job      queue.Job
	token    string
	leaseEnd time.Time
}

// run is the dispatcher: it claims due orders whenever the pool has room and hands them to the pool.
func (w *Worker) run(ctx, reqCtx context.Context) {
	defer close(w.done)
	capacity := 2 * w.cfg.Workers // claimed and not finished: the pool plus one batch waiting
	jobs := make(chan claimed, capacity)
	freed := make(chan struct{}, 1)
	var outstanding, unsent atomic.Int64
	var wg sync.WaitGroup
	for range w.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for c := range jobs {
				if ctx.Err() == nil {
					w.process(ctx, reqCtx, c, &unsent)
				} else {
					unsent.Add(-1) // never started: Stop gives its lease back
				}
				outstanding.Add(-1)
				select {
				case freed <- struct{}{}:
				default:
				}
			}
		}()
	}
	defer func() {
		close(jobs)
		wg.Wait()
	}()

	for ctx.Err() == nil {
		w.planned.Store(math.MaxInt64) // mid-round: any order requeued now may be missed, so it wakes us
		wait, blocked := w.round(ctx, jobs, capacity, &outstanding, &unsent)
		if wait <= 0 && !blocked {
			continue
		}
		if wait > 0 {
			w.planned.Store(time.Now().Add(wait).UnixNano())
		}
		var t *time.Timer
		var tc <-chan time.Time
		if wait > 0 {
			t = time.NewTimer(wait)
			tc = t.C
		}
		var fc <-chan struct{}
		if blocked {
			fc = freed
		}
		select {
		case <-ctx.Done():
		case <-w.wake:
		case <-tc:
		case <-fc:
		}
		if t != nil {
			t.Stop()
		}
	}
}

// minWait keeps the dispatcher from spinning when rows are due but momentarily out of reach.
const minWait = 10 * time.Millisecond

// round claims what the pool and the gate allow and returns how long to sleep (0: go on at once),
// or blocked when only a finishing job can make room.
func (w *Worker) round(ctx context.Context, jobs chan<- claimed, capacity int, outstanding, unsent *atomic.Int64) (time.Duration, bool) {
	if err := w.syncPause(ctx); err != nil {
		if ctx.Err() == nil {
			w.log.WarnContext(ctx, "accrual worker cannot read the shared pause", "err", err)
		}
		return time.Second, false
	}
	if d := w.gate.delay(); d > 0 {
		return d, false // paused or paced: claiming now would only hold leases idle
	}
	free := capacity - int(outstanding.Load())
	if free < w.cfg.Workers {
		return 0, true // claim a whole batch once the pool has room for one
	}
	n := free
	if b := w.gate.budget(); b >= 0 {
		n = min(n, b-int(unsent.Load()))
	}
	if n <= 0 {
		return 50 * time.Millisecond, outstanding.Load() > 0
	}
	leaseEnd := w.now().Add(w.cfg.Lease)
	token := w.nextToken()
	got, err := w.claim(ctx, token, n)
	for _, j := range got { // even on error: what was leased must be held, so that Stop gives it back
		w.hold(j.Number, token)
		outstanding.Add(1)
		unsent.Add(1)
		jobs <- claimed{job: j, token: token, leaseEnd: leaseEnd} // never blocks: capacity bounds outstanding
	}
	if err != nil {
		if ctx.Err() == nil {
			w.log.WarnContext(ctx, "accrual worker cannot claim orders", "err", err)
		}
		return time.Second, false
	}
	w.stats.claimed.Add(int64(len(got)))
	if w.announce.Swap(false) {
		if err := NotifyDue(ctx, w.db, w.owner); err != nil && ctx.Err() == nil {
			w.log.WarnContext(ctx, "accrual worker cannot notify sibling instances", "err", err)
		}
	}
	if len(got) == n {
		return 0, false // more may be due
	}
	next, ok, err := w.orders.NextDue(ctx)
	if err != nil {
		if ctx.Err() == nil {
			w.log.WarnContext(ctx, "accrual worker cannot read the queue", "err", err)
		}
		return time.Second, false
	}
	if !ok {
		return w.cfg.PollInterval, false
	}
	return min(max(next.Sub(w.now()), minWait), w.cfg.PollInterval), false
}

// claimTimeout bounds one claim.
const claimTimeout = 5 * time.Second

// claim leases up to n due orders under token. It does not end with ctx: Stop cancels ctx, and a
// cancel landing after the claim committed would lose rows leased but never recorded as held, which
// would then wait a whole lease instead of being given back.
func (w *Worker) claim(ctx context.Context, token string, n int) ([]queue.Job, error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), claimTimeout)
	defer cancel()
	return w.orders.Claim(cctx, token, n, w.cfg.Lease)
}

// syncPause adopts the pause and limit sibling instances recorded.
func (w *Worker) syncPause(ctx context.Context) error {
	w.synced.Store(time.Now().UnixNano())
	until, limit, err := w.state.load(ctx)
	if err != nil {
		return err
	}
	w.gate.pause(until, limit)
	return nil
}

// syncEvery is how stale the shared pause may be when a request goes out: a sibling instance's 429
// stops this one within about this long, even in the middle of a batch.
const syncEvery = 250 * time.Millisecond

// refreshPause re-reads the shared pause when it is older than syncEvery (one goroutine does it).
func (w *Worker) refreshPause(ctx context.Context) {
	last := w.synced.Load()
	if time.Now().UnixNano()-last < int64(syncEvery) || !w.synced.CompareAndSwap(last, time.Now().UnixNano()) {
		return
	}
	if err := w.syncPause(ctx); err != nil && ctx.Err() == nil {
		w.log.WarnContext(ctx, "accrual worker cannot read the shared pause", "err", err)
	}
}

// process asks about one claimed order until it has an answer to record, or gives the order back.
func (w *Worker) process(ctx, reqCtx context.Context, c claimed, unsent *atomic.Int64) {
	job := c.job
	sent := false
	defer func() {
		if !sent {
			unsent.Add(-1)
		}
	}()
	leaseEnd := c.leaseEnd
	// The lease is renewed right before every request, so a job may wait for the gate as long as its
	// lease lasts, less the time a renewal may take.
	margin := min(time.Second, w.cfg.Lease/4)
	for try := 0; ; {
		deadline := leaseEnd.Add(-margin)
		w.refreshPause(ctx)
		if err := w.gate.wait(ctx, deadline); err != nil {
			var he *holdError
			if errors.As(err, &he) { // do not sit on the lease: due again when the gate opens
				w.requeue(reqCtx, c, job.Processing, job.Attempts, w.now().Add(he.wait))
			}
			return // or stopping: Stop gives the lease back
		}
		end := w.now().Add(w.cfg.Lease)
		wait, ok, err := w.admit(ctx, c)
		if err != nil {
			w.gate.unreserve()
			if ctx.Err() == nil {
				w.log.WarnContext(ctx, "cannot reserve the request or renew its lease; not sent", "order", string(job.Number), "err", err)
			}
			return // the lease stays held: Stop gives it back, or it expires
		}
		if wait > 0 { // every shared slot is taken: back to the gate, closed here until one frees
			w.gate.unreserve()
			w.gate.holdUntil(w.now().Add(wait))
			continue
		}
		if !ok { // expired: someone else's now, or due again; either way not ours to ask about
			w.gate.unreserve()
			w.stats.leaseLost.Add(1)
			w.release(job.Number, c.token)
			w.log.WarnContext(ctx, "order lease expired before its request; dropped", "order", string(job.Number))
			return
		}
		leaseEnd = end
		if !sent {
			sent = true
			unsent.Add(-1)
		}
		w.stats.requests.Add(1)
		res, err := w.client.Order(reqCtx, job.Number)
		var rl *RateLimitedError
		var bad *BadAnswerError
		switch {
		case err == nil:
			w.apply(reqCtx, c, res)
			return
		case errors.Is(err, ErrNotRegistered):
			w.stats.notRegistered.Add(1)
			a := job.Attempts + 1
			w.requeue(reqCtx, c, false, a, w.now().Add(w.backoff(a-1, 2)))
			return
		case errors.As(err, &rl):
			w.stats.rateLimited.Add(1)
			w.rateLimited(reqCtx, rl)
			continue // back to the gate; not a failed try
		case errors.As(err, &bad): // asking again at once would get the same answer
			w.stats.badAnswers.Add(1)
			a := job.Attempts + 1
			w.log.ErrorContext(ctx, "accrual system answered an impossible accrual; order rescheduled",
				"order", string(job.Number), "user_id", job.UserID, "err", err, "attempts", a)
			w.requeue(reqCtx, c, job.Processing, a, w.now().Add(w.backoff(a-1, 2)))
			return
		}
		if reqCtx.Err() != nil {
			return // aborted by Stop
		}
		w.stats.failures.Add(1)
		delay := w.retryDelay(try)
		if try < w.cfg.MaxRetries && !w.now().Add(delay).After(leaseEnd.Add(-margin)) {
			w.log.DebugContext(ctx, "accrual request failed; retrying", "order", string(job.Number), "err", err,
				"retry", try+1)
			try++
			if !sleep(ctx, delay) {
				return
			}
			continue
		}
		a := job.Attempts + 1
		w.log.WarnContext(ctx, "accrual system failing; order rescheduled", "order", string(job.Number),
			"err", err, "attempts", a)
		w.requeue(reqCtx, c, false, a, w.now().Add(w.backoff(a-1, 2)))
		return
	}
}

// errLeaseLost rolls back a send slot reserved for a request whose lease could not be renewed.
var errLeaseLost = errors.New("order lease lost")

// admit readies c's request: once the accrual system's limit is known it takes one of the send
// slots every instance shares (or returns how long until one frees), and it renews c's lease right
// before the request, so that the request (bounded by RequestTimeout < Lease) always ends inside the
// lease and nobody else asks about the order meanwhile. It reports false when the lease had expired.
func (w *Worker) admit(ctx context.Context, c claimed) (time.Duration, bool, error) {
	_, limit := w.gate.state()
	if limit <= 0 {
		ok, err := w.orders.Renew(ctx, c.job.Number, c.token, w.cfg.Lease)
		return 0, ok, err
	}
	var wait time.Duration
	err := w.tx.InTx(ctx, func(ctx context.Context) error {
		var err error
		if wait, err = w.state.reserveSend(ctx, limit, w.gate.window, w.now()); err != nil || wait > 0 {
			return err
		}
		ok, err := w.orders.Renew(ctx, c.job.Number, c.token, w.cfg.Lease)
		if err == nil && !ok {
			return errLeaseLost
		}
		return err
	})
	switch {
	case errors.Is(err, errLeaseLost):
		return 0, false, nil
	case err != nil:
		return 0, false, err
	}
	return wait, wait == 0, nil
}

// apply records an answer.
func (w *Worker) apply(ctx context.Context, c claimed, res Result) {
	job := c.job
	switch res.Status {
	case StatusRegistered, StatusProcessing:
		a := 0 // attempts count from the status change
		if job.Processing {
			a = job.Attempts + 1
		}
		w.requeue(ctx, c, true, a, w.now().Add(w.backoff(a, 1.5)))
	case StatusInvalid:
		changed, err := w.orders.MarkInvalid(ctx, job.Number)
		if err != nil {
			w.log.ErrorContext(ctx, "cannot record invalid order", "order", string(job.Number), "err", err)
			return
		}
		w.release(job.Number, c.token)
		if changed {
			w.stats.invalid.Add(1)
			w.log.InfoContext(ctx, "order invalid", "order", string(job.Number), "user_id", job.UserID)
		}
	case StatusProcessed:
		w.settle(ctx, c, res)
	}
}

// settle makes the order PROCESSED and credits its owner in one transaction; only the call that
// moves the order out of a pending status credits, so re-polls and duplicates credit nothing.
func (w *Worker) settle(ctx context.Context, c claimed, res Result) {
	job := c.job
	var changed bool
	err := w.tx.InTx(ctx, func(ctx context.Context) error {
		ok, err := w.orders.MarkProcessed(ctx, job.Number, res.Accrual)
		if err != nil || !ok {
			return err
		}
		changed = true
		if res.Accrual != nil { // zero too: the credit row keeps settling idempotent
			return w.ledger.Credit(ctx, job.UserID, job.Number, *res.Accrual)
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return // aborted by Stop: the lease is given back
		}
		a := job.Attempts + 1
		w.log.ErrorContext(ctx, "cannot settle processed order; rescheduled", "order", string(job.Number),
			"user_id", job.UserID, "err", err)
		w.requeue(ctx, c, job.Processing, a, w.now().Add(w.backoff(a-1, 2)))
		return
	}
	w.release(job.Number, c.token)
	if changed {
		w.stats.processed.Add(1)
		var amount string
		if res.Accrual != nil {
			amount = res.Accrual.String()
			w.stats.credited.Add(int64(*res.Accrual))
		}
		w.log.InfoContext(ctx, "order processed", "order", string(job.Number), "user_id", job.UserID,
			"amount", amount)
	}
}

// requeue gives the order back, due at at, if c's claim still holds it.
func (w *Worker) requeue(ctx context.Context, c claimed, processing bool, attempts int, at time.Time) {
	job := c.job
	ok, err := w.orders.Requeue(ctx, job.Number, c.token, processing, attempts, at)
	if err != nil {
		if ctx.Err() == nil {
			w.log.ErrorContext(ctx, "cannot reschedule order", "order", string(job.Number), "err", err)
		}
		return // the lease stays held: Stop gives it back, or it expires
	}
	w.release(job.Number, c.token)
	w.stats.requeued.Add(1)
	if at.UnixNano() < w.planned.Load() {
		w.wakeup() // due before the dispatcher planned to look
	}
	if !ok {
		w.log.WarnContext(ctx, "order lease lost before its answer was recorded", "order", string(job.Number))
	}
}

// rateLimited closes the gate for the whole pool and, through the database, for sibling instances.
func (w *Worker) rateLimited(ctx context.Context, rl *RateLimitedError) {
	until := w.now().Add(rl.RetryAfter)
	before, _ := w.gate.state()
	w.gate.pause(until, rl.Limit)
	if err := w.state.pause(ctx, until, rl.Limit); err != nil && ctx.Err() == nil {
		w.log.WarnContext(ctx, "cannot share the accrual pause", "err", err)
	}
	if until.After(before) {
		w.log.WarnContext(ctx, "accrual system rate limit: every request paused", "retry_after",
			rl.RetryAfter.String(), "limit_per_minute", rl.Limit)
	}
}

// retryDelay is RetryBackoff doubled try times, capped by MaxBackoff; it never overflows.
func (w *Worker) retryDelay(try int) time.Duration {
	d := min(w.cfg.RetryBackoff, w.cfg.MaxBackoff)
	for range max(try, 0) {
		if d >= w.cfg.MaxBackoff/2 {
			return w.cfg.MaxBackoff
		}
		d *= 2
	}
	return d
}

// backoff is MinBackoff grown by factor per step, capped by MaxBackoff, less up to 10 % of jitter so
// that orders asked together spread out.
func (w *Worker) backoff(step int, factor float64) time.Duration {
	d := float64(w.cfg.MaxBackoff)
	if step < 200 {
		d = math.Min(d, float64(w.cfg.MinBackoff)*math.Pow(factor, float64(max(step, 0))))
	}
	return time.Duration(d * (0.9 + 0.1*rand.Float64())) //nolint:gosec // jitter needs no secure randomness
}

// listen wakes the dispatcher when a sibling instance (or `gophermart resync`) announces due orders.
func (w *Worker) listen(ctx context.Context) {
	defer close(w.listened)
	for ctx.Err() == nil {
		err := listenDue(ctx, w.db, w.wakeup, func(from string) {
			if from != w.owner {
				w.wakeup()
			}
		})
		if err != nil {
			w.log.WarnContext(ctx, "accrual worker lost its notification connection; reconnecting", "err", err)
		}
		sleep(ctx, time.Second)
	}
}

// hold records that token's claim leased n (replacing an older claim of this worker on n).
func (w *Worker) hold(n ordernum.Number, token string) {
	w.mu.Lock()
	w.held[n] = token
	w.mu.Unlock()
}

// release forgets n, unless a newer claim than token's holds it.
func (w *Worker) release(n ordernum.Number, token string) {
	w.mu.Lock()
	if w.held[n] == token {
		delete(w.held, n)
	}
	w.mu.Unlock()
}

// heldByToken returns the orders held, by lease token.
func (w *Worker) heldByToken() map[string][]ordernum.Number {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string][]ordernum.Number{}
	for n, token := range w.held {
		out[token] = append(out[token], n)
	}
	return out
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
	Failures      int64 // failed requests: 5xx, unexpected answers, network errors
	BadAnswers    int64 // answers with an impossible accrual (negative, too large): a human must look
	Requeued      int64 // orders given back to the queue to be asked again later
	LeaseLost     int64 // claimed orders dropped unasked because their lease had expired
}

type counters struct {
	claimed, requests, processed, credited, invalid, notRegistered, rateLimited, failures, requeued,
	leaseLost, badAnswers atomic.Int64
}

// RateLimit returns until when every request is paused (zero or past: not paused) and the
// accrual system's per-minute limit as last learned (0: unknown), for metrics.
func (w *Worker) RateLimit() (pausedUntil time.Time, limitPerMinute int) { return w.gate.state() }

// Stats returns the counters so far.
func (w *Worker) Stats() Stats {
	s := &w.stats
	return Stats{
		Claimed: s.claimed.Load(), Requests: s.requests.Load(), Processed: s.processed.Load(),
		Credited: s.credited.Load(), Invalid: s.invalid.Load(), NotRegistered: s.notRegistered.Load(),
		RateLimited: s.rateLimited.Load(), Failures: s.failures.Load(), Requeued: s.requeued.Load(),
		LeaseLost: s.leaseLost.Load(), BadAnswers: s.badAnswers.Load(),
	}
}
