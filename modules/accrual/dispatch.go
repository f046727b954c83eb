package accrual

import (
	"context"
	"log/slog"
	"math"
	"sync/atomic"
	"time"
)

// Who picks the next order: the dispatcher decides when to claim and how many; the queue decides
// which (Orders.Claim picks due orders fairly: orders never asked about before re-polls, and users
// taking turns, so one user's backlog never holds back another user's new order).
//
// The dispatcher claims a batch whenever the pool has room for one (a worker per order, plus one
// batch waiting), never more than the gate will let through soon (limiter.budget), and nothing while
// the gate is closed. It wakes up when told to (Worker.Wake: an upload here, or one another instance
// announced), when a worker frees, when the earliest pending order falls due, and at least every
// PollInterval.

// minWait keeps the dispatcher from spinning when rows are due but momentarily out of reach.
const minWait = 10 * time.Millisecond

// claimTimeout bounds one claim.
const claimTimeout = 5 * time.Second

// dispatcher feeds the pool with claimed orders. One goroutine runs it.
type dispatcher struct {
	cfg    Config
	orders Orders
	limit  *limiter
	leases *leases
	pool   *pool
	stats  *counters
	log    *slog.Logger
	// work runs one claimed order in its slot.
	work func(ctx, reqCtx context.Context, c claim, s *slot)

	wake    chan struct{} // capacity 1: work may be due
	planned atomic.Int64  // when the dispatcher looks at the queue next, unix nanoseconds
	waiting atomic.Int64  // claimed orders not started in a worker yet
	unsent  atomic.Int64  // claimed orders whose request has not gone out yet
}

// wakeup makes the dispatcher look at the queue now. It never blocks.
func (d *dispatcher) wakeup() {
	select {
	case d.wake <- struct{}{}:
	default:
	}
}

// due tells the dispatcher an order is due at at; it looks earlier than planned if need be.
func (d *dispatcher) due(at time.Time) {
	if at.UnixNano() < d.planned.Load() {
		d.wakeup()
	}
}

// run claims and starts orders until ctx ends, then waits for every started job.
func (d *dispatcher) run(ctx, reqCtx context.Context) {
	backlog := make(chan claim, 2*d.cfg.Workers)
	fed := make(chan struct{})
	go d.feed(ctx, reqCtx, backlog, fed)
	defer func() {
		close(backlog)
		<-fed
		d.pool.wait()
	}()
	for ctx.Err() == nil {
		d.planned.Store(math.MaxInt64) // mid-round: any order requeued now may be missed, so it wakes us
		wait, blocked := d.round(ctx, backlog)
		if wait <= 0 && !blocked {
			continue
		}
		var t *time.Timer
		var tc <-chan time.Time
		if wait > 0 {
			d.planned.Store(time.Now().Add(wait).UnixNano())
			t = time.NewTimer(wait)
			tc = t.C
		}
		var fc <-chan struct{}
		if blocked {
			fc = d.pool.freed
		}
		select {
		case <-ctx.Done():
		case <-d.wake:
		case <-tc:
		case <-fc:
		}
		if t != nil {
			t.Stop()
		}
	}
}

// feed starts each claimed order once a worker is free. An order that never starts (the worker is
// stopping) stays in the lease book, and Stop gives it back.
func (d *dispatcher) feed(ctx, reqCtx context.Context, backlog <-chan claim, fed chan<- struct{}) {
	defer close(fed)
	for c := range backlog {
		started := ctx.Err() == nil && d.pool.start(ctx, func(s *slot) {
			d.waiting.Add(-1)
			d.pool.signal() // it counted twice, waiting and busy, until now: a round may have seen no room
			d.work(ctx, reqCtx, c, s)
		})
		if !started {
			d.waiting.Add(-1)
			d.unsent.Add(-1)
		}
	}
}

// round claims what the pool and the gate allow and returns how long to sleep (0: go on at once),
// or blocked when only a freed worker can make room.
func (d *dispatcher) round(ctx context.Context, backlog chan<- claim) (time.Duration, bool) {
	if err := d.limit.refresh(ctx); err != nil {
		if ctx.Err() == nil {
			d.log.WarnContext(ctx, "accrual worker cannot read the shared pause", "err", err)
		}
		return time.Second, false
	}
	if wait := d.limit.delay(); wait > 0 {
		// Paused or paced: claiming now would only hold leases idle. Look again at least every
		// syncEvery, so that a pause cleared by an operator ends here within that long.
		return min(wait, syncEvery), false
	}
	busy := len(d.pool.workers) + int(d.waiting.Load())
	free := 2*d.cfg.Workers - busy
	if free < d.cfg.Workers {
		return 0, true // claim a whole batch once the pool has room for one
	}
	n := free
	if b := d.limit.budget(); b >= 0 {
		n = min(n, b-int(d.unsent.Load()))
	}
	if n <= 0 {
		return 50 * time.Millisecond, busy > 0
	}
	got, err := d.claim(ctx, n, backlog)
	if err != nil {
		if ctx.Err() == nil {
			d.log.WarnContext(ctx, "accrual worker cannot claim orders", "err", err)
		}
		return time.Second, false
	}
	if got == n {
		return 0, false // more may be due
	}
	next, ok, err := d.orders.NextDue(ctx)
	if err != nil {
		if ctx.Err() == nil {
			d.log.WarnContext(ctx, "accrual worker cannot read the queue", "err", err)
		}
		return time.Second, false
	}
	if !ok {
		return d.cfg.PollInterval, false
	}
	return min(max(time.Until(next), minWait), d.cfg.PollInterval), false
}

// claim leases up to n due orders and puts them in the backlog. The claim does not end with ctx:
// Stop cancels ctx, and a cancel landing after the claim committed would lose rows leased but never
// recorded as held, which would then wait a whole lease instead of being given back.
func (d *dispatcher) claim(ctx context.Context, n int, backlog chan<- claim) (int, error) {
	cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), claimTimeout)
	defer cancel()
	leaseEnd := time.Now().Add(d.cfg.Lease)
	token := d.leases.token()
	jobs, err := d.orders.Claim(cctx, token, n, d.cfg.Lease)
	for _, j := range jobs { // even on error: what was leased must be held, so that Stop gives it back
		d.leases.hold(j.Number, token)
		d.waiting.Add(1)
		d.unsent.Add(1)
		backlog <- claim{job: j, token: token, leaseEnd: leaseEnd} // never blocks: free bounds n
	}
	d.stats.claimed.Add(int64(len(jobs)))
	return len(jobs), err
}
