package accrual

import (
	"context"
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
