package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"go.uber.org/dig"
	"go.uber.org/fx"

	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/runner"
)

func newMigrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "migrate [up|down|status]",
		Short: "Manage the database schema: apply (up, the default), roll back one (down), or list (status)",
		Long: `Manage the database schema on its own (serve also applies pending migrations at start).
  up      apply every pending migration (default); creates the SQLite file if it does not exist
  down    roll back the newest applied migration; with none applied there is nothing to do (exit 0)
  status  list every migration and whether it is applied
Only up creates anything: down and status on a SQLite file that does not exist create nothing
(status then fails with exit code 3, saying to run "gophermart migrate up"), and neither creates
goose's version table. On PostgreSQL an advisory lock serialises concurrent runs, so several
instances never double-apply.`,
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
			opts := baseOptions(cfg)
			if action != "up" {
				opts = existingDBOptions(cfg)
			}
			out := cmd.OutOrStdout()
			var m *db.Migrator
			err = runner.Once(cmdContext(cmd), fx.Options(opts, fx.Provide(newMigrator), fx.Populate(&m)),
				timeouts(cfg), func(ctx context.Context) error {
					switch action {
					case "up":
						n, err := m.Up(ctx)
						if err != nil {
							return err
						}
						fmt.Fprintf(out, "applied %d migration(s)\n", n)
					case "down":
						if err := m.Down(ctx); err != nil {
							return err
						}
						fmt.Fprintln(out, "rolled back 1 migration")
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
							fmt.Fprintf(out, "%05d  %-8s %s\n", s.Version, state, s.Source)
						}
					}
					return nil
				})
			if action == "down" {
				// No database file, or no migration applied: there is nothing to roll back.
				if root := dig.RootCause(err); errors.Is(root, db.ErrSchemaMissing) || errors.Is(root, db.ErrNothingToRollBack) {
					msg := root.Error()
					if errors.Is(root, db.ErrSchemaMissing) {
						msg = "nothing to roll back: " + strings.TrimPrefix(msg, db.ErrSchemaMissing.Error()+": ")
					}
					fmt.Fprintln(out, msg)
					return nil
				}
			}
			return err
		},
	}
}
