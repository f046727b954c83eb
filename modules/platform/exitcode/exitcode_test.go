package exitcode

import (
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/stretchr/testify/assert"

	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/web"
)

var errInvalid = errors.New("invalid configuration")

func TestExplain(t *testing.T) {
	r := Rules{Invalid: []error{errInvalid}, DatabaseSetting: "DB_URI (-d)", SchemaHint: "run `x migrate up`"}
	tests := []struct {
		name     string
		rules    Rules
		err      error
		wantMsg  string
		wantCode int
	}{
		{"usage", r, fmt.Errorf("%w: unknown flag --x", ErrUsage), "usage: unknown flag --x", Usage},
		{"invalid configuration", r, fmt.Errorf("%w: A: bad", errInvalid), "invalid configuration: A: bad", Usage},
		{"an invalid sentinel of no rules is a plain failure", Rules{}, fmt.Errorf("%w: A: bad", errInvalid), "invalid configuration: A: bad", Failure},
		{"bad URI", r, fmt.Errorf("%w: port", db.ErrBadURI), "DB_URI (-d): " + db.ErrBadURI.Error() + ": port", Usage},
		{"unreachable", r, fmt.Errorf("%w: refused", db.ErrUnreachable), "DB_URI (-d): database unreachable: refused", Database},
		{"unreachable, no setting", Rules{}, fmt.Errorf("%w: refused", db.ErrUnreachable), "database unreachable: refused", Database},
		{"schema missing", r, fmt.Errorf("%w: no table", db.ErrSchemaMissing), "database schema missing: no table; run `x migrate up`", Database},
		{"schema missing, no hint", Rules{}, fmt.Errorf("%w: no table", db.ErrSchemaMissing), "database schema missing: no table", Database},
		{"web listener", r, fmt.Errorf("A: %w", &web.ListenError{Addr: "h:1", Err: errors.New("bind: in use")}), "A: bind: in use", Listen},
		{"other listener", r, fmt.Errorf("pprof: %w", &net.OpError{Op: "listen", Net: "tcp", Err: errors.New("bind: in use")}), "pprof: listen tcp: bind: in use", Listen},
		{"a dial is no listen", r, &net.OpError{Op: "dial", Net: "tcp", Err: errors.New("refused")}, "dial tcp: refused", Failure},
		{"anything else, on one line", r, errors.New("boom\n\tat line 2"), "boom at line 2", Failure},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, code := tt.rules.Explain(tt.err)
			assert.Equal(t, tt.wantMsg, msg)
			assert.Equal(t, tt.wantCode, code)
		})
	}
}

// Run prints the failure's one line after the program's name, and returns its code; flag and
// argument mistakes are usage errors.
func TestRun(t *testing.T) {
	newCmd := func(run func() error) *cobra.Command {
		c := &cobra.Command{
			Use: "prog", SilenceErrors: true, SilenceUsage: true,
			Args: UsageArgs(cobra.NoArgs),
			RunE: func(*cobra.Command, []string) error { return run() },
		}
		c.Flags().Int("n", 0, "")
		UsageFlags(c)
		return c
	}
	tests := []struct {
		name     string
		args     []string
		run      func() error
		wantOut  string
		wantCode int
	}{
		{"success", nil, func() error { return nil }, "", OK},
		{"failure", nil, func() error { return fmt.Errorf("%w: down", db.ErrUnreachable) }, "prog: database unreachable: down\n", Database},
		{"unknown flag", []string{"--m=1"}, nil, "prog: usage: unknown flag: --m (see --help)\n", Usage},
		{"bad flag value", []string{"--n=x"}, nil, "prog: usage: invalid argument \"x\" for \"--n\" flag: strconv.ParseInt: parsing \"x\": invalid syntax (see --help)\n", Usage},
		{"stray argument", []string{"extra"}, nil, "prog: usage: unknown command \"extra\" for \"prog\"\n", Usage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newCmd(tt.run)
			c.SetArgs(tt.args)
			var out strings.Builder
			assert.Equal(t, tt.wantCode, Rules{}.Run("prog", c, &out))
			assert.Equal(t, tt.wantOut, out.String())
		})
	}
}
