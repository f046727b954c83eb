package main

import (
	"github.com/spf13/cobra"
)

func newResyncCmd() *cobra.Command {
	return &cobra.Command{
		Use:   "resync [ORDER...]",
		Short: "Make pending orders (or the numbers given) due now, e.g. after an accrual outage",
		RunE: func(cmd *cobra.Command, args []string) error {
			// TODO(#5): resync with the accrual worker.
			_, err := loadConfig(cmd)
			return err
		},
	}
}
