package accrual

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"
)

// What happens on a 429: the asker that got it calls limiter.rateLimited, which closes the gate for
// every goroutine of this instance until Retry-After (capped by Config.MaxRetryAfter) has passed,
// records the pause and the limit N from the answer's body in gm_accrual_state for sibling
// instances, and from then on paces this instance to N requests per window. Sibling instances adopt
// the pause and the limit when they next read gm_accrual_state (at most syncEvery later). Because
// each instance paces itself to N, every send also takes one of the N slots per window kept in
// gm_accrual_sends, so that all instances together stay within N (see admit in ask.go).

// syncEvery is how stale this instance's copy of the shared pause may be when a request goes out: a
// sibling instance's 429 stops this one within about this long.
const syncEvery = 250 * time.Millisecond

// lookahead is how far ahead of the pacing the dispatcher claims orders: the orders it may send
// within this long. Claiming more would hold leases while the orders wait at the gate.
const lookahead = time.Second

// maxHistory bounds the send times kept while no limit is known; once N is learned they count.
const maxHistory = 10_000

// limiter is the one door every request of an instance goes through: closed during a 429 pause and
// while the send slots shared with sibling instances are taken, and, once the accrual system has told
// its limit N, holding two rules at once:
//
//   - never more than N sends in any window, counting the sends made before N was known (the burst
//     that earned the 429; as the burst may have come from sibling instances too, a 429 counts the
//     whole window as spent): a server counting fixed windows and one counting sliding windows are
//     both satisfied;
//   - sends paced evenly, N per window, with golang.org/x/time/rate: an order uploaded mid-window
//     waits a pacing interval, not until the next window, and one user's backlog cannot spend a
//     whole window's budget at once ahead of another user's order.
//
// Safe for concurrent use.
type limiter struct {
	window time.Duration // the rate window, padded (see newLimiter)
	state  *stateStore
	synced atomic.Int64 // when the shared state was last read, unix nanoseconds

	mu         sync.Mutex
	pauseUntil time.Time
	notBefore  time.Time     // the send slots shared through the database are taken until then
	limit      int           // N, 0 while unknown
	pace       *rate.Limiter // nil while N is unknown
	sends      []time.Time   // send times within the last window, oldest first
	stored     time.Time     // the shared pause end as last read from the database
}

// newLimiter paces to N per window plus a slack of 1/60 of it (a second a minute): a request leaves
// here before the accrual system receives it, so pacing to the exact window lets a request land a few
// milliseconds inside the server's previous window.
func newLimiter(window time.Duration, state *stateStore) *limiter {
	return &limiter{window: window + window/60, state: state}
}

// holdError says the gate would keep a request waiting longer than its caller may wait.
type holdError struct{ wait time.Duration }

func (e *holdError) Error() string { return fmt.Sprintf("accrual gate closed for %s", e.wait) }

// ticket is one request let through the gate. cancel, for a request that did not go after all,
// gives back this ticket's own send time, never another's; the pacing interval it waited for is not
// given back (the rate limiter restores only reservations whose time has not come).
type ticket struct {
	l  *limiter
	at time.Time
	r  *rate.Reservation
}

func (t ticket) cancel() {
	if t.l == nil {
		return
	}
	t.l.mu.Lock()
	defer t.l.mu.Unlock()
	for i := len(t.l.sends) - 1; i >= 0; i-- {
		if t.l.sends[i].Equal(t.at) { // equal send times are interchangeable
			t.l.sends = append(t.l.sends[:i], t.l.sends[i+1:]...)
			break
		}
	}
	if t.r != nil {
		t.r.Cancel()
	}
}

// closedLocked returns how long the gate stays closed before pacing: a pause, taken shared slots, or
// N sends already within the window.
func (l *limiter) closedLocked(now time.Time) time.Duration {
	d := max(l.pauseUntil.Sub(now), l.notBefore.Sub(now), 0)
	l.pruneLocked(now)
	if l.limit > 0 && len(l.sends) >= l.limit {
		// The oldest of the last N sends leaves the window first.
		d = max(d, l.sends[len(l.sends)-l.limit].Add(l.window).Sub(now))
	}
	return d
}

func (l *limiter) pruneLocked(now time.Time) {
	cut := now.Add(-l.window)
	i := 0
	for i < len(l.sends) && !l.sends[i].After(cut) {
		i++
	}
	l.sends = l.sends[i:]
}

// delay returns how long until a request may go (0: now), without reserving anything.
func (l *limiter) delay() time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	d := l.closedLocked(now)
	if d == 0 && l.pace != nil {
		r := l.pace.ReserveN(now, 1)
		d = r.DelayFrom(now)
		r.CancelAt(now)
	}
	return d
}

// budget returns how many orders are worth claiming now: 0 while the gate is closed, those the
// pacing lets through within lookahead once N is known, -1 (no bound) before.
func (l *limiter) budget() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if l.closedLocked(now) > 0 {
		return 0
	}
	if l.pace == nil {
		return -1
	}
	return min(int(float64(l.pace.Limit())*lookahead.Seconds())+1, l.limit-len(l.sends))
}

// wait blocks until a request may go and returns its ticket. When the gate would stay closed past
// deadline it returns a *holdError at once, reserving nothing; when ctx ends, ctx's error.
func (l *limiter) wait(ctx context.Context, deadline time.Time) (ticket, error) {
	for {
		l.mu.Lock()
		now := time.Now()
		d := l.closedLocked(now)
		var r *rate.Reservation
		if d == 0 && l.pace != nil {
			r = l.pace.ReserveN(now, 1)
			d = r.DelayFrom(now)
		}
		if now.Add(d).After(deadline) {
			if r != nil {
				r.CancelAt(now)
			}
			l.mu.Unlock()
			return ticket{}, &holdError{wait: d}
		}
		if d == 0 {
			return l.sendLocked(now, r), nil
		}
		l.mu.Unlock()
		if r == nil {
			// Closed: look again after at most syncEvery, since an operator may clear the pause
			// meanwhile; a pacing slot is still to be taken then.
			if !sleep(ctx, min(d, syncEvery)) {
				return ticket{}, ctx.Err()
			}
			continue
		}
		if !sleep(ctx, d) { // this request's turn in the pacing
			r.Cancel()
			return ticket{}, ctx.Err()
		}
		l.mu.Lock()
		now = time.Now()
		if l.closedLocked(now) == 0 { // no 429 meanwhile, and the window has room
			return l.sendLocked(now, r), nil
		}
		l.mu.Unlock()
	}
}

// sendLocked records a send at now and unlocks.
func (l *limiter) sendLocked(now time.Time, r *rate.Reservation) ticket {
	defer l.mu.Unlock()
	l.sends = append(l.sends, now)
	if keep := max(maxHistory, l.limit); len(l.sends) > keep {
		l.sends = l.sends[len(l.sends)-keep:]
	}
	return ticket{l: l, at: now, r: r}
}

// holdUntil keeps every request waiting until t (unless held longer already): the send slots every
// instance shares are taken until then, so asking the database before would be a wasted round trip.
func (l *limiter) holdUntil(t time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if t.After(l.notBefore) {
		l.notBefore = t
	}
}

// adopt closes the gate until until (unless it is closed longer already) and, when limit > 0,
// paces requests to limit per window from now on.
func (l *limiter) adopt(until time.Time, limit int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if until.After(l.pauseUntil) {
		l.pauseUntil = until
	}
	if limit > 0 && limit != l.limit {
		l.limit = limit
		every := rate.Every(l.window / time.Duration(limit))
		if l.pace == nil {
			l.pace = rate.NewLimiter(every, 1)
		} else {
			l.pace.SetLimit(every)
		}
	}
}

// snapshot returns the pause end and the known limit N (0: unknown).
func (l *limiter) snapshot() (time.Time, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pauseUntil, l.limit
}

// sync adopts the pause and limit recorded in the database. A stored pause that an operator cleared
// (`gophermart resync`) ends this instance's pause too: the stored pause is only ever extended, so
// it goes from set to unset only by that command.
func (l *limiter) sync(ctx context.Context) error {
	l.synced.Store(time.Now().UnixNano())
	until, limit, err := l.state.load(ctx)
	if err != nil {
		return err
	}
	l.mu.Lock()
	// Cleared by an operator: end the pause and forget the window's sends, and the wait for shared
	// slots (ClearPause deleted them). A pause longer than the one last stored came from a 429 here that the database
	// may not show yet: it stays.
	// (The database keeps microseconds: compare at that precision.)
	if until.IsZero() && !l.stored.IsZero() && !l.pauseUntil.Truncate(time.Microsecond).After(l.stored) {
		l.pauseUntil, l.notBefore = time.Time{}, time.Time{}
		l.sends = l.sends[:0]
	}
	l.stored = until
	l.mu.Unlock()
	l.adopt(until, limit)
	return nil
}

// refresh re-reads the shared state when this instance's copy is older than syncEvery; one goroutine
// at a time does it, the others go on with the copy they have.
func (l *limiter) refresh(ctx context.Context) error {
	last := l.synced.Load()
	now := time.Now().UnixNano()
	if now-last < int64(syncEvery) || !l.synced.CompareAndSwap(last, now) {
		return nil
	}
	return l.sync(ctx)
}

// rateLimited closes the gate for this instance and, through the database, for its siblings; it
// reports whether the pause got longer (a 429 answered to several requests at once extends it once).
func (l *limiter) rateLimited(ctx context.Context, rl *RateLimitedError) (bool, error) {
	now := time.Now()
	until := now.Add(rl.RetryAfter)
	before, _ := l.snapshot()
	l.adopt(until, rl.Limit)
	if rl.Limit > 0 {
		l.spendWindow(now)
	}
	// One transaction, so that an operator's ClearPause comes wholly before or after it.
	err := l.state.db.InTx(ctx, func(ctx context.Context) error {
		if err := l.state.pause(ctx, until, rl.Limit); err != nil || rl.Limit <= 0 {
			return err
		}
		return l.state.fillSends(ctx, rl.Limit, l.window, now)
	})
	if err == nil {
		l.mu.Lock()
		if until.After(l.stored) {
			l.stored = until // the database holds this pause now, or a longer one
		}
		l.mu.Unlock()
	}
	return until.After(before), err
}

// spendWindow records the current window as spent, here: a 429 naming N says the accrual system
// counted N requests in it, maybe from sibling instances too, so sends made here are topped up with
// sends at now until N are within the window.
func (l *limiter) spendWindow(now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.pruneLocked(now)
	for len(l.sends) < min(l.limit, maxHistory) {
		l.sends = append(l.sends, now)
	}
}

// reserveShared takes one of the N send slots per window shared by every instance, inside the
// transaction carried by ctx, once N is known; otherwise it takes nothing. It returns 0 when the
// request may go, or how long until a slot frees.
func (l *limiter) reserveShared(ctx context.Context) (time.Duration, error) {
	_, limit := l.snapshot()
	if limit <= 0 {
		return 0, nil
	}
	return l.state.reserveSend(ctx, limit, l.window, time.Now())
}

// paced reports whether N is known, so that sends take shared slots.
func (l *limiter) paced() bool {
	_, limit := l.snapshot()
	return limit > 0
}
