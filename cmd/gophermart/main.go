// Command gophermart is the Gophermart loyalty-points service: with no subcommand it serves the API
// and runs the accrual worker; `migrate`, `resync` and `ledger check` are operations on its database.
package main

func main() { rules.Main("gophermart", newRootCmd()) }
