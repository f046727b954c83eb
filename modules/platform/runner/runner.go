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
	app := fx.New(opts, fx.StartTimeout(t.Start), fx.StopTimeout(t.Stop))
	if err := app.Err(); err != nil {
		return err
	}
	// Subscribe to signals before starting, so that one arriving right after the start is not lost.
	wait := app.Wait()
	if err := start(context.Background(), app, t); err != nil {
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
	app := fx.New(opts, fx.StartTimeout(t.Start), fx.StopTimeout(t.Stop))
	if err := app.Err(); err != nil {
		return err
	}
	if err := start(ctx, app, t); err != nil {
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
// fx returns at once when the start context ends, and its rollback then stops nothing (its context
// has ended too): so what had started is stopped here, with a fresh t.Stop. The hook that was
// cancelled may still be returning meanwhile; it fails on its cancelled context.
func start(ctx context.Context, app *fx.App, t Timeouts) error {
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
	stopErr := stop(app, t)
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
