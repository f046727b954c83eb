package auth

import (
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/gophermart/gophermart/modules/platform/fakeclock"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newTestThrottle(maxFailures int, window time.Duration, capacity int) (*throttle, *fakeclock.Clock) {
	clk := fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	th := newThrottle(maxFailures, window, capacity)
	th.now = clk.Now
	return th, clk
}

func fail(t *testing.T, th *throttle, k throttleKey) {
	t.Helper()
	_, ok := th.begin(k)
	require.True(t, ok, "attempt must be admitted")
	th.end(k, failed)
}

func TestThrottleLocksAfterMaxFailures(t *testing.T) {
	t.Parallel()
	th, clk := newTestThrottle(3, time.Minute, 100)
	k := throttleKey{login: "alice", ip: "10.0.0.1"}
	fail(t, th, k)
	clk.Advance(10 * time.Second)
	fail(t, th, k)
	clk.Advance(10 * time.Second)
	fail(t, th, k)

	retry, ok := th.begin(k)
	require.False(t, ok, "the 4th attempt within the window is refused")
	assert.Equal(t, 40*time.Second, retry, "until the oldest failure leaves the window")

	other := throttleKey{login: "alice", ip: "10.0.0.2"}
	_, ok = th.begin(other)
	assert.True(t, ok, "the same login from another address is not locked")
	th.end(other, failed)
	_, ok = th.begin(throttleKey{login: "bob", ip: "10.0.0.1"})
	assert.True(t, ok, "another login from the same address is not locked")

	clk.Advance(40 * time.Second) // the first failure leaves the window: one more attempt allowed
	_, ok = th.begin(k)
	require.True(t, ok)
	th.end(k, failed)
	retry, ok = th.begin(k)
	require.False(t, ok)
	assert.Equal(t, 10*time.Second, retry)

	clk.Advance(time.Minute) // all failures expired
	_, ok = th.begin(k)
	require.True(t, ok)
	th.end(k, failed)
}

func TestThrottleSuccessClearsPair(t *testing.T) {
	t.Parallel()
	th, _ := newTestThrottle(3, time.Minute, 100)
	k := throttleKey{login: "alice", ip: "10.0.0.1"}
	fail(t, th, k)
	fail(t, th, k)
	_, ok := th.begin(k)
	require.True(t, ok)
	th.end(k, succeeded)
	assert.Equal(t, 0, th.len(), "a success forgets the pair")
	fail(t, th, k)
	fail(t, th, k)
	_, ok = th.begin(k)
	assert.True(t, ok, "counting starts again after a success")
}

func TestThrottleAbortedAttemptsDoNotCount(t *testing.T) {
	t.Parallel()
	th, _ := newTestThrottle(2, time.Minute, 100)
	k := throttleKey{login: "alice", ip: "10.0.0.1"}
	for range 5 {
		_, ok := th.begin(k)
		require.True(t, ok)
		th.end(k, aborted)
	}
	assert.Equal(t, 0, th.len())
	fail(t, th, k)
	_, ok := th.begin(k)
	require.True(t, ok)
	th.end(k, aborted)
	fail(t, th, k)
	_, ok = th.begin(k)
	assert.False(t, ok)
}

func TestThrottleCountsAttemptsInFlight(t *testing.T) {
	t.Parallel()
	th, _ := newTestThrottle(3, time.Minute, 100)
	k := throttleKey{login: "alice", ip: "10.0.0.1"}
	fail(t, th, k)
	for range 2 {
		_, ok := th.begin(k)
		require.True(t, ok)
	}
	retry, ok := th.begin(k)
	require.False(t, ok, "1 failure + 2 in flight: a 4th parallel guess must wait")
	assert.Equal(t, busyRetry, retry)
	th.end(k, succeeded) // clears the failures; the other attempt is still in flight
	_, ok = th.begin(k)
	require.True(t, ok)
	th.end(k, failed)
	th.end(k, failed)
	assert.Equal(t, 1, th.len())
	_, ok = th.begin(k)
	require.True(t, ok, "2 failures after the success, none in flight")
	th.end(k, failed)
	_, ok = th.begin(k)
	assert.False(t, ok, "3 failures after the success")
	th.mu.Lock()
	defer th.mu.Unlock()
	assert.Equal(t, 0, th.entries[k].inflight, "in-flight count never drifts")
}

func TestThrottleMemoryIsBounded(t *testing.T) {
	t.Parallel()
	th, clk := newTestThrottle(5, time.Minute, 100)
	victim := throttleKey{login: "victim", ip: "10.0.0.1"}
	for range 5 {
		fail(t, th, victim)
	}
	for i := range 10_000 { // a flood of distinct logins, each failing once
		fail(t, th, throttleKey{login: "user" + strconv.Itoa(i), ip: "10.9.9.9"})
		if i%1000 == 0 {
			clk.Advance(time.Millisecond)
		}
		require.LessOrEqual(t, th.len(), 100)
	}
	assert.Equal(t, 100, th.len())
	assert.Equal(t, th.order.Len(), th.len(), "list and map agree")

	clk.Advance(2 * time.Minute) // everything expired: the next insert sweeps it away
	fail(t, th, throttleKey{login: "late", ip: "10.0.0.3"})
	assert.Equal(t, 1, th.len())
}

func TestThrottleConcurrentUse(t *testing.T) {
	t.Parallel()
	th := newThrottle(3, time.Minute, 50)
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 500 {
				k := throttleKey{login: "u" + strconv.Itoa(i%80), ip: strconv.Itoa(g)}
				if _, ok := th.begin(k); ok {
					th.end(k, outcome(i%3))
				}
			}
		}()
	}
	wg.Wait()
	assert.LessOrEqual(t, th.len(), 50)
	assert.Equal(t, th.order.Len(), th.len())
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
