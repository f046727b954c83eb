package main

import (
	"errors"
	"log/slog"

	"github.com/spf13/cobra"
	"go.uber.org/fx"

	"github.com/gophermart/gophermart/config"
	"github.com/gophermart/gophermart/modules/platform/exitcode"
	"github.com/gophermart/gophermart/modules/platform/runner"
)

func newServeCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "serve",
		Short: "Migrate the schema if needed, serve the API and run the accrual worker (the default)",
		Long: `Migrate the schema if needed, serve the HTTP API and run the accrual worker until SIGINT or
SIGTERM; then stop accepting, finish in-flight requests, stop the worker and exit 0. A signal while
starting (during a long migration, say) cancels the start, stops what had started and exits 0 too.`,
		Args: exitcode.UsageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			var log *slog.Logger
			err = runner.Run(fx.Options(serveOptions(cfg), fx.Populate(&log)), timeouts(cfg))
			if errors.Is(err, runner.ErrInterrupted) {
				log.Info("start interrupted by a signal; what had started is stopped")
				return nil
			}
			return named(cfg, err)
		},
	}
}

// timeouts are the configured start and stop timeouts.
func timeouts(cfg *config.Config) runner.Timeouts {
	return runner.Timeouts{Start: cfg.Lifecycle.StartTimeout, Stop: cfg.Lifecycle.StopTimeout}
}
