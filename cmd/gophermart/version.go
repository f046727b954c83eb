package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/gophermart/gophermart/modules/platform/buildinfo"
)

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, the commit it was built from and the Go version (as --version does)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), "gophermart", buildinfo.Read())
			return err
		},
	}
}
