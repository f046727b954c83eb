// Command gophermart is the Gophermart loyalty-points service: with no subcommand it serves the API
// and runs the accrual worker; `migrate`, `resync` and `ledger check` are operations on its database.
package main

import (
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		msg, code := failure(err)
		fmt.Fprintln(os.Stderr, "gophermart: "+msg)
		os.Exit(code)
	}
}
