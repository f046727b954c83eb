package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/fx"
)

// stopTimeout bounds graceful shutdown: in-flight requests and accrual calls get this long.
const stopTimeout = 20 * time.Second

func newServeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Migrate the schema if needed, serve the API and run the accrual worker (the default)",
		Long: `Migrate the schema if needed, serve the HTTP API and run the accrual worker until SIGINT or
SIGTERM; then stop accepting, finish in-flight requests, stop the worker and exit 0.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			app := fx.New(serveOptions(cfg), fx.StopTimeout(stopTimeout))
			if err := app.Err(); err != nil {
				return err
			}
			startCtx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
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
		},
	}
}
