// Package runner runs an fx application, as a long-lived service (Run) or for one piece of work
// (Once): start within a timeout that SIGINT/SIGTERM can cut short, then stop gracefully within a
// deadline, with an honest error.
package runner

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"time"

	"go.uber.org/fx"
)

// Timeouts bound the start of an application (every OnStart hook together: connecting, migrating,
// binding) and its graceful stop.
type Timeouts struct {
	Start time.Duration
	Stop  time.Duration
}

// ErrInterrupted is returned when SIGINT or SIGTERM arrived while the application was starting:
// the hook in progress was cancelled and what had started was stopped. It is a requested stop, not
// a failure.
var ErrInterrupted = errors.New("start interrupted by a signal")

// ErrStartTimeout is returned when the application did not start within Timeouts.Start.
var ErrStartTimeout = errors.New("start timed out")

// Run builds the application from opts, starts it and blocks until a signal or an fx.Shutdowner asks
// it to stop; then stops it within t.Stop. A shutdown with a non-zero exit code (a server that failed
// while serving) is an error.
func Run(opts fx.Option, t Timeouts) error {
	hooks := &tracker{}
	app := fx.New(opts, fx.Decorate(hooks.wrap), fx.StartTimeout(t.Start), fx.StopTimeout(t.Stop))
	if err := app.Err(); err != nil {
		return err
	}
	// Subscribe to signals before starting, so that one arriving right after the start is not lost.
	wait := app.Wait()
	if err := start(context.Background(), app, hooks, t); err != nil {
		return err
	}
	sig := <-wait
	if err := stop(app, t); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	if sig.ExitCode != 0 {
		return fmt.Errorf("stopped with exit code %d", sig.ExitCode)
	}
	return nil
}

// Once builds the application from opts, starts it, runs work with a context that ends on SIGINT,
// SIGTERM or when ctx ends, and stops the application, whatever work returned: so every stop hook
// (closing the database, say) runs. The error joins work's and the stop's.
func Once(ctx context.Context, opts fx.Option, t Timeouts, work func(ctx context.Context) error) error {
	hooks := &tracker{}
	app := fx.New(opts, fx.Decorate(hooks.wrap), fx.StartTimeout(t.Start), fx.StopTimeout(t.Stop))
	if err := app.Err(); err != nil {
		return err
	}
	if err := start(ctx, app, hooks, t); err != nil {
		return err
	}
	sigCtx, cancel := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer cancel()
	err := work(sigCtx)
	if serr := stop(app, t); serr != nil {
		err = errors.Join(err, fmt.Errorf("stop: %w", serr))
	}
	return err
}

// start starts app within t.Start; SIGINT, SIGTERM or the end of ctx cancel the hook in progress.
// fx returns at once when the start context ends, and its rollback, bound by that context, then
// stops nothing: so start waits for the cancelled hook to return and stops what had started itself,
// within a fresh t.Stop.
func start(ctx context.Context, app *fx.App, hooks *tracker, t Timeouts) error {
	sigCtx, stopSignals := signal.NotifyContext(ctx, os.Interrupt, syscall.SIGTERM)
	defer stopSignals()
	startCtx, cancel := context.WithTimeout(sigCtx, t.Start)
	defer cancel()
	err := app.Start(startCtx)
	if err == nil {
		return nil
	}
	if startCtx.Err() == nil {
		return err // a hook failed; fx has stopped what had started
	}
	stopCtx, cancelStop := context.WithTimeout(context.Background(), t.Stop)
	defer cancelStop()
	stopErr := hooks.undo(stopCtx)
	switch {
	case sigCtx.Err() != nil && ctx.Err() == nil:
		err = ErrInterrupted
	case errors.Is(startCtx.Err(), context.DeadlineExceeded):
		err = fmt.Errorf("%w after %s", ErrStartTimeout, t.Start)
	}
	if stopErr != nil {
		return errors.Join(err, fmt.Errorf("stop: %w", stopErr))
	}
	return err
}

func stop(app *fx.App, t Timeouts) error {
	ctx, cancel := context.WithTimeout(context.Background(), t.Stop)
	defer cancel()
	return app.Stop(ctx)
}

// tracker stands between the app and its lifecycle to know which start hooks have completed and
// which one is running, so that an interrupted start can be undone: each stop hook runs at most
// once, whoever calls it (fx's rollback or Stop, or undo).
type tracker struct {
	mu       sync.Mutex
	started  []*trackedHook // completed start hooks, in start order
	running  int            // start hooks in progress
	idle     chan struct{}  // closed when running drops to 0 after undo began
	undoing  bool           // no start hook begins any more
	released bool           // idle has been closed
}

type trackedHook struct {
	stop    func(context.Context) error
	stopped bool
}

// wrap is an fx decorator of the app's Lifecycle.
func (t *tracker) wrap(lc fx.Lifecycle) fx.Lifecycle { return trackedLifecycle{lc: lc, t: t} }

type trackedLifecycle struct {
	lc fx.Lifecycle
	t  *tracker
}

func (l trackedLifecycle) Append(h fx.Hook) {
	th := &trackedHook{stop: h.OnStop}
	onStart := h.OnStart
	h.OnStart = func(ctx context.Context) error {
		if !l.t.begin() {
			return ErrInterrupted
		}
		var err error
		if onStart != nil {
			err = onStart(ctx)
		}
		l.t.end(th, err == nil)
		return err
	}
	h.OnStop = func(ctx context.Context) error { return l.t.runStop(ctx, th) }
	l.lc.Append(h)
}

func (t *tracker) begin() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.undoing {
		return false
	}
	t.running++
	return true
}

func (t *tracker) end(h *trackedHook, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.running--
	if ok {
		t.started = append(t.started, h)
	}
	t.releaseIfIdle()
}

func (t *tracker) releaseIfIdle() {
	if t.undoing && t.running == 0 && !t.released {
		t.released = true
		close(t.idle)
	}
}

// runStop runs h's stop hook unless it never started or has stopped already.
func (t *tracker) runStop(ctx context.Context, h *trackedHook) error {
	t.mu.Lock()
	run := !h.stopped && h.stop != nil
	h.stopped = true
	t.mu.Unlock()
	if !run {
		return nil
	}
	return h.stop(ctx)
}

// undo lets no further start hook begin, waits for the one in progress (cancelled with the start
// context) until ctx ends, then runs the stop hooks of those that completed, newest first.
func (t *tracker) undo(ctx context.Context) error {
	t.mu.Lock()
	t.undoing, t.idle = true, make(chan struct{})
	t.releaseIfIdle()
	idle := t.idle
	t.mu.Unlock()
	select {
	case <-idle:
	case <-ctx.Done():
		return fmt.Errorf("a start hook did not return after its context ended: %w", ctx.Err())
	}
	t.mu.Lock()
	started := append([]*trackedHook(nil), t.started...)
	t.mu.Unlock()
	var errs []error
	for i := len(started) - 1; i >= 0; i-- {
		if err := t.runStop(ctx, started[i]); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
