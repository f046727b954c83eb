package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// No server here: the op is a function, so these check only the runner's bookkeeping.

func TestRunLoadCountsExpectedAndErrors(t *testing.T) {
	var calls atomic.Int64
	fn := func(_ context.Context, w int) (int, error) {
		calls.Add(1)
		time.Sleep(time.Millisecond)
		switch w {
		case 0:
			return http.StatusOK, nil
		case 1:
			return http.StatusAccepted, nil // also expected
		case 2:
			return http.StatusConflict, nil
		default:
			return 0, errors.New("connection refused")
		}
	}
	samples := []cpuSample{
		{server: time.Second, self: 2 * time.Second, machine: 10 * time.Second, ok: true},
		{server: 1500 * time.Millisecond, self: 2100 * time.Millisecond, machine: 10700 * time.Millisecond, ok: true},
	}
	var probes int
	probe := func() cpuSample { probes++; return samples[probes-1] }
	res := runLoad(context.Background(), "x", 4, window{warmup: 20 * time.Millisecond, duration: 100 * time.Millisecond},
		[]int{http.StatusOK, http.StatusAccepted}, fn, probe)
	require.Empty(t, res.Failed)
	assert.Equal(t, "x", res.Scenario)
	assert.Equal(t, "req/s", res.Unit)
	assert.Positive(t, res.Count)
	assert.Positive(t, res.Errors)
	assert.Equal(t, res.Errors, res.ErrorKinds["status 409"]+res.ErrorKinds["transport"])
	assert.Positive(t, res.ErrorKinds["status 409"])
	assert.Positive(t, res.ErrorKinds["transport"])
	assert.Less(t, int64(res.Count+res.Errors), calls.Load(), "warm-up requests are not counted")
	assert.InDelta(t, float64(res.Count)/0.1, res.PerSec, 1e-6)
	assert.Positive(t, res.P50Ms)
	assert.GreaterOrEqual(t, res.P99Ms, res.P50Ms)
	assert.Contains(t, res.Note, "connection refused")
	assert.Equal(t, 2, probes, "sampled at the start and the end of the window")
	require.NotNil(t, res.CPU)
	assert.InDelta(t, 5.0, res.CPU.Server, 1e-9) // 0.5 s of CPU in a 0.1 s window
	assert.InDelta(t, 1.0, res.CPU.Loadgen, 1e-9)
	assert.InDelta(t, 7.0, res.CPU.Machine, 1e-9)
	assert.InDelta(t, 500_000/float64(res.Count), res.CPU.ServerUsPerOp, 1e-6)
}

func TestRunLoadStopsWhenContextEnds(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := runLoad(ctx, "x", 2, window{duration: time.Hour}, []int{http.StatusOK},
		func(context.Context, int) (int, error) { return http.StatusOK, nil }, nil)
	assert.Equal(t, "interrupted", res.Failed)
	assert.Zero(t, res.Count)
}

func TestErrorKind(t *testing.T) {
	assert.Equal(t, "status 500", errorKind(500, nil))
	assert.Equal(t, "timeout", errorKind(0, fmt.Errorf("get: %w", context.DeadlineExceeded)))
	assert.Equal(t, "transport", errorKind(0, errors.New("EOF")))
}

func TestParallel(t *testing.T) {
	var sum atomic.Int64
	require.NoError(t, parallel(context.Background(), 3, 100, func(_ context.Context, i int) error {
		sum.Add(int64(i))
		return nil
	}))
	assert.Equal(t, int64(99*100/2), sum.Load())

	boom := errors.New("boom")
	var after atomic.Int64
	err := parallel(context.Background(), 1, 100, func(_ context.Context, i int) error {
		if i == 10 {
			return boom
		}
		if i > 10 {
			after.Add(1)
		}
		return nil
	})
	require.ErrorIs(t, err, boom)
	assert.Zero(t, after.Load(), "no new call starts after an error")
}
