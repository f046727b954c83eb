package auth

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/fakeclock"
)

// newTestThrottles returns n throttles on one database, as n instances would have, all on one
// settable clock.
func newTestThrottles(d *db.DB, n, maxFailures int, window time.Duration) ([]*throttle, *fakeclock.Clock) {
	clk := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	out := make([]*throttle, n)
	for i := range out {
		out[i] = newThrottle(NewStore(d), maxFailures, window)
		out[i].now = clk.Now
	}
	return out, clk
}

// admit begins an attempt that must be admitted and returns its id.
func admit(t *testing.T, th *throttle, k throttleKey) string {
	t.Helper()
	id, retry, err := th.begin(context.Background(), k)
	require.NoError(t, err)
	require.NotEmpty(t, id, "attempt must be admitted (retry after %s)", retry)
	return id
}

// refused begins an attempt that must be refused and returns the retry delay.
func refused(t *testing.T, th *throttle, k throttleKey) time.Duration {
	t.Helper()
	id, retry, err := th.begin(context.Background(), k)
	require.NoError(t, err)
	require.Empty(t, id, "attempt must be refused")
	return retry
}

func end(t *testing.T, th *throttle, k throttleKey, id string, o outcome) {
	t.Helper()
	require.NoError(t, th.end(context.Background(), k, id, o))
}

func fail(t *testing.T, th *throttle, k throttleKey) {
	t.Helper()
	end(t, th, k, admit(t, th, k), failed)
}

// attemptRows counts the rows the throttle keeps.
func attemptRows(t *testing.T, d *db.DB) (attempts, pairs int64) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, d.Conn(ctx).Raw("SELECT COUNT(*) FROM gm_login_attempts").Scan(&attempts).Error)
	require.NoError(t, d.Conn(ctx).Raw("SELECT COUNT(*) FROM gm_login_pairs").Scan(&pairs).Error)
	return attempts, pairs
}

// eachEngine runs check on a fresh database of every engine.
func eachEngine(t *testing.T, check func(t *testing.T, d *db.DB)) {
	t.Helper()
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			check(t, open(t))
		})
	}
}

func TestThrottleLocksAfterMaxFailures(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, d *db.DB) {
		t.Helper()
		ths, clk := newTestThrottles(d, 1, 3, time.Minute)
		th := ths[0]
		k := throttleKey{login: "alice", ip: "10.0.0.1"}
		fail(t, th, k)
		clk.Advance(10 * time.Second)
		fail(t, th, k)
		clk.Advance(10 * time.Second)
		fail(t, th, k)

		assert.Equal(t, 40*time.Second, refused(t, th, k), "the 4th attempt waits until the oldest failure leaves the window")

		other := throttleKey{login: "alice", ip: "10.0.0.2"}
		end(t, th, other, admit(t, th, other), failed)
		fail(t, th, throttleKey{login: "bob", ip: "10.0.0.1"})

		clk.Advance(40 * time.Second) // the first failure leaves the window: one more attempt allowed
		fail(t, th, k)
		assert.Equal(t, 10*time.Second, refused(t, th, k))

		clk.Advance(time.Minute) // all failures expired
		fail(t, th, k)
	})
}

func TestThrottleSuccessClearsPair(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, d *db.DB) {
		t.Helper()
		ths, _ := newTestThrottles(d, 1, 3, time.Minute)
		th := ths[0]
		k := throttleKey{login: "alice", ip: "10.0.0.1"}
		fail(t, th, k)
		fail(t, th, k)
		end(t, th, k, admit(t, th, k), succeeded)
		attempts, _ := attemptRows(t, d)
		assert.Zero(t, attempts, "a success forgets the pair's failures")
		fail(t, th, k)
		fail(t, th, k)
		admit(t, th, k) // counting started again after the success
	})
}

func TestThrottleAbortedAttemptsDoNotCount(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, d *db.DB) {
		t.Helper()
		ths, _ := newTestThrottles(d, 1, 2, time.Minute)
		th := ths[0]
		k := throttleKey{login: "alice", ip: "10.0.0.1"}
		for range 5 {
			end(t, th, k, admit(t, th, k), aborted)
		}
		attempts, _ := attemptRows(t, d)
		assert.Zero(t, attempts)
		fail(t, th, k)
		end(t, th, k, admit(t, th, k), aborted)
		fail(t, th, k)
		refused(t, th, k)
	})
}

func TestThrottleCountsAttemptsInFlight(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, d *db.DB) {
		t.Helper()
		ths, clk := newTestThrottles(d, 1, 3, time.Minute)
		th := ths[0]
		k := throttleKey{login: "alice", ip: "10.0.0.1"}
		fail(t, th, k)
		first, second := admit(t, th, k), admit(t, th, k)
		assert.Equal(t, busyRetry, refused(t, th, k), "1 failure + 2 in flight: a 4th parallel guess must wait")
		end(t, th, k, first, succeeded) // clears the failures; the other attempt is still in flight
		third := admit(t, th, k)
		end(t, th, k, second, failed)
		end(t, th, k, third, failed)
		fail(t, th, k) // 2 failures after the success, none in flight
		refused(t, th, k)

		// An attempt left in flight by an instance that died stops counting after inflightTTL.
		clk.Advance(2 * time.Minute)
		admit(t, th, k)
		admit(t, th, k)
		admit(t, th, k)
		refused(t, th, k)
		clk.Advance(inflightTTL)
		admit(t, th, k)
	})
}

// Rows that no longer count are pruned, at most once a minute per instance.
func TestThrottlePrunesOldRows(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, d *db.DB) {
		t.Helper()
		ths, clk := newTestThrottles(d, 1, 5, time.Minute)
		th := ths[0]
		for i := range 50 { // distinct logins, each failing once
			fail(t, th, throttleKey{login: "user" + strconv.Itoa(i), ip: "10.9.9.9"})
		}
		admit(t, th, throttleKey{login: "stuck", ip: "10.9.9.9"}) // in flight forever
		attempts, pairs := attemptRows(t, d)
		assert.Equal(t, int64(51), attempts)
		assert.Equal(t, int64(51), pairs)

		clk.Advance(time.Minute + inflightTTL + time.Second) // everything expired: the next attempt prunes
		fail(t, th, throttleKey{login: "late", ip: "10.0.0.3"})
		attempts, pairs = attemptRows(t, d)
		assert.Equal(t, int64(1), attempts)
		assert.Equal(t, int64(1), pairs)
	})
}

// Two instances on one database count one pair's failures together: max failures in all, whichever
// instance each guess reaches, and the lock-out holds at both.
func TestThrottleSharedByInstances(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, d *db.DB) {
		t.Helper()
		ths, clk := newTestThrottles(d, 2, 5, time.Minute)
		a, b := ths[0], ths[1]
		k := throttleKey{login: "victim", ip: "203.0.113.7"}
		for i := range 5 {
			fail(t, ths[i%2], k)
			clk.Advance(time.Second)
		}
		assert.Equal(t, 55*time.Second, refused(t, a, k))
		assert.Equal(t, 55*time.Second, refused(t, b, k))
		admit(t, b, throttleKey{login: "victim", ip: "198.51.100.1"}) // the owner, elsewhere, is not locked out
	})
}

// Parallel guesses at two instances at once: exactly max are admitted, never more.
func TestThrottleParallelGuessesAtTwoInstances(t *testing.T) {
	t.Parallel()
	eachEngine(t, func(t *testing.T, d *db.DB) {
		t.Helper()
		ths, _ := newTestThrottles(d, 2, 5, time.Minute)
		k := throttleKey{login: "victim", ip: "203.0.113.7"}
		const guesses = 40
		ids := make([]string, guesses)
		errs := make([]error, guesses)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range guesses {
			wg.Add(1)
			go func() {
				defer wg.Done()
				<-start
				ids[i], _, errs[i] = ths[i%2].begin(context.Background(), k)
			}()
		}
		close(start)
		wg.Wait()
		admitted := 0
		for i, id := range ids {
			require.NoError(t, errs[i])
			if id != "" {
				admitted++
				end(t, ths[i%2], k, id, failed)
			}
		}
		assert.Equal(t, 5, admitted, "in-flight attempts count against the limit at every instance")
		refused(t, ths[0], k)
		refused(t, ths[1], k)
	})
}

func TestClientNetwork(t *testing.T) {
	tests := []struct{ give, want string }{
		{give: "127.0.0.1", want: "127.0.0.1"},
		{give: "203.0.113.7", want: "203.0.113.7"},
		{give: "2001:db8:1:2:aaaa:bbbb:cccc:dddd", want: "2001:db8:1:2::/64"},
		{give: "2001:db8:1:2::1", want: "2001:db8:1:2::/64"},
		{give: "::ffff:203.0.113.7", want: "::ffff:203.0.113.7"},
		{give: "not an ip", want: "not an ip"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			assert.Equal(t, tt.want, clientNetwork(tt.give))
		})
	}
}
