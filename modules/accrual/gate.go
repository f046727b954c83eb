package accrual

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// maxHistory bounds the send times kept while no limit is known (they count once one is learned).
const maxHistory = 10_000

// gate is the one door every request of the pool goes through: closed during a 429 pause, and, once
// the accrual system told its limit N, letting at most N requests through in any window. One gate is
// shared by all of a Worker's goroutines. Safe for concurrent use.
type gate struct {
	now    func() time.Time
	window time.Duration

	mu         sync.Mutex
	pauseUntil time.Time
	notBefore  time.Time   // no send before then: the slots shared through the database are taken
	limit      int         // 0: unknown
	sends      []time.Time // send times within the last window, oldest first
}

// newGate paces to a limit per window, plus a slack of 1/60 of it (a second a minute): a request
// leaves here before the accrual system receives it, so pacing to the exact window lets the N+1-th
// request land a few milliseconds inside the server's old window (seen in e2e: a 429 59.75 s after
// the first one).
func newGate(window time.Duration, now func() time.Time) *gate {
	return &gate{now: now, window: window + window/60}
}

// holdError says the gate would keep a request waiting longer than its caller may wait.
type holdError struct{ wait time.Duration }

func (e *holdError) Error() string { return fmt.Sprintf("accrual gate closed for %s", e.wait) }

// reserve records a send and returns 0 when a request may go now; otherwise it records nothing and
// returns how long until one might.
func (g *gate) reserve() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if d := g.delayLocked(now); d > 0 {
		return d
	}
	g.sends = append(g.sends, now)
	if len(g.sends) > max(maxHistory, g.limit) {
		g.sends = g.sends[len(g.sends)-max(maxHistory, g.limit):]
	}
	return 0
}

// delay returns how long until a request may go (0: now), without reserving.
func (g *gate) delay() time.Duration {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.delayLocked(g.now())
}

// budget returns how many requests may go right now; -1 means no known limit.
func (g *gate) budget() int {
	g.mu.Lock()
	defer g.mu.Unlock()
	now := g.now()
	if now.Before(g.pauseUntil) || now.Before(g.notBefore) {
		return 0
	}
	if g.limit <= 0 {
		return -1
	}
	g.pruneLocked(now)
	return max(g.limit-len(g.sends), 0)
}

func (g *gate) delayLocked(now time.Time) time.Duration {
	if now.Before(g.pauseUntil) {
		return g.pauseUntil.Sub(now)
	}
	if now.Before(g.notBefore) {
		return g.notBefore.Sub(now)
	}
	g.pruneLocked(now)
	if g.limit > 0 && len(g.sends) >= g.limit {
		// The oldest of the last limit sends leaves the window first.
		return g.sends[len(g.sends)-g.limit].Add(g.window).Sub(now)
	}
	return 0
}

func (g *gate) pruneLocked(now time.Time) {
	cut := now.Add(-g.window)
	i := 0
	for i < len(g.sends) && !g.sends[i].After(cut) {
		i++
	}
	g.sends = g.sends[i:]
}

// wait blocks until a request may go and reserves it. When the gate would stay closed past deadline
// it returns a *holdError at once, reserving nothing; when ctx ends, ctx's error.
func (g *gate) wait(ctx context.Context, deadline time.Time) error {
	for {
		d := g.reserve()
		if d == 0 {
			return nil
		}
		if g.now().Add(d).After(deadline) {
			return &holdError{wait: d}
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
	}
}

// unreserve takes back the latest reservation, for a request that did not go after all.
func (g *gate) unreserve() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if len(g.sends) > 0 {
		g.sends = g.sends[:len(g.sends)-1]
	}
}

// holdUntil keeps every request waiting until t (unless held longer already): the send slots every
// instance shares are taken until then, so asking the database before would be a wasted round trip.
func (g *gate) holdUntil(t time.Time) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if t.After(g.notBefore) {
		g.notBefore = t
	}
}

// pause closes the gate until until (unless it is closed longer already) and, when limit > 0,
// paces requests to limit per window from now on.
func (g *gate) pause(until time.Time, limit int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if until.After(g.pauseUntil) {
		g.pauseUntil = until
	}
	if limit > 0 {
		g.limit = limit
	}
}

// state returns the pause end and the known limit.
func (g *gate) state() (time.Time, int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.pauseUntil, g.limit
}
