//go:build e2e

package main

import (
	"context"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/migrations"
	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/proctest"
)

// runSplit runs the binary to completion and returns its exit code, its stderr and all its output.
// Logs go to stderr too; unless env says otherwise they are kept to errors, so that what stderr
// shows of a failure is the program's own line.
func runSplit(t *testing.T, bin, dir string, env map[string]string, args ...string) (code int, stderr, out string) {
	t.Helper()
	withLevel := map[string]string{"GOPHERMART_LOG_LEVEL": "error"}
	for k, v := range env {
		withLevel[k] = v
	}
	p := start(t, bin, dir, withLevel, args...)
	code = p.Wait(time.Minute)
	return code, p.Stderr(), p.Output()
}

// assertOneLine checks that stderr is exactly the one line want (or, with prefix, a line starting
// with it), and that nothing of fx's own failure report reached the output.
func assertOneLine(t *testing.T, stderr, out, want string, prefix bool) {
	t.Helper()
	require.True(t, strings.HasSuffix(stderr, "\n"), "stderr %q", stderr)
	line := strings.TrimSuffix(stderr, "\n")
	assert.NotContains(t, line, "\n", "one line on stderr: %q", stderr)
	if prefix {
		assert.True(t, strings.HasPrefix(line, want), "stderr %q, want it to start with %q", line, want)
	} else {
		assert.Equal(t, want, line)
	}
	for _, fx := range []string{"makeFuncStub", "could not build arguments", `"module":"fx"`, "[Fx]", "OnStart hook failed"} {
		assert.NotContains(t, out, fx)
	}
}

// Every start-up failure is one line on stderr naming the cause, and the setting where one is at
// fault, with the exit code README documents; never fx's account of it.
func TestE2EStartFailuresAreOneLine(t *testing.T) {
	gm := binary(t, "gophermart")
	taken, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = taken.Close() }()
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "gophermart.yaml")
	require.NoError(t, os.WriteFile(cfgFile, []byte("http:\n  adress: 127.0.0.1:8080\n"), 0o600))

	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		want     string
		prefix   bool
	}{
		{
			name: "no database server", env: map[string]string{"DATABASE_URI": "postgres://gm@127.0.0.1:1/gm?sslmode=disable"},
			wantCode: 3, prefix: true,
			want: "gophermart: DATABASE_URI (-d): database unreachable: failed to connect to `user=gm database=gm`: 127.0.0.1:1",
		},
		{
			name: "port in use", env: map[string]string{"RUN_ADDRESS": taken.Addr().String()}, wantCode: 4,
			want: "gophermart: RUN_ADDRESS (-a): listen tcp " + taken.Addr().String() + ": bind: address already in use",
		},
		{
			name: "unknown config key", args: []string{"--config", cfgFile}, wantCode: 2,
			want: "gophermart: invalid configuration: config file " + cfgFile + ": unknown key http.adress (did you mean http.address?)",
		},
		{
			name: "unknown config key in migrate", args: []string{"migrate", "status", "--config", cfgFile}, wantCode: 2,
			want: "gophermart: invalid configuration: config file " + cfgFile + ": unknown key http.adress (did you mean http.address?)",
		},
	}
	if admin := os.Getenv(dbtest.EnvDSN); admin != "" {
		u, err := url.Parse(admin)
		require.NoError(t, err)
		u.User, u.Path = url.User("nouser"), "/x"
		tests = append(tests, struct {
			name     string
			env      map[string]string
			args     []string
			wantCode int
			want     string
			prefix   bool
		}{
			name: "authentication refused", env: map[string]string{"DATABASE_URI": u.String()}, wantCode: 3,
			want: "gophermart: DATABASE_URI (-d): database unreachable: failed to connect to `user=nouser database=x`: " +
				u.Host, prefix: true,
		})
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"RUN_ADDRESS": freeAddr(t)}
			for k, v := range tt.env {
				env[k] = v
			}
			wd := t.TempDir()
			code, stderr, out := runSplit(t, gm, wd, env, tt.args...)
			assert.Equal(t, tt.wantCode, code, out)
			assertOneLine(t, stderr, out, tt.want, tt.prefix)
			if tt.name == "authentication refused" {
				assert.Contains(t, stderr, `role "nouser" does not exist`)
			}
		})
	}
}

// resync and ledger check on a database without the schema say what to do, exit 3 and create
// nothing: no SQLite file in the working directory, no table in PostgreSQL.
func TestE2ESchemaMissing(t *testing.T) {
	gm := binary(t, "gophermart")
	for _, args := range [][]string{{"resync"}, {"ledger", "check"}} {
		t.Run(strings.Join(args, " ")+"/default sqlite", func(t *testing.T) {
			dir := t.TempDir()
			code, stderr, out := runSplit(t, gm, dir, nil, args...)
			assert.Equal(t, 3, code, out)
			assertOneLine(t, stderr, out,
				"gophermart: database schema missing: database file gophermart.db does not exist; run `gophermart migrate up`", false)
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Empty(t, entries, "the command created files")
		})
		if !hasEngine(t, "postgres") {
			continue
		}
		t.Run(strings.Join(args, " ")+"/postgres", func(t *testing.T) {
			uri := dbtest.URI(t, "postgres")
			code, stderr, out := runSplit(t, gm, t.TempDir(), map[string]string{"DATABASE_URI": uri}, args...)
			assert.Equal(t, 3, code, out)
			assertOneLine(t, stderr, out,
				"gophermart: database schema missing: no migration applied (no gm_goose_db_version table); run `gophermart migrate up`", false)
			d, err := db.Open(db.Config{URI: uri})
			require.NoError(t, err)
			defer func() { _ = d.Close() }()
			var tables int64
			require.NoError(t, d.Conn(context.Background()).Raw(
				"SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'").Scan(&tables).Error)
			assert.Zero(t, tables, "the command created tables")
		})
	}
}

// migrate status and migrate down on the default SQLite file, which does not exist, create
// nothing: status says to run `migrate up` (exit 3), down has nothing to roll back (exit 0).
func TestE2EMigrateStatusAndDownCreateNothing(t *testing.T) {
	gm := binary(t, "gophermart")
	dir := t.TempDir()
	code, stderr, out := runSplit(t, gm, dir, nil, "migrate", "status")
	assert.Equal(t, 3, code, out)
	assertOneLine(t, stderr, out,
		"gophermart: database schema missing: database file gophermart.db does not exist; run `gophermart migrate up`", false)
	code, stderr, out = runSplit(t, gm, dir, nil, "migrate", "down")
	assert.Equal(t, 0, code, out)
	assert.Empty(t, stderr)
	assert.Equal(t, "nothing to roll back: database file gophermart.db does not exist\n", out)
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Empty(t, entries, "the commands created files")
}

// SIGTERM while the start waits for migrations (another instance holds the migration lock here)
// cancels them: the process stops what had started and exits 0 at once, serving nothing and
// applying nothing.
func TestE2ESignalDuringMigrationStops(t *testing.T) {
	gm := binary(t, "gophermart")
	for _, engine := range dbtest.EngineNames(t) {
		t.Run(engine, func(t *testing.T) {
			uri := dbtest.URI(t, engine)
			holdMigrationLock(t, uri)
			p := start(t, gm, t.TempDir(), map[string]string{"RUN_ADDRESS": freeAddr(t), "DATABASE_URI": uri})
			waitOutput(t, p, "migrating the schema")
			signalled := time.Now()
			assert.Equal(t, 0, p.Stop(syscall.SIGTERM), p.Output())
			assert.Less(t, time.Since(signalled), 10*time.Second, "the start was not cancelled")
			assert.True(t, containsLine(p.Output(), "start interrupted by a signal"), p.Output())
			assert.False(t, containsLine(p.Output(), `"msg":"listening"`), "it served: %s", p.Output())
			assert.NotContains(t, p.Stderr(), `"level":"ERROR"`, "a signal during start is no failure")
			assert.False(t, containsLine(p.Stderr(), "gophermart:"), "no failure line: %s", p.Stderr())

			d, err := db.Open(db.Config{URI: uri})
			require.NoError(t, err)
			defer func() { _ = d.Close() }()
			m, err := db.NewMigrator(d, migrations.Set, nil)
			require.NoError(t, err)
			require.ErrorIs(t, m.Check(context.Background()), db.ErrSchemaMissing, "a migration was applied")
		})
	}
}

// holdMigrationLock takes the lock a migrator of uri waits for, until the test ends: PostgreSQL's
// advisory lock, or SQLite's lock file.
func holdMigrationLock(t *testing.T, uri string) {
	t.Helper()
	if file, ok := strings.CutPrefix(uri, "sqlite://"); ok {
		f, err := os.OpenFile(file+"."+migrations.Table+".lock", os.O_RDWR|os.O_CREATE, 0o600)
		require.NoError(t, err)
		require.NoError(t, syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB))
		t.Cleanup(func() { _ = f.Close() })
		return
	}
	d, err := db.Open(db.Config{URI: uri, MaxOpenConns: 1})
	require.NoError(t, err)
	conn, err := d.SQL().Conn(context.Background())
	require.NoError(t, err)
	_, err = conn.ExecContext(context.Background(), "SELECT pg_advisory_lock($1)", migrations.LockID)
	require.NoError(t, err)
	t.Cleanup(func() {
		_ = conn.Close()
		_ = d.Close()
	})
}

// waitOutput waits until a line of p's output contains s, failing after a minute or if p exits.
func waitOutput(t *testing.T, p *proctest.Proc, s string) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for !containsLine(p.Output(), s) {
		select {
		case <-p.Exited():
			t.Fatalf("exited before %q:\n%s", s, p.Output())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %q within a minute:\n%s", s, p.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
