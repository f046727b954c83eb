// Command gophermart is the Gophermart loyalty-points service: with no subcommand it serves the API
// and runs the accrual worker; `migrate` and `resync` are operations on its database.
package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/gophermart/gophermart/config"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "gophermart:", err)
		if errors.Is(err, config.ErrInvalid) || errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
