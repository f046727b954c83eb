package runner_test

import (
	"context"
	"errors"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/gophermart/gophermart/modules/platform/runner"
)

// journal records which hooks ran, in order.
type journal struct {
	mu    sync.Mutex
	lines []string
}

func (j *journal) add(s string) {
	j.mu.Lock()
	defer j.mu.Unlock()
	j.lines = append(j.lines, s)
}

func (j *journal) get() []string {
	j.mu.Lock()
	defer j.mu.Unlock()
	return append([]string(nil), j.lines...)
}

// part is a hook pair that records its start and stop.
func part(j *journal, name string) fx.Option {
	return fx.Invoke(func(lc fx.Lifecycle) {
		lc.Append(fx.Hook{
			OnStart: func(context.Context) error { j.add("start " + name); return nil },
			OnStop:  func(context.Context) error { j.add("stop " + name); return nil },
		})
	})
}

// blocking is a start hook that waits for its context to end, after telling entered.
func blocking(j *journal, entered chan<- struct{}) fx.Option {
	return fx.Invoke(func(lc fx.Lifecycle) {
		lc.Append(fx.StartHook(func(ctx context.Context) error {
			j.add("start blocking")
			close(entered)
			<-ctx.Done()
			return ctx.Err()
		}))
	})
}

var timeouts = runner.Timeouts{Start: time.Minute, Stop: 10 * time.Second}

// Once stops the app after its work, whatever the work returned: every stop hook runs.
func TestOnceStopsAfterWork(t *testing.T) {
	boom := errors.New("boom")
	for _, workErr := range []error{nil, boom} {
		j := &journal{}
		err := runner.Once(context.Background(), fx.Options(fx.NopLogger, part(j, "db"), part(j, "cache")), timeouts,
			func(context.Context) error { j.add("work"); return workErr })
		if workErr != nil {
			require.ErrorIs(t, err, boom)
		} else {
			require.NoError(t, err)
		}
		assert.Equal(t, []string{"start db", "start cache", "work", "stop cache", "stop db"}, j.get())
	}
}

// A hook that fails stops the start; what had started is stopped and the work never runs.
func TestOnceStartFailure(t *testing.T) {
	j := &journal{}
	boom := errors.New("boom")
	failing := fx.Invoke(func(lc fx.Lifecycle) {
		lc.Append(fx.StartHook(func(context.Context) error { return boom }))
	})
	err := runner.Once(context.Background(), fx.Options(fx.NopLogger, part(j, "db"), failing, part(j, "late")), timeouts,
		func(context.Context) error { j.add("work"); return nil })
	require.ErrorIs(t, err, boom)
	assert.Equal(t, []string{"start db", "stop db"}, j.get())
}

// SIGTERM while a hook is starting cancels it; what had started is stopped, and the error says the
// start was interrupted (a requested stop, not a failure). Not parallel: it signals the process.
func TestSignalDuringStartInterrupts(t *testing.T) {
	j := &journal{}
	entered := make(chan struct{})
	go func() {
		<-entered
		assert.NoError(t, syscall.Kill(syscall.Getpid(), syscall.SIGTERM))
	}()
	err := runner.Run(fx.Options(fx.NopLogger, fx.Module("db", part(j, "db")), blocking(j, entered), part(j, "server")), timeouts)
	require.ErrorIs(t, err, runner.ErrInterrupted)
	assert.Equal(t, []string{"start db", "start blocking", "stop db"}, j.get(), "a module's hooks are undone too")
}

// A start that outlasts the start timeout is cancelled and reported as such.
func TestStartTimeout(t *testing.T) {
	t.Parallel()
	j := &journal{}
	entered := make(chan struct{})
	err := runner.Once(context.Background(), fx.Options(fx.NopLogger, part(j, "db"), blocking(j, entered)),
		runner.Timeouts{Start: 50 * time.Millisecond, Stop: 10 * time.Second},
		func(context.Context) error { j.add("work"); return nil })
	require.ErrorIs(t, err, runner.ErrStartTimeout)
	assert.Contains(t, err.Error(), "50ms")
	assert.Equal(t, []string{"start db", "start blocking", "stop db"}, j.get())
}

// Run serves until asked to stop, then stops everything in reverse order and returns nil.
func TestRunStopsWhenAsked(t *testing.T) {
	t.Parallel()
	j := &journal{}
	ready := fx.Invoke(func(lc fx.Lifecycle, sd fx.Shutdowner) {
		lc.Append(fx.StartHook(func() {
			go func() { assert.NoError(t, sd.Shutdown()) }()
		}))
	})
	require.NoError(t, runner.Run(fx.Options(fx.NopLogger, part(j, "db"), part(j, "server"), ready), timeouts))
	assert.Equal(t, []string{"start db", "start server", "stop server", "stop db"}, j.get())
}

// A shutdown asked for from inside with a non-zero exit code (a server that died) is an error.
func TestRunShutdownWithExitCode(t *testing.T) {
	t.Parallel()
	die := fx.Invoke(func(lc fx.Lifecycle, sd fx.Shutdowner) {
		lc.Append(fx.StartHook(func() error { return sd.Shutdown(fx.ExitCode(1)) }))
	})
	err := runner.Run(fx.Options(fx.NopLogger, die), timeouts)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "exit code 1")
}
