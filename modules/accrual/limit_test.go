package accrual

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A pause closes the gate for every waiter until it has passed; a shorter pause never shortens it.
func TestLimiterPauseClosesTheGateForEveryone(t *testing.T) {
	d := sqliteDB(t)
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(time.Minute, &stateStore{db: d})
		assert.Zero(t, l.delay(), "open by default")
		assert.Equal(t, -1, l.budget(), "no limit known: no bound")

		start := time.Now()
		l.adopt(start.Add(5*time.Second), 0)
		l.adopt(start.Add(2*time.Second), 0)
		assert.Equal(t, 5*time.Second, l.delay())
		assert.Zero(t, l.budget())

		var wg sync.WaitGroup
		passed := make([]time.Duration, 3)
		for i := range passed {
			wg.Go(func() {
				if _, err := l.wait(context.Background(), start.Add(time.Hour)); err == nil {
					passed[i] = time.Since(start)
				}
			})
		}
		wg.Wait()
		for _, p := range passed {
			assert.Equal(t, 5*time.Second, p, "every waiter goes when the pause ends, not before")
		}
	})
}

// Once N is known the gate paces evenly to N per window (padded by a sixtieth), so 20 requests with
// N = 10 a minute take 19 intervals of 6.1 s, never a burst of 10 and a minute's wait.
func TestLimiterPacesEvenlyToTheLearnedLimit(t *testing.T) {
	d := sqliteDB(t)
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(time.Minute, &stateStore{db: d})
		l.adopt(time.Time{}, 10)
		start := time.Now()
		var sends []time.Duration
		for range 20 {
			_, err := l.wait(context.Background(), start.Add(time.Hour))
			require.NoError(t, err)
			sends = append(sends, time.Since(start))
		}
		step := (time.Minute + time.Second) / 10
		for i, at := range sends {
			assert.Equal(t, time.Duration(i)*step, at, "send %d", i)
		}
		assert.Zero(t, l.budget(), "ten sends within the window: nothing more until the oldest leaves it")
		time.Sleep(time.Until(start.Add(sends[10] + 61*time.Second)))
		assert.Equal(t, 1, l.budget(), "claims look a second ahead: the send due now")
	})
}

// The sends made before N was known count once it is: after a burst of five earned a 429 with a
// two-second Retry-After, the sixth request waits until the first of the five has left the window,
// whatever the Retry-After said, so a server counting fixed minutes never sees a sixth in its minute.
func TestLimiterCountsTheSendsBeforeTheLimitWasKnown(t *testing.T) {
	d := sqliteDB(t)
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(time.Minute, &stateStore{db: d})
		start := time.Now()
		for range 5 {
			_, err := l.wait(context.Background(), start.Add(time.Hour))
			require.NoError(t, err)
		}
		assert.Equal(t, start, time.Now(), "no limit known: no wait")
		l.adopt(start.Add(2*time.Second), 5)
		_, err := l.wait(context.Background(), start.Add(time.Hour))
		require.NoError(t, err)
		assert.Equal(t, time.Minute+time.Second, time.Since(start), "the window of the first send, padded")
	})
}

// A cancelled ticket gives back only its own place: another request's reservation stays counted, so
// the next request waits for its turn after it (the old gate took back the newest reservation,
// whoever made it, and let one request too many through).
func TestLimiterCancelGivesBackOnlyItsOwnPlace(t *testing.T) {
	d := sqliteDB(t)
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(time.Minute, &stateStore{db: d})
		l.adopt(time.Time{}, 60)
		step := (time.Minute + time.Second) / 60
		start := time.Now()
		a, err := l.wait(context.Background(), start.Add(time.Hour))
		require.NoError(t, err)
		_, err = l.wait(context.Background(), start.Add(time.Hour)) // b: goes one step later
		require.NoError(t, err)
		a.cancel() // a did not go after all
		_, err = l.wait(context.Background(), start.Add(time.Hour))
		require.NoError(t, err)
		assert.Equal(t, 2*step, time.Since(start), "b's place is still b's: the next one goes after it")
	})
}

// A gate that stays closed past the caller's deadline says so at once, reserving nothing.
func TestLimiterWaitGivesUpPastTheDeadline(t *testing.T) {
	d := sqliteDB(t)
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(time.Minute, &stateStore{db: d})
		start := time.Now()
		l.adopt(start.Add(time.Minute), 0)
		_, err := l.wait(context.Background(), start.Add(10*time.Second))
		var he *holdError
		require.ErrorAs(t, err, &he)
		assert.Equal(t, time.Minute, he.wait)
		assert.Equal(t, start, time.Now(), "answered at once")

		l.holdUntil(start.Add(2 * time.Minute))
		assert.Equal(t, 2*time.Minute, l.delay(), "taken shared slots hold the gate too")
	})
}

// A 429 seen by one instance pauses its siblings through the database, and an operator's clear
// (gophermart resync) ends the pause everywhere, while the learned limit stays.
func TestLimiterSharesThePauseAndItsClearing(t *testing.T) {
	d := sqliteDB(t)
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		one := newLimiter(time.Minute, &stateStore{db: d})
		two := newLimiter(time.Minute, &stateStore{db: d})
		require.NoError(t, two.sync(ctx))
		assert.Zero(t, two.delay())

		extended, err := one.rateLimited(ctx, &RateLimitedError{RetryAfter: 90 * time.Second, Limit: 120})
		require.NoError(t, err)
		assert.True(t, extended)
		extended, err = one.rateLimited(ctx, &RateLimitedError{RetryAfter: 10 * time.Second, Limit: 120})
		require.NoError(t, err)
		assert.False(t, extended, "a shorter pause never shortens the one in force")

		require.NoError(t, two.sync(ctx))
		assert.Equal(t, 90*time.Second, two.delay(), "the sibling adopted the pause")
		_, limit := two.snapshot()
		assert.Equal(t, 120, limit, "and the limit")

		wait, err := two.reserveShared(ctx)
		require.NoError(t, err)
		require.Positive(t, wait, "the 429 spent the shared window")
		two.holdUntil(time.Now().Add(wait))

		cleared, err := ClearPause(ctx, d)
		require.NoError(t, err)
		assert.True(t, time.Now().Add(90*time.Second).Equal(cleared), "ClearPause says what it cleared: %s", cleared)
		require.NoError(t, one.sync(ctx))
		require.NoError(t, two.sync(ctx))
		assert.Zero(t, one.snapshotPause(), "cleared here")
		assert.Zero(t, two.snapshotPause(), "and there")
		assert.Zero(t, one.delay(), "the window the 429 counted as spent is cleared too")
		assert.Zero(t, two.delay(), "and the wait for shared slots")
		wait, err = two.reserveShared(ctx)
		require.NoError(t, err)
		assert.Zero(t, wait, "and so are the shared send slots")
		_, limit = one.snapshot()
		assert.Equal(t, 120, limit, "pacing goes on")

		cleared, err = ClearPause(ctx, d)
		require.NoError(t, err)
		assert.True(t, cleared.IsZero(), "nothing in force: nothing cleared")
	})
}

// snapshotPause is how long the pause has left.
func (l *limiter) snapshotPause() time.Duration {
	until, _ := l.snapshot()
	return max(time.Until(until), 0)
}
