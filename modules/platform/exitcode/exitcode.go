// Package exitcode is how both binaries end on an error: one line on stderr naming the cause (and
// the setting at fault, where there is one), and the exit code README's "Exit codes" documents.
package exitcode

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strings"

	"github.com/spf13/cobra"
	"go.uber.org/dig"

	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/web"
)

// The exit codes.
const (
	OK       = 0
	Failure  = 1 // any other failure, at start or while running
	Usage    = 2 // bad usage or configuration: unknown command, flag, argument or config key, invalid value
	Database = 3 // database unreachable (down, refused, wrong credentials) or its schema missing
	Listen   = 4 // an address to listen on is taken or not allowed
)

// ErrUsage marks command-line mistakes (unknown flag, command or argument): exit code 2.
var ErrUsage = errors.New("usage")

// Rules say what one binary's errors mean.
type Rules struct {
	// Invalid are the errors of an invalid configuration (exit code 2), besides ErrUsage.
	Invalid []error
	// DatabaseSetting names the database's setting as a user sets it, e.g. "DATABASE_URI (-d)":
	// it goes in front of the errors of an unusable database.
	DatabaseSetting string
	// SchemaHint is what to do about a missing schema, told after its error; "" tells nothing.
	SchemaHint string
}

// Explain turns a command's error into the one line to print (without the program name) and the
// exit code. fx and dig wrap a constructor's error in the whole dependency path: only its root cause
// is told.
func (r Rules) Explain(err error) (string, int) {
	err = dig.RootCause(err)
	msg := err.Error()
	code := Failure
	var le *web.ListenError
	var oe *net.OpError
	switch {
	case errors.Is(err, ErrUsage), r.invalid(err):
		code = Usage
	case errors.Is(err, db.ErrBadURI): // what only the driver's parser finds
		code = Usage
		msg = r.database(msg)
	case errors.Is(err, db.ErrUnreachable):
		code = Database
		msg = r.database(msg)
	case errors.Is(err, db.ErrSchemaMissing):
		code = Database
		if r.SchemaHint != "" {
			msg += "; " + r.SchemaHint
		}
	case errors.As(err, &le), errors.As(err, &oe) && oe.Op == "listen": // a web server's, or another listener's (pprof)
		code = Listen
	}
	return strings.Join(strings.Fields(msg), " "), code // one line, whatever the causes say
}

func (r Rules) invalid(err error) bool {
	for _, target := range r.Invalid {
		if errors.Is(err, target) {
			return true
		}
	}
	return false
}

func (r Rules) database(msg string) string {
	if r.DatabaseSetting == "" {
		return msg
	}
	return r.DatabaseSetting + ": " + msg
}

// Run executes cmd and returns its exit code, having written the failure's one line, after the
// program's name, to stderr.
func (r Rules) Run(program string, cmd *cobra.Command, stderr io.Writer) int {
	err := cmd.Execute()
	if err == nil {
		return OK
	}
	msg, code := r.Explain(err)
	fmt.Fprintln(stderr, program+": "+msg)
	return code
}

// Main executes cmd and exits the process with its exit code.
func (r Rules) Main(program string, cmd *cobra.Command) {
	os.Exit(r.Run(program, cmd, os.Stderr))
}

// UsageFlags makes cmd's flag errors usage errors (exit code 2) that point to --help. Commands
// added to cmd later inherit it.
func UsageFlags(cmd *cobra.Command) {
	cmd.SetFlagErrorFunc(func(_ *cobra.Command, err error) error {
		return fmt.Errorf("%w: %w (see --help)", ErrUsage, err)
	})
}

// UsageArgs makes the complaints of check (an unknown command, a stray argument) usage errors.
func UsageArgs(check cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error {
		if err := check(cmd, args); err != nil {
			return fmt.Errorf("%w: %w", ErrUsage, err)
		}
		return nil
	}
}
