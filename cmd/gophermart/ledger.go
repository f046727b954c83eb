package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"
	"go.uber.org/fx"

	"github.com/gophermart/gophermart/modules/balance"
	"github.com/gophermart/gophermart/modules/platform/exitcode"
	"github.com/gophermart/gophermart/modules/platform/runner"
)

// errLedger marks a ledger that breaks its invariant: exit code 1.
var errLedger = errors.New("ledger invariant broken")

func newLedgerCmd() *cobra.Command {
	ledger := &cobra.Command{
		Use:   "ledger",
		Short: "Operations on the points ledger",
		Args:  cobra.ArbitraryArgs,
		RunE: func(_ *cobra.Command, args []string) error {
			if len(args) > 0 {
				return fmt.Errorf("%w: unknown ledger command %q: want check", errUsage, args[0])
			}
			return fmt.Errorf("%w: want a ledger command: check", errUsage)
		},
	}
	ledger.AddCommand(&cobra.Command{
		Use:   "check",
		Short: "Verify every user's balance against their credits and withdrawals",
		Long: `Verify over the whole database that, for every user, current = credited - withdrawn,
withdrawn = the sum of their withdrawals, and current >= 0. Prints each user who breaks it and
exits 1 if any does, 0 if the ledger is healthy. It only reads; run it against a live database
(serve also checks it periodically: GOPHERMART_LEDGER_CHECK_INTERVAL).`,
		Args: exitcode.UsageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			var svc *balance.Service
			return runner.Once(cmdContext(cmd), fx.Options(
				existingOptions(cfg),
				fx.Provide(balance.NewService, fx.Annotate(balance.NewStore, fx.As(new(balance.Store)))),
				fx.Populate(&svc),
			), timeouts(cfg), func(ctx context.Context) error {
				violations, err := svc.CheckLedger(ctx)
				if err != nil {
					return err
				}
				for _, v := range violations {
					fmt.Fprintln(cmd.OutOrStdout(), v.String())
				}
				if len(violations) > 0 {
					return fmt.Errorf("%w: %d user(s)", errLedger, len(violations))
				}
				fmt.Fprintln(cmd.OutOrStdout(), "ledger ok")
				return nil
			})
		},
	})
	return ledger
}
