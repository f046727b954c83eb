package web

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Requests within one grain share a context; each gets at least the timeout and at most one grain
// more; the shared context ends at its deadline and the next grain gets a fresh one.
func TestSharedDeadlines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = 30 * time.Second
		d := newDeadlines(timeout)
		require.Equal(t, maxDeadlineGrain, d.grain)
		start := time.Now()
		first := d.context()
		dl, ok := first.Deadline()
		require.True(t, ok)
		assert.Equal(t, start.Add(timeout+d.grain), dl)

		time.Sleep(d.grain - time.Millisecond)
		assert.Same(t, first, d.context(), "within the grain: the same context")
		left, _ := first.Deadline()
		assert.GreaterOrEqual(t, time.Until(left), timeout)

		time.Sleep(time.Millisecond)
		second := d.context()
		assert.NotSame(t, first, second, "a new grain: a new context")
		dl2, _ := second.Deadline()
		assert.Equal(t, time.Now().Add(timeout+d.grain), dl2)

		require.NoError(t, first.Err())
		time.Sleep(timeout)
		<-first.Done()
		require.ErrorIs(t, first.Err(), context.DeadlineExceeded)
		require.NoError(t, second.Err(), "ends a grain later")
		time.Sleep(d.grain)
		<-second.Done()
	})
}

// A short timeout gets a proportionally short grain: at most a hundredth more.
func TestSharedDeadlinesShortTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		d := newDeadlines(time.Second)
		dl, _ := d.context().Deadline()
		assert.Equal(t, time.Now().Add(time.Second+10*time.Millisecond), dl)
	})
}

// Callers on many goroutines each get a context whose deadline is in bounds (the race detector
// checks the sharing).
func TestSharedDeadlinesConcurrent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const timeout = time.Second
		d := newDeadlines(timeout)
		var wg sync.WaitGroup
		for range 16 {
			wg.Go(func() {
				for range 50 {
					now := time.Now()
					dl, ok := d.context().Deadline()
					assert.True(t, ok)
					assert.False(t, dl.Before(now.Add(timeout)), "at least the timeout")
					assert.False(t, dl.After(now.Add(timeout+d.grain)), "at most one grain more")
					time.Sleep(time.Millisecond)
				}
			})
		}
		wg.Wait()
	})
}

// Made request ids are UUID-shaped and never repeat.
func TestNewRequestID(t *testing.T) {
	seen := make(map[string]bool)
	for range 10000 {
		var b [36]byte
		newRequestID(&b)
		id := string(b[:])
		u, err := uuid.Parse(id)
		require.NoError(t, err, id)
		assert.Equal(t, uuid.Version(4), u.Version())
		assert.Equal(t, uuid.RFC4122, u.Variant())
		require.False(t, seen[id], "repeated %s", id)
		seen[id] = true
	}
}
