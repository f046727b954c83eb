package main

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	"go.uber.org/fx"

	"github.com/gophermart/gophermart/modules/accrual"
	"github.com/gophermart/gophermart/modules/orders"
	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/runner"
)

func newResyncCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "resync [ORDER...]",
		Short: "Make pending orders (or the numbers given) due now, e.g. after an accrual outage",
		Long: `Make every pending (NEW or PROCESSING) order, or only the numbers given, due now with a fresh
attempt count, so that the accrual worker asks about them at once instead of after its backoff, e.g.
after an accrual outage. Orders an instance is asking about right now are left to it. On PostgreSQL
running instances are notified and start at once; otherwise they pick the orders up on their next
poll. It needs a migrated database and changes nothing without one. Final (INVALID, PROCESSED) and unknown numbers are skipped and counted. A rate-limit pause
kept from the accrual system's last 429 is cleared too (the learned per-minute limit stays), and
the command says so.`,
		RunE: func(cmd *cobra.Command, args []string) error {
			numbers := make([]ordernum.Number, 0, len(args))
			for _, a := range args {
				n, err := ordernum.Parse(a)
				if err != nil {
					return fmt.Errorf("%w: %q is not an order number", errUsage, a)
				}
				numbers = append(numbers, n)
			}
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			var q *orders.Queue
			var d *db.DB
			return runner.Once(cmdContext(cmd), fx.Options(existingOptions(cfg), fx.Provide(orders.NewQueue), fx.Populate(&q, &d)),
				timeouts(cfg), func(ctx context.Context) error {
					res, err := q.Resync(ctx, numbers)
					if err != nil {
						return err
					}
					out := cmd.OutOrStdout()
					fmt.Fprintf(out, "made %d pending orders due; %d unknown/final numbers skipped", res.Due, res.Skipped)
					if res.InFlight > 0 {
						fmt.Fprintf(out, "; %d in flight left to the instance asking about them", res.InFlight)
					}
					fmt.Fprintln(out)
					until, err := accrual.ClearPause(ctx, d)
					if err != nil {
						return err
					}
					if !until.IsZero() {
						fmt.Fprintf(out, "cleared the accrual system's rate-limit pause (it would have lasted until %s)\n",
							until.UTC().Format(time.RFC3339))
					}
					if res.Due > 0 || !until.IsZero() {
						return orders.Announce(ctx, d, "resync")
					}
					return nil
				})
		},
	}
}
