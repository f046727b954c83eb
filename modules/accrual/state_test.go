package accrual

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
)

// The shared pause only ever grows, and the last learned limit wins.
func TestStateStoreSharesThePause(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			ctx := context.Background()
			s := &stateStore{db: d}
			until, limit, err := s.load(ctx)
			require.NoError(t, err)
			assert.True(t, until.IsZero())
			assert.Zero(t, limit)

			later := time.Now().UTC().Add(time.Minute).Truncate(time.Microsecond)
			require.NoError(t, s.pause(ctx, later, 10))
			until, limit, err = s.load(ctx)
			require.NoError(t, err)
			assert.True(t, later.Equal(until), "want %v, got %v", later, until)
			assert.Equal(t, 10, limit)

			require.NoError(t, s.pause(ctx, later.Add(-30*time.Second), 0)) // shorter: no change
			until, limit, err = s.load(ctx)
			require.NoError(t, err)
			assert.True(t, later.Equal(until))
			assert.Equal(t, 10, limit, "a 429 without a limit keeps the known one")

			evenLater := later.Add(time.Second)
			require.NoError(t, s.pause(ctx, evenLater, 5))
			until, limit, err = s.load(ctx)
			require.NoError(t, err)
			assert.True(t, evenLater.Equal(until))
			assert.Equal(t, 5, limit)
		})
	}
}

// Send slots are shared through the database: at most limit per window, whoever asks; a full window
// says how long until its oldest send leaves; old sends are pruned.
func TestStateStoreSharesSendSlots(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			ctx := context.Background()
			a, b := &stateStore{db: d}, &stateStore{db: d} // two instances
			t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			reserve := func(s *stateStore, at time.Time) time.Duration {
				t.Helper()
				var wait time.Duration
				require.NoError(t, d.InTx(ctx, func(ctx context.Context) error {
					var err error
					wait, err = s.reserveSend(ctx, 3, time.Minute, at)
					return err
				}))
				return wait
			}
			assert.Zero(t, reserve(a, t0))
			assert.Zero(t, reserve(b, t0.Add(time.Second)))
			assert.Zero(t, reserve(a, t0.Add(2*time.Second)))
			assert.Equal(t, 57*time.Second, reserve(b, t0.Add(3*time.Second)), "full: the first send leaves at t0+1m")
			assert.Equal(t, 57*time.Second, reserve(a, t0.Add(3*time.Second)), "a refused reservation records nothing")
			assert.Zero(t, reserve(b, t0.Add(time.Minute)), "the first send left the window")
			assert.Equal(t, time.Second, reserve(a, t0.Add(time.Minute)))

			var rows int64
			require.NoError(t, d.Conn(ctx).Raw("SELECT count(*) FROM gm_accrual_sends").Scan(&rows).Error)
			assert.Equal(t, int64(3), rows, "sends out of the window are pruned")
		})
	}
}

// Concurrent reservations of two instances never take more than limit slots of one window.
func TestStateStoreSendSlotsUnderConcurrency(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			ctx := context.Background()
			now := time.Now().UTC()
			const limit = 5
			var granted atomic.Int64
			var wg sync.WaitGroup
			for i := range 20 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					s := &stateStore{db: d}
					err := d.InTx(ctx, func(ctx context.Context) error {
						wait, err := s.reserveSend(ctx, limit, time.Minute, now.Add(time.Duration(i)*time.Millisecond))
						if err == nil && wait == 0 {
							granted.Add(1)
						}
						return err
					})
					assert.NoError(t, err)
				}()
			}
			wg.Wait()
			assert.Equal(t, int64(limit), granted.Load())
		})
	}
}

// fillSends tops the window up to the limit, and only up to it: every instance then finds the
// window spent, and a second fill adds nothing.
func TestStateStoreFillsTheWindow(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			ctx := context.Background()
			s := &stateStore{db: d}
			now := time.Now().UTC()
			for range 2 {
				wait, err := s.reserveSend(ctx, 5, time.Minute, now)
				require.NoError(t, err)
				require.Zero(t, wait)
			}
			require.NoError(t, s.fillSends(ctx, 5, time.Minute, now))
			require.NoError(t, s.fillSends(ctx, 5, time.Minute, now))
			var n int64
			require.NoError(t, d.Conn(ctx).Raw("SELECT count(*) FROM gm_accrual_sends").Scan(&n).Error)
			assert.Equal(t, int64(5), n)
			wait, err := s.reserveSend(ctx, 5, time.Minute, now.Add(time.Second))
			require.NoError(t, err)
			assert.Equal(t, 59*time.Second, wait, "spent until the window has passed")
		})
	}
}
