package auth

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/google/uuid"
)

// busyRetry is the Retry-After given when a pair is at its limit only because attempts are in flight.
const busyRetry = time.Second

// inflightTTL is how long an attempt counts as in flight. An attempt waits at most a few seconds
// for a hashing slot and then hashes for tens of milliseconds; one still open after this was left
// behind by an instance that died mid-attempt and must not block the pair for longer.
const inflightTTL = 30 * time.Second

// pruneEvery is how often an instance deletes attempts that no longer count.
const pruneEvery = time.Minute

// endTimeout bounds recording how an attempt ended, which happens even if the client has gone.
const endTimeout = 5 * time.Second

// AttemptStore keeps login attempts where every instance on the database sees them, so that N
// instances do not give a guesser N times the attempts.
type AttemptStore interface {
	// BeginAttempt locks the pair (a.LoginKey, a.Address) until it returns, so that attempts of one
	// pair, from any instance, are admitted one after another; reads the pair's failures after
	// failedSince, oldest first, and how many of its attempts started after startedSince are still in
	// flight; and, if decide admits with those, records a as in flight.
	BeginAttempt(ctx context.Context, a Attempt, failedSince, startedSince time.Time,
		decide func(failures []time.Time, inflight int) bool) error
	// FailAttempt records that attempt id failed at at.
	FailAttempt(ctx context.Context, id string, at time.Time) error
	// ClearAttempts deletes attempt id and every failure of its pair: the pair was right.
	ClearAttempts(ctx context.Context, loginKey, address, id string) error
	// DropAttempt deletes attempt id: it ended without an answer, which counts as nothing.
	DropAttempt(ctx context.Context, id string) error
	// PruneAttempts deletes the attempts started before cutoff and the pairs untouched since.
	PruneAttempts(ctx context.Context, cutoff time.Time) error
}

// Attempt is one login attempt of a (login key, client address) pair.
type Attempt struct {
	ID       string
	LoginKey string // lower-cased login, at most MaxLoginLen bytes
	Address  string // IPv4 address, or IPv6 /64 (clientNetwork)
	Started  time.Time
}

// throttleKey is one (login key, client address) pair: keyed on the pair so that failures from one
// address never lock the account's owner out at another.
type throttleKey struct {
	login string // lower-cased, at most MaxLoginLen bytes
	ip    string
}

// throttle counts failed logins per pair in the database, across every instance that shares it.
// After max failures within window, the pair's attempts are refused, without any hashing, until the
// oldest of those failures leaves the window. Attempts in flight count against the limit too, so
// that parallel guesses, at one instance or many, cannot overshoot it. Safe for concurrent use.
type throttle struct {
	store     AttemptStore
	max       int
	window    time.Duration
	now       func() time.Time
	lastPrune atomic.Int64 // Unix nanoseconds of the last prune by this instance
}

func newThrottle(store AttemptStore, maxFailures int, window time.Duration) *throttle {
	return &throttle{store: store, max: maxFailures, window: window, now: time.Now}
}

// begin admits an attempt for k and returns its id, or says how long until one will be admitted.
func (t *throttle) begin(ctx context.Context, k throttleKey) (id string, retryAfter time.Duration, err error) {
	now := t.now().UTC().Truncate(time.Microsecond)
	if err := t.pruneIfDue(ctx, now); err != nil {
		return "", 0, err
	}
	u, err := uuid.NewV7()
	if err != nil {
		return "", 0, fmt.Errorf("attempt id: %w", err)
	}
	a := Attempt{ID: u.String(), LoginKey: k.login, Address: k.ip, Started: now}
	admitted := false
	err = t.store.BeginAttempt(ctx, a, now.Add(-t.window), now.Add(-inflightTTL), func(failures []time.Time, inflight int) bool {
		switch {
		case len(failures) >= t.max:
			// Another instance's clock may run ahead of ours: never more than a window.
			retryAfter = min(failures[len(failures)-t.max].Add(t.window).Sub(now), t.window)
		case len(failures)+inflight >= t.max:
			retryAfter = busyRetry
		default:
			admitted = true
		}
		return admitted
	})
	if err != nil {
		return "", 0, err
	}
	if !admitted {
		return "", retryAfter, nil
	}
	return a.ID, 0, nil
}

// outcome is how an admitted attempt ended.
type outcome int

const (
	succeeded outcome = iota // the pair was right: forget the pair's failures
	failed                   // the pair was wrong: count a failure
	aborted                  // no answer (busy, database error): count nothing
)

// end records the outcome of the attempt id of k, admitted by begin. It runs to completion even when
// ctx is cancelled (the client gave up): an attempt left in flight would hold a slot of the pair.
func (t *throttle) end(ctx context.Context, k throttleKey, id string, o outcome) error {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), endTimeout)
	defer cancel()
	switch o {
	case succeeded:
		return t.store.ClearAttempts(ctx, k.login, k.ip, id)
	case failed:
		return t.store.FailAttempt(ctx, id, t.now().UTC().Truncate(time.Microsecond))
	default:
		return t.store.DropAttempt(ctx, id)
	}
}

// pruneIfDue deletes, at most once per pruneEvery per instance, the attempts that can no longer
// count: failures older than the window and attempts in flight for longer than inflightTTL.
func (t *throttle) pruneIfDue(ctx context.Context, now time.Time) error {
	last := t.lastPrune.Load()
	if now.UnixNano()-last < int64(pruneEvery) || !t.lastPrune.CompareAndSwap(last, now.UnixNano()) {
		return nil
	}
	return t.store.PruneAttempts(ctx, now.Add(-t.window-inflightTTL))
}
