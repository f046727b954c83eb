package main

import (
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/gophermart/gophermart/modules/platform/buildinfo"
	"github.com/gophermart/gophermart/modules/platform/exitcode"
	"github.com/gophermart/gophermart/modules/platform/runner"
	"github.com/gophermart/gophermart/modules/platform/web"
)

// timeouts bound the start (migrating the acc_ tables, binding) and the graceful shutdown
// (in-flight requests and the processing loop).
var timeouts = runner.Timeouts{Start: 2 * time.Minute, Stop: 20 * time.Second}

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "accrual",
		Short: "Compatible accrual system for Gophermart",
		Long: `accrual is a compatible implementation of the accrual system Gophermart asks about orders:
  POST /api/goods            register a reward mechanic {"match","reward","reward_type":"%"|"pt"}
  POST /api/orders           register a purchase {"order","goods":[{"description","price"}]}
  GET  /api/orders/{number}  the order's status and accrual
Registered orders go REGISTERED -> PROCESSING -> PROCESSED in the background. With no arguments it
serves until SIGINT or SIGTERM. Every setting is a flag or an environment variable (flag > environment
> default); the test knobs (rate limit, failures, latency, request log) are off by default.`,
		Version:       buildinfo.Read().String(),
		Args:          cobra.NoArgs,
		SilenceUsage:  true,
		SilenceErrors: true,
		CompletionOptions: cobra.CompletionOptions{
			DisableDefaultCmd: true,
		},
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd.Flags())
			if err != nil {
				return err
			}
			return serve(cfg)
		},
	}
	addFlags(root.Flags())
	root.SetVersionTemplate("accrual {{.Version}}\n")
	root.AddCommand(&cobra.Command{
		Use:   "version",
		Short: "Print the version, the commit it was built from and the Go version (as --version does)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "accrual", buildinfo.Read())
			return err
		},
	})
	exitcode.UsageFlags(root)
	root.Args = func(_ *cobra.Command, args []string) error {
		if len(args) > 0 {
			return fmt.Errorf("%w: unexpected argument %q (see --help)", errUsage, args[0])
		}
		return nil
	}
	return root
}

// serve runs the service until SIGINT/SIGTERM, then stops it gracefully. An address it cannot
// bind is told with the setting that names it.
func serve(cfg *config) error {
	err := runner.Run(appOptions(cfg), timeouts)
	var le *web.ListenError
	switch {
	case errors.Is(err, runner.ErrInterrupted):
		return nil // a requested stop, however early
	case errors.As(err, &le):
		return fmt.Errorf("%s: %w", table.Name("run_address"), err)
	}
	return err
}
