// Package runner runs an fx application as a long-lived service: start, wait for SIGINT/SIGTERM (or
// a shutdown request from inside), then stop gracefully within a deadline, with an honest exit code.
package runner

import (
	"context"
	"fmt"
	"time"

	"go.uber.org/fx"
)

// StartTimeout bounds the start of the application (migrations included).
const StartTimeout = 2 * time.Minute

// Run builds the application from opts, starts it and blocks until a signal or an fx.Shutdowner asks
// it to stop; then stops it, giving in-flight work up to stopTimeout. A shutdown with a non-zero exit
// code (a server that failed while serving) is an error.
func Run(opts fx.Option, stopTimeout time.Duration) error {
	app := fx.New(opts, fx.StopTimeout(stopTimeout))
	if err := app.Err(); err != nil {
		return err
	}
	startCtx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	if err := app.Start(startCtx); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	sig := <-app.Wait()
	stopCtx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if err := app.Stop(stopCtx); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	if sig.ExitCode != 0 {
		return fmt.Errorf("stopped with exit code %d", sig.ExitCode)
	}
	return nil
}
