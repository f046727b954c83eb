// Command accrual is a compatible accrual system for Gophermart: it registers reward mechanics and
// purchases, computes each order's points in the background and answers GET /api/orders/{number}, like
// the public "black box". Started with no arguments it serves; every setting is a flag or an
// environment variable.
package main

import (
	"errors"
	"fmt"
	"os"
)

func main() {
	if err := newRootCmd().Execute(); err != nil {
		fmt.Fprintln(os.Stderr, "accrual:", err)
		if errors.Is(err, errInvalid) || errors.Is(err, errUsage) {
			os.Exit(2)
		}
		os.Exit(1)
	}
}
