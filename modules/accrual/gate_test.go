package accrual

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/gophermart/gophermart/modules/platform/fakeclock"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newFakeClock() *fakeclock.Clock {
	return fakeclock.New(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
}

func TestGatePauseClosesIt(t *testing.T) {
	clk := newFakeClock()
	g := newGate(time.Minute, clk.Now)
	assert.Zero(t, g.reserve(), "open by default")
	assert.Equal(t, -1, g.budget(), "no limit known")

	g.pause(clk.Now().Add(5*time.Second), 0)
	assert.Equal(t, 5*time.Second, g.reserve())
	assert.Equal(t, 5*time.Second, g.delay())
	assert.Zero(t, g.budget())
	g.pause(clk.Now().Add(2*time.Second), 0) // a shorter pause never shortens the current one
	clk.Advance(3 * time.Second)
	assert.Equal(t, 2*time.Second, g.reserve())
	clk.Advance(2 * time.Second)
	assert.Zero(t, g.reserve(), "open again when the pause has passed")
}

// Once the limit N is known, no window of the rate window's length holds more than N sends, and the
// gate still lets N through per window: bursts up to N are fine.
func TestGatePacesToTheLearnedLimit(t *testing.T) {
	clk := newFakeClock()
	const window = time.Minute
	const limit = 7
	g := newGate(window, clk.Now)
	g.pause(clk.Now(), limit)
	var sends []time.Time
	end := clk.Now().Add(10 * time.Minute)
	for clk.Now().Before(end) {
		if d := g.reserve(); d == 0 {
			sends = append(sends, clk.Now())
			continue // try again at once: as fast as the gate allows
		}
		clk.Advance(250 * time.Millisecond)
	}
	for i := range sends {
		in := 0
		for j := i; j < len(sends) && sends[j].Sub(sends[i]) < window; j++ {
			in++
		}
		require.LessOrEqual(t, in, limit, "window starting at send %d", i)
	}
	assert.GreaterOrEqual(t, len(sends), 10*limit, "N per window is not throttled further")
	assert.Equal(t, sends[limit-1], sends[0], "the first N go out as one burst")
}

// The example: 20 ready orders, limit 10, the accrual system answers the 11th request with
// 429 Retry-After 60: all 20 have gone out about one minute after the first 429, not two.
func TestGateTwentyOrdersWithLimitTenTakeAboutOneMinute(t *testing.T) {
	clk := newFakeClock()
	g := newGate(time.Minute, clk.Now)
	start := clk.Now()
	for range 11 { // 10 answered, the 11th gets the 429; none of them knew the limit yet
		require.Zero(t, g.reserve())
		clk.Advance(10 * time.Millisecond)
	}
	g.pause(clk.Now().Add(60*time.Second), 10)
	done := 10
	for done < 20 {
		if d := g.reserve(); d > 0 {
			clk.Advance(d)
			continue
		}
		done++
	}
	assert.Less(t, clk.Now().Sub(start), 62*time.Second, "finished about a minute after the first 429")
}

// The pool's goroutines share one gate: together they never exceed N per window. Real clock, short
// window; the times are the gate's own, taken under its lock, so the count is exact.
func TestGateIsSharedByConcurrentWaiters(t *testing.T) {
	t.Parallel()
	const window = 300 * time.Millisecond
	const limit = 4
	var mu sync.Mutex
	var sends []time.Time
	now := func() time.Time { return time.Now() }
	g := newGate(window, now)
	g.pause(time.Now(), limit)
	var wg sync.WaitGroup
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 3 {
				if !assert.NoError(t, g.wait(context.Background(), time.Now().Add(time.Minute))) {
					return
				}
				mu.Lock()
				sends = append(sends, time.Now())
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	require.Len(t, sends, 24)
	g.mu.Lock()
	recorded := append([]time.Time(nil), g.sends...)
	g.mu.Unlock()
	// The gate's record of the last window is consistent with the limit.
	assert.LessOrEqual(t, len(recorded), limit)
	// 24 sends at 4 per 300 ms take at least 5 full windows.
	first, last := sends[0], sends[0]
	for _, s := range sends {
		if s.Before(first) {
			first = s
		}
		if s.After(last) {
			last = s
		}
	}
	assert.GreaterOrEqual(t, last.Sub(first), 5*window-50*time.Millisecond)
}

func TestGateWaitGivesUpPastTheDeadline(t *testing.T) {
	t.Parallel()
	g := newGate(time.Minute, time.Now)
	g.pause(time.Now().Add(time.Hour), 0)
	err := g.wait(context.Background(), time.Now().Add(time.Second))
	var he *holdError
	require.ErrorAs(t, err, &he)
	assert.Greater(t, he.wait, 59*time.Minute)

	g2 := newGate(time.Minute, time.Now)
	g2.pause(time.Now().Add(time.Hour), 0)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = g2.wait(ctx, time.Now().Add(2*time.Hour))
	require.ErrorIs(t, err, context.Canceled)
}

// holdUntil keeps the gate closed while the slots shared through the database are taken, without
// touching the 429 pause; unreserve gives back a slot whose request did not go.
func TestGateHoldUntilAndUnreserve(t *testing.T) {
	clk := newFakeClock()
	g := newGate(time.Minute, clk.Now)
	g.pause(clk.Now(), 2)
	require.Zero(t, g.reserve())
	require.Zero(t, g.reserve())
	assert.Positive(t, g.reserve(), "two per window")
	g.unreserve()
	assert.Zero(t, g.reserve(), "the slot given back is free again")

	g.unreserve()
	g.holdUntil(clk.Now().Add(3 * time.Second))
	assert.Equal(t, 3*time.Second, g.delay())
	assert.Zero(t, g.budget())
	g.holdUntil(clk.Now().Add(time.Second)) // never shortened
	assert.Equal(t, 3*time.Second, g.reserve())
	until, _ := g.state()
	assert.False(t, until.After(clk.Now()), "not a 429 pause")
	clk.Advance(3 * time.Second)
	assert.Zero(t, g.reserve())
}
