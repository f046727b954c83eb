package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"
	"go.uber.org/fx"

	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/runner"
)

func newMigrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate [up|down|status]",
		Short: "Manage the database schema: apply (up, the default), roll back one (down), or list (status)",
		Long: `Manage the database schema on its own (serve also applies pending migrations at start).
  up      apply every pending migration (default)
  down    roll back the newest applied migration
  status  list every migration and whether it is applied
On PostgreSQL an advisory lock serialises concurrent runs, so several instances never double-apply.`,
		Args: argsError("up", "down", "status"),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig(cmd)
			if err != nil {
				return err
			}
			action := "up"
			if len(args) == 1 {
				action = args[0]
			}
			var m *db.Migrator
			return runner.Once(cmdContext(cmd), fx.Options(baseOptions(cfg), fx.Provide(newMigrator), fx.Populate(&m)),
				timeouts(cfg), func(ctx context.Context) error {
					switch action {
					case "up":
						n, err := m.Up(ctx)
						if err != nil {
							return err
						}
						fmt.Fprintf(cmd.OutOrStdout(), "applied %d migration(s)\n", n)
					case "down":
						if err := m.Down(ctx); err != nil {
							return err
						}
						fmt.Fprintln(cmd.OutOrStdout(), "rolled back 1 migration")
					case "status":
						st, err := m.Status(ctx)
						if err != nil {
							return err
						}
						for _, s := range st {
							state := "pending"
							if s.Applied {
								state = "applied"
							}
							fmt.Fprintf(cmd.OutOrStdout(), "%05d  %-8s %s\n", s.Version, state, s.Source)
						}
					}
					return nil
				})
		},
	}
}
