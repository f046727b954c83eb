// Command accrual is a compatible accrual system for Gophermart: it registers reward mechanics and
// purchases, computes each order's points in the background and answers GET /api/orders/{number}, like
// the public "black box". Started with no arguments it serves; every setting is a flag or an
// environment variable.
package main

import "github.com/gophermart/gophermart/modules/platform/exitcode"

// rules say what accrual's errors mean: the exit codes README's "Exit codes" documents, as for
// gophermart.
var rules = exitcode.Rules{Invalid: []error{errInvalid}, DatabaseSetting: table.Name("database_uri")}

func main() { rules.Main("accrual", newRootCmd()) }
