package main

import (
	"time"

	"github.com/spf13/cobra"

	"github.com/gophermart/gophermart/modules/platform/runner"
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
			return runner.Run(serveOptions(cfg), stopTimeout)
		},
	}
}
