package main

import (
	"errors"
	"fmt"

	"github.com/gophermart/gophermart/config"
	"github.com/gophermart/gophermart/modules/platform/exitcode"
	"github.com/gophermart/gophermart/modules/platform/runner"
	"github.com/gophermart/gophermart/modules/platform/web"
)

// hintMigrate is what to do about a missing schema.
const hintMigrate = "run `gophermart migrate up`"

// rules say what gophermart's errors mean: the exit codes README's "Exit codes" documents.
var rules = exitcode.Rules{
	Invalid:         []error{config.ErrInvalid},
	DatabaseSetting: config.Settings.Name("db.uri"),
	SchemaHint:      hintMigrate,
}

// failure turns a command's error into the one line to print (without the program name) and the
// exit code.
func failure(err error) (string, int) { return rules.Explain(err) }

// named puts in front of err the setting it is about, when there is one: an address that cannot be
// bound, the start timeout.
func named(cfg *config.Config, err error) error {
	var le *web.ListenError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &le):
		key := "http.address"
		if le.Addr != cfg.HTTP.Address && le.Addr == cfg.BuiltinAccrual.Address {
			key = "builtin_accrual.address"
		}
		return fmt.Errorf("%s: %w", config.Settings.Name(key), err)
	case errors.Is(err, runner.ErrStartTimeout):
		return fmt.Errorf("%s: %w", config.Settings.Name("lifecycle.start_timeout"), err)
	}
	return err
}
