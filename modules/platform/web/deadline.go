package web

import (
	"context"
	"sync/atomic"
	"time"
)

// deadlines hands every request a context with a deadline (the write timeout): a handler stuck on a
// row lock or a slow query gives up instead of holding its connection, and shutdown, forever.
//
// A context of its own per request would cost a timer started and stopped per request. Instead the
// requests that start within one grain of time share a context whose deadline is the end of that
// grain plus the timeout: each request gets at least the timeout and at most one grain more. No
// request can cancel the shared context; only its deadline ends it, and its timer then frees it.
type deadlines struct {
	timeout time.Duration
	grain   time.Duration
	cur     atomic.Pointer[sharedDeadline]
}

type sharedDeadline struct {
	ctx    context.Context
	cancel context.CancelFunc // called by nobody: the deadline alone ends the context
	until  time.Time          // requests starting before this may use ctx
}

// maxDeadlineGrain bounds how much longer than the timeout a request may be given.
const maxDeadlineGrain = 100 * time.Millisecond

func newDeadlines(timeout time.Duration) *deadlines {
	return &deadlines{timeout: timeout, grain: min(timeout/100, maxDeadlineGrain)}
}

// context returns a context whose deadline is between the timeout and the timeout plus one grain
// from now. Safe for concurrent use.
func (d *deadlines) context() context.Context {
	now := time.Now()
	if cur := d.cur.Load(); cur != nil && now.Before(cur.until) {
		return cur.ctx
	}
	until := now.Add(d.grain)
	// Its deadline ends it: no request sharing it may cancel it sooner.
	ctx, cancel := context.WithDeadline(context.Background(), until.Add(d.timeout)) //nolint:gosec // G118: kept in sharedDeadline; the timer ends it
	next := &sharedDeadline{ctx: ctx, cancel: cancel, until: until}
	// A request that raced here first has already stored a context as good as this one.
	if old := d.cur.Load(); old == nil || !now.Before(old.until) {
		d.cur.Store(next)
	}
	return ctx
}
