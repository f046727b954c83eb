package main

import (
	"errors"
	"fmt"
	"net"
	"strings"

	"go.uber.org/dig"

	"github.com/gophermart/gophermart/config"
	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/runner"
	"github.com/gophermart/gophermart/modules/platform/web"
)

// Exit codes, as README's "Exit codes" documents them.
const (
	exitFailure  = 1 // any other failure, at start or while running; ledger check found violations
	exitUsage    = 2 // bad usage or configuration: unknown command, flag, argument or config key, invalid value
	exitDatabase = 3 // database unreachable (down, refused, wrong credentials) or its schema missing
	exitListen   = 4 // an address to listen on is taken or not allowed
)

// hintMigrate is what to do about a missing schema.
const hintMigrate = "run `gophermart migrate up`"

// failure turns a command's error into the one line to print (without the program name) and the
// exit code. fx and dig wrap a constructor's error in the whole dependency path: only its root cause
// is told.
func failure(err error) (string, int) {
	err = dig.RootCause(err)
	msg := err.Error()
	code := exitFailure
	var le *web.ListenError
	var oe *net.OpError
	switch {
	case errors.Is(err, config.ErrInvalid), errors.Is(err, errUsage):
		code = exitUsage
	case errors.Is(err, db.ErrBadURI): // what only the driver's parser finds
		code = exitUsage
		msg = config.Settings.Name("db.uri") + ": " + msg
	case errors.Is(err, db.ErrUnreachable):
		code = exitDatabase
		msg = config.Settings.Name("db.uri") + ": " + msg
	case errors.Is(err, db.ErrSchemaMissing):
		code = exitDatabase
		msg += "; " + hintMigrate
	case errors.As(err, &le), errors.As(err, &oe) && oe.Op == "listen": // the API's and the others' (pprof)
		code = exitListen
	}
	return strings.Join(strings.Fields(msg), " "), code // one line, whatever the causes say
}

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
