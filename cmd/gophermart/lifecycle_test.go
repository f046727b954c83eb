package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"

	"github.com/gophermart/gophermart/config"
	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/exitcode"
	"github.com/gophermart/gophermart/modules/platform/runner"
	"github.com/gophermart/gophermart/modules/platform/web"
)

// hookRecorder is an fx logger that records the start hooks in the order they run.
type hookRecorder struct {
	mu     sync.Mutex
	starts []string
}

func (r *hookRecorder) LogEvent(e fxevent.Event) {
	if s, ok := e.(*fxevent.OnStartExecuting); ok {
		r.mu.Lock()
		defer r.mu.Unlock()
		r.starts = append(r.starts, s.FunctionName)
	}
}

// index returns the position of the first start hook whose name contains part.
func (r *hookRecorder) index(t *testing.T, part string) int {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i, s := range r.starts {
		if strings.Contains(s, part) {
			return i
		}
	}
	t.Fatalf("no start hook %q in %v", part, r.starts)
	return -1
}

func loadArgs(t *testing.T, args ...string) *config.Config {
	t.Helper()
	fs := pflag.NewFlagSet("gophermart", pflag.ContinueOnError)
	config.AddFlags(fs)
	require.NoError(t, fs.Parse(args))
	cfg, err := config.Load(fs)
	require.NoError(t, err)
	return cfg
}

// Building the service does no I/O (not even the SQLite file appears); starting it connects first,
// migrates next, and only then runs the hooks of what uses the database: the signing secret, the
// built-in accrual service (its own migrations first), the worker, the notifications, the server,
// the ledger reconciliation.
func TestServeStartsInOrder(t *testing.T) {
	file := filepath.Join(t.TempDir(), "gm.db")
	cfg := loadArgs(t, "--run-address=127.0.0.1:0", "--database-uri=sqlite://"+file, "--log-level=error")
	rec := &hookRecorder{}
	app := fx.New(serveOptions(cfg), fx.WithLogger(func() fxevent.Logger { return rec }))
	require.NoError(t, app.Err())
	assert.NoFileExists(t, file, "building the graph touched the database")
	require.NoError(t, app.Start(context.Background()))
	defer func() { require.NoError(t, app.Stop(context.Background())) }()

	t.Logf("start hooks: %v", rec.starts)
	assert.Equal(t, 0, rec.index(t, "platform/db.init"), "connect first (db.Module)")
	migrate := rec.index(t, "db.MigrateOnStart")
	assert.Equal(t, 1, migrate, "migrate right after")
	order := []string{
		"auth.provideTokens", "db.MigrateOnStart", "calculator.NewServer", "accrual.(*Worker).Start",
		"orders.(*Notifications).Start", "web.init", "balance.(*Reconciler).Start",
	}
	last := migrate
	for _, part := range order { // "db.MigrateOnStart" again: the accrual service's own schema
		i := rec.after(last, part)
		require.GreaterOrEqual(t, i, 0, "%s does not start after %s: %v", part, rec.starts[last], rec.starts)
		last = i
	}
}

// after returns the position of the first start hook after i whose name contains part, or -1.
func (r *hookRecorder) after(i int, part string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	for j := i + 1; j < len(r.starts); j++ {
		if strings.Contains(r.starts[j], part) {
			return j
		}
	}
	return -1
}

// The one-shot commands close the database when done: SQLite then checkpoints its write-ahead log
// and removes it, which a pool left open never does.
func TestOneShotCommandsCloseTheDatabase(t *testing.T) {
	file := filepath.Join(t.TempDir(), "gm.db")
	run := func(args ...string) (string, error) {
		t.Helper()
		cmd := newRootCmd()
		var out strings.Builder
		cmd.SetOut(&out)
		cmd.SetArgs(append(args, "-d", "sqlite://"+file, "--log-level=error"))
		err := cmd.Execute()
		return out.String(), err
	}
	for _, args := range [][]string{{"migrate", "up"}, {"migrate", "status"}, {"ledger", "check"}, {"resync"}} {
		out, err := run(args...)
		require.NoError(t, err, "%v: %s", args, out)
		assert.FileExists(t, file)
		assert.NoFileExists(t, file+"-wal", "%v left the database open", args)
	}
}

// resync and ledger check need the schema: on a database without it they fail, saying what to do,
// and create nothing (not even the SQLite file).
func TestSchemaMissingCreatesNothing(t *testing.T) {
	for _, engine := range dbtest.EngineNames(t) {
		t.Run(engine, func(t *testing.T) {
			uri := dbtest.URI(t, engine)
			for _, args := range [][]string{{"resync"}, {"ledger", "check"}} {
				cmd := newRootCmd()
				cmd.SetOut(&strings.Builder{})
				cmd.SetArgs(append(args, "-d", uri, "--log-level=error"))
				err := cmd.Execute()
				require.ErrorIs(t, err, db.ErrSchemaMissing, "%v", args)
				msg, code := failure(err)
				assert.Equal(t, exitcode.Database, code)
				assert.Contains(t, msg, "run `gophermart migrate up`")
			}
			if engine == "sqlite" {
				assert.NoFileExists(t, strings.TrimPrefix(uri, "sqlite://"))
				return
			}
			d, err := db.Open(db.Config{URI: uri})
			require.NoError(t, err)
			defer func() { _ = d.Close() }()
			var tables int64
			require.NoError(t, d.Conn(context.Background()).Raw(
				"SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").Scan(&tables).Error)
			assert.Zero(t, tables, "a table was created")
		})
	}
}

// Every failure is one line naming the cause (and the setting, where one is at fault), with its
// exit code; fx's and dig's wrapping never shows.
func TestFailureMessages(t *testing.T) {
	failing := errors.New("role \"nouser\" does not exist")
	app := fx.New(fx.NopLogger,
		fx.Provide(func() (*db.DB, error) { return nil, fmt.Errorf("%w: %w", db.ErrUnreachable, failing) }),
		fx.Invoke(func(*db.DB) {}))
	require.Error(t, app.Err())
	cfg := loadArgs(t, "--run-address=127.0.0.1:8080")
	listen := &web.ListenError{Addr: "127.0.0.1:8080", Err: &net.OpError{Op: "listen", Net: "tcp", Err: errors.New("bind: address already in use")}}

	tests := []struct {
		name     string
		err      error
		wantMsg  string
		wantCode int
		prefix   bool // wantMsg is the start of the message
	}{
		{
			name: "a constructor's error through fx", err: app.Err(), wantCode: exitcode.Database,
			wantMsg: `DATABASE_URI (-d): database unreachable: role "nouser" does not exist`,
		},
		{
			name: "schema missing", err: fmt.Errorf("%w: no migration applied", db.ErrSchemaMissing), wantCode: exitcode.Database,
			wantMsg: "database schema missing: no migration applied; run `gophermart migrate up`",
		},
		{
			name: "port in use", err: named(cfg, listen), wantCode: exitcode.Listen,
			wantMsg: "RUN_ADDRESS (-a): listen tcp: bind: address already in use",
		},
		{
			name: "pprof port in use", err: fmt.Errorf("pprof listen: %w", listen.Err), wantCode: exitcode.Listen,
			wantMsg: "pprof listen: listen tcp: bind: address already in use",
		},
		{
			name: "start timeout", err: named(cfg, fmt.Errorf("%w after 2m0s", runner.ErrStartTimeout)), wantCode: exitcode.Failure,
			wantMsg: "GOPHERMART_START_TIMEOUT (--start-timeout): start timed out after 2m0s",
		},
		{
			name: "configuration", err: fmt.Errorf("%w: RUN_ADDRESS (-a): want host:port", config.ErrInvalid), wantCode: exitcode.Usage,
			wantMsg: "invalid configuration: RUN_ADDRESS (-a): want host:port",
		},
		{
			name: "database URI only the driver refuses", err: func() error { _, err := db.New(db.Config{URI: "postgres://u@h:port/x"}); return err }(),
			wantCode: exitcode.Usage, wantMsg: "DATABASE_URI (-d): unsupported database URI", prefix: true,
		},
		{name: "usage", err: fmt.Errorf("%w: unknown command", errUsage), wantCode: exitcode.Usage, wantMsg: "usage: unknown command"},
		{name: "anything else, on one line", err: errors.New("boom\n  at line 2"), wantCode: exitcode.Failure, wantMsg: "boom at line 2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			msg, code := failure(tt.err)
			if tt.prefix {
				assert.True(t, strings.HasPrefix(msg, tt.wantMsg), msg)
			} else {
				assert.Equal(t, tt.wantMsg, msg)
			}
			assert.Equal(t, tt.wantCode, code)
		})
	}
}

// An unknown command or a stray argument is a usage error (exit 2), like an unknown flag.
func TestUnknownCommandIsUsage(t *testing.T) {
	for _, args := range [][]string{{"frobnicate"}, {"serve", "now"}, {"ledger", "check", "all"}} {
		cmd := newRootCmd()
		cmd.SetArgs(args)
		cmd.SetOut(&strings.Builder{})
		err := cmd.Execute()
		require.ErrorIs(t, err, errUsage, "%v", args)
		_, code := failure(err)
		assert.Equal(t, exitcode.Usage, code)
	}
}

// migrate status and migrate down on a database without the schema create nothing: on a SQLite
// file that does not exist status says to run `migrate up` (exit 3) and down has nothing to do
// (exit 0); on an empty PostgreSQL database status lists every migration pending and down has
// nothing to do, and neither creates goose's version table. migrate up then creates the schema,
// and down rolls back one migration until none is left.
func TestMigrateStatusAndDownCreateNothing(t *testing.T) {
	for _, engine := range dbtest.EngineNames(t) {
		t.Run(engine, func(t *testing.T) {
			uri := dbtest.URI(t, engine)
			run := func(args ...string) (string, error) {
				t.Helper()
				cmd := newRootCmd()
				var out strings.Builder
				cmd.SetOut(&out)
				cmd.SetArgs(append(args, "-d", uri, "--log-level=error"))
				err := cmd.Execute()
				return out.String(), err
			}
			tables := func() int64 {
				t.Helper()
				d, err := db.Open(db.Config{URI: uri})
				require.NoError(t, err)
				defer func() { _ = d.Close() }()
				var n int64
				require.NoError(t, d.Conn(context.Background()).Raw(
					"SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").Scan(&n).Error)
				return n
			}
			file := strings.TrimPrefix(uri, "sqlite://")

			out, err := run("migrate", "status")
			if engine == "sqlite" {
				require.ErrorIs(t, err, db.ErrSchemaMissing)
				msg, code := failure(err)
				assert.Equal(t, exitcode.Database, code)
				assert.Equal(t, "database schema missing: database file "+file+" does not exist; run `gophermart migrate up`", msg)
				assert.Empty(t, out)
				assert.NoFileExists(t, file)
			} else {
				require.NoError(t, err)
				lines := strings.Split(strings.TrimSpace(out), "\n")
				require.Len(t, lines, len(schemaSources(t)))
				for _, l := range lines {
					assert.Contains(t, l, " pending ", l)
				}
				assert.Zero(t, tables(), "status created a table")
			}

			out, err = run("migrate", "down")
			require.NoError(t, err)
			if engine == "sqlite" {
				assert.Equal(t, "nothing to roll back: database file "+file+" does not exist\n", out)
				assert.NoFileExists(t, file)
			} else {
				assert.Equal(t, "nothing to roll back: no migration applied\n", out)
				assert.Zero(t, tables(), "down created a table")
			}

			out, err = run("migrate", "up")
			require.NoError(t, err)
			assert.Equal(t, fmt.Sprintf("applied %d migration(s)\n", len(schemaSources(t))), out)
			out, err = run("migrate", "status")
			require.NoError(t, err)
			for _, l := range strings.Split(strings.TrimSpace(out), "\n") {
				assert.Contains(t, l, " applied ", l)
			}
			for range schemaSources(t) {
				out, err = run("migrate", "down")
				require.NoError(t, err)
				assert.Equal(t, "rolled back 1 migration\n", out)
			}
			out, err = run("migrate", "down")
			require.NoError(t, err)
			assert.Equal(t, "nothing to roll back: no migration applied\n", out)
		})
	}
}

// schemaSources lists Gophermart's migrations: the files, then a "(Go)" for each written in Go.
func schemaSources(t *testing.T) []string {
	t.Helper()
	entries, err := fs.Glob(schema.FS, "*.sql")
	require.NoError(t, err)
	require.NotEmpty(t, entries)
	for range schema.Go(db.SQLite) {
		entries = append(entries, "(Go)")
	}
	return entries
}
