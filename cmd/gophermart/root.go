package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gophermart/gophermart/config"
	"github.com/gophermart/gophermart/modules/platform/buildinfo"
	"github.com/gophermart/gophermart/modules/platform/exitcode"
)

// errUsage marks command-line mistakes (unknown flag, bad argument): exit code 2.
var errUsage = exitcode.ErrUsage

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "gophermart",
		Short: "Gophermart loyalty-points service",
		Long: `Gophermart is a loyalty-points service: users register, upload the numbers of orders they
bought, the service learns from an accrual system how many points each order earns, credits them
exactly once, and lets users spend them.

With no subcommand it runs "serve". Every setting is a flag, an environment variable or a key of the
YAML file given with --config (flag > environment > file > default); each command takes as flags
only the settings it uses, and reads the others from the environment or the file.`,
		Version:       buildinfo.Read().String(),
		Args:          exitcode.UsageArgs(cobra.NoArgs),
		SilenceUsage:  true,
		SilenceErrors: true,
		CompletionOptions: cobra.CompletionOptions{
			DisableDefaultCmd: true,
		},
	}
	root.SetVersionTemplate("gophermart {{.Version}}\n")
	exitcode.UsageFlags(root)
	serve, migrate, resync, ledger := newServeCmd(), newMigrateCmd(), newResyncCmd(), newLedgerCmd()
	root.RunE = serve.RunE
	root.AddCommand(serve, migrate, resync, ledger, newVersionCmd())
	// Each command takes as flags only the settings it uses: the server's all of them, the commands
	// that only work on the database the database's and logging's.
	config.AddFlags(root.Flags())
	config.AddFlags(serve.Flags())
	config.AddDatabaseFlags(migrate.Flags())
	config.AddDatabaseFlags(resync.Flags())
	for _, c := range ledger.Commands() { // check
		config.AddDatabaseFlags(c.Flags())
	}
	return root
}

// loadConfig reads the configuration for cmd from its flags, the environment and the config file.
func loadConfig(cmd *cobra.Command) (*config.Config, error) {
	return config.Load(cmd.Flags())
}

// cmdContext is cmd's context, or the background one when it has none (Execute called directly).
func cmdContext(cmd *cobra.Command) context.Context {
	if ctx := cmd.Context(); ctx != nil {
		return ctx
	}
	return context.Background()
}

// argsError turns cobra's argument complaints into usage errors.
func argsError(valid ...string) cobra.PositionalArgs {
	return func(_ *cobra.Command, args []string) error {
		if len(args) > 1 {
			return fmt.Errorf("%w: too many arguments", errUsage)
		}
		if len(args) == 1 {
			for _, v := range valid {
				if args[0] == v {
					return nil
				}
			}
			return fmt.Errorf("%w: unknown argument %q: want one of %s", errUsage, args[0], strings.Join(valid, ", "))
		}
		return nil
	}
}
