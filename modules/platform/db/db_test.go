package db_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"

	"github.com/gophermart/gophermart/migrations"
	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
)

var gm = migrations.Set

func TestParseURI(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		want    db.Dialect
		wantErr error
	}{
		{name: "empty is sqlite", give: "", want: db.SQLite},
		{name: "postgres", give: "postgres://u@h:5432/d?sslmode=disable", want: db.Postgres},
		{name: "postgresql", give: "postgresql://u@h/d", want: db.Postgres},
		{name: "sqlite scheme", give: "sqlite:///tmp/x.db", want: db.SQLite},
		{name: "file scheme", give: "file:x.db", want: db.SQLite},
		{name: "mysql refused", give: "mysql://u@h/d", wantErr: db.ErrBadURI},
		{name: "bare path refused", give: "/tmp/x.db", wantErr: db.ErrBadURI},
		{name: "sqlite without path", give: "sqlite://", wantErr: db.ErrBadURI},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, _, err := db.ParseURI(tt.give)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestMigrationsUpDownUp(t *testing.T) {
	for _, engine := range dbtest.EngineNames(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			d := dbtest.Open(t, engine)
			m, err := db.NewMigrator(d, gm, nil)
			require.NoError(t, err)

			n, err := m.Up(ctx)
			require.NoError(t, err)
			assert.Positive(t, n)
			require.NoError(t, d.Conn(ctx).Exec("SELECT count(*) FROM gm_orders").Error)

			require.NoError(t, m.DownTo(ctx, 0))
			require.Error(t, d.Conn(ctx).Exec("SELECT count(*) FROM gm_orders").Error, "tables are gone after down")
			st, err := m.Status(ctx)
			require.NoError(t, err)
			for _, s := range st {
				assert.False(t, s.Applied, s.Source)
			}

			n2, err := m.Up(ctx)
			require.NoError(t, err)
			assert.Equal(t, n, n2)
			n3, err := m.Up(ctx)
			require.NoError(t, err)
			assert.Zero(t, n3, "a second up applies nothing")
		})
	}
}

// Several instances migrating one database at once must each succeed and apply every migration once.
func TestConcurrentMigrators(t *testing.T) {
	for _, engine := range dbtest.EngineNames(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			uri := dbtest.URI(t, engine)
			const instances = 5
			applied := make([]int, instances)
			errs := make([]error, instances)
			var wg sync.WaitGroup
			for i := range instances {
				wg.Add(1)
				go func() {
					defer wg.Done()
					d, err := db.Open(db.Config{URI: uri, MaxOpenConns: 2})
					if err != nil {
						errs[i] = err
						return
					}
					defer func() { _ = d.Close() }()
					m, err := db.NewMigrator(d, gm, nil)
					if err != nil {
						errs[i] = err
						return
					}
					applied[i], errs[i] = m.Up(context.Background())
				}()
			}
			wg.Wait()
			require.NoError(t, errors.Join(errs...))
			total := 0
			for _, n := range applied {
				total += n
			}
			d, err := db.Open(db.Config{URI: uri})
			require.NoError(t, err)
			defer func() { _ = d.Close() }()
			m, err := db.NewMigrator(d, gm, nil)
			require.NoError(t, err)
			st, err := m.Status(context.Background())
			require.NoError(t, err)
			assert.Equal(t, len(st), total, "every migration applied exactly once across instances")
		})
	}
}

func TestInTxCommitsAndRollsBack(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			ctx := context.Background()
			boom := errors.New("boom")
			err := d.InTx(ctx, func(ctx context.Context) error {
				require.True(t, db.InTx(ctx))
				require.NoError(t, d.Conn(ctx).Exec("INSERT INTO gm_settings (name, value) VALUES ('a', '1')").Error)
				// A nested InTx joins the outer transaction.
				require.NoError(t, d.InTx(ctx, func(ctx context.Context) error {
					return d.Conn(ctx).Exec("INSERT INTO gm_settings (name, value) VALUES ('b', '2')").Error
				}))
				return boom
			})
			require.ErrorIs(t, err, boom)
			var n int64
			require.NoError(t, d.Conn(ctx).Raw("SELECT count(*) FROM gm_settings").Scan(&n).Error)
			assert.Zero(t, n, "rolled back, nested part included")

			require.NoError(t, d.InTx(ctx, func(ctx context.Context) error {
				return d.Conn(ctx).Exec("INSERT INTO gm_settings (name, value) VALUES ('a', '1')").Error
			}))
			require.NoError(t, d.Conn(ctx).Raw("SELECT count(*) FROM gm_settings").Scan(&n).Error)
			assert.Equal(t, int64(1), n)
		})
	}
}

// SQLite runs with the settings that keep commits durable and writers waiting instead of failing.
func TestSQLitePragmas(t *testing.T) {
	d := dbtest.Open(t, "sqlite")
	ctx := context.Background()
	var mode string
	var sync, timeout, fk int
	require.NoError(t, d.Conn(ctx).Raw("PRAGMA journal_mode").Scan(&mode).Error)
	require.NoError(t, d.Conn(ctx).Raw("PRAGMA synchronous").Scan(&sync).Error)
	require.NoError(t, d.Conn(ctx).Raw("PRAGMA busy_timeout").Scan(&timeout).Error)
	require.NoError(t, d.Conn(ctx).Raw("PRAGMA foreign_keys").Scan(&fk).Error)
	assert.Equal(t, "wal", mode)
	assert.Equal(t, 2, sync, "FULL: a commit survives power loss")
	assert.Positive(t, timeout)
	assert.Equal(t, 1, fk)
}

// Building a DB does no I/O: not even an SQLite file appears, and a server that is not there is
// not noticed until Start, which then says the database is unreachable.
func TestNewConnectsNothingUntilStart(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "sub", "x.db")
	d, err := db.New(db.Config{URI: "sqlite://" + file})
	require.NoError(t, err)
	assert.NoFileExists(t, file)
	assert.NoDirExists(t, filepath.Dir(file))
	require.NoError(t, d.Start(context.Background()))
	assert.FileExists(t, file, "Start creates a missing file")
	require.NoError(t, d.Close())

	d, err = db.New(db.Config{URI: "postgres://nobody@127.0.0.1:1/x?sslmode=disable"})
	require.NoError(t, err, "nothing is dialled yet")
	err = d.Start(context.Background())
	require.ErrorIs(t, err, db.ErrUnreachable)
	assert.Contains(t, err.Error(), "127.0.0.1:1")
	require.NoError(t, d.Close())
}

// A command that needs the schema never creates the SQLite file it would work on.
func TestRequireExistingCreatesNothing(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "missing.db")
	d, err := db.New(db.Config{URI: "sqlite://" + file, RequireExisting: true})
	require.NoError(t, err)
	err = d.Start(context.Background())
	require.ErrorIs(t, err, db.ErrSchemaMissing)
	assert.Contains(t, err.Error(), file)
	require.NoError(t, d.Close())
	entries, err := os.ReadDir(filepath.Dir(file))
	require.NoError(t, err)
	assert.Empty(t, entries)
}

// Check tells a fully migrated schema from a missing or partial one, and only reads: goose's own
// status would create its version table.
func TestMigratorCheck(t *testing.T) {
	for _, engine := range dbtest.EngineNames(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			d := dbtest.Open(t, engine)
			m, err := db.NewMigrator(d, gm, nil)
			require.NoError(t, err)

			err = m.Check(ctx)
			require.ErrorIs(t, err, db.ErrSchemaMissing)
			assert.Contains(t, err.Error(), "no gm_goose_db_version table")
			assert.False(t, hasTable(t, d, migrations.Table), "Check created the version table")

			_, err = m.Up(ctx)
			require.NoError(t, err)
			require.NoError(t, m.Check(ctx))

			require.NoError(t, m.Down(ctx))
			err = m.Check(ctx)
			require.ErrorIs(t, err, db.ErrSchemaMissing)
			assert.Contains(t, err.Error(), "1 of")
		})
	}
}

func hasTable(t *testing.T, d *db.DB, name string) bool {
	t.Helper()
	var n int64
	q := "SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?"
	if d.Dialect() == db.Postgres {
		q = "SELECT count(*) FROM information_schema.tables WHERE table_name = ?"
	}
	require.NoError(t, d.Conn(context.Background()).Raw(q, name).Scan(&n).Error)
	return n > 0
}

// MigrateOnStart migrates in the start hook after the one that connects, before the hook of
// anything that receives the database; building the app touches nothing.
func TestMigrateOnStartRunsBeforeTheHooksOfUsers(t *testing.T) {
	t.Parallel()
	file := filepath.Join(t.TempDir(), "app.db")
	var tablesAtUserStart int64 = -1
	app := fx.New(
		fx.NopLogger,
		fx.Supply(db.Config{URI: "sqlite://" + file}, slog.New(slog.NewTextHandler(io.Discard, nil))),
		db.Module,
		db.MigrateOnStart(gm),
		fx.Invoke(func(lc fx.Lifecycle, d *db.DB) {
			lc.Append(fx.StartHook(func(ctx context.Context) error {
				return d.Conn(ctx).Raw("SELECT count(*) FROM gm_orders").Scan(&tablesAtUserStart).Error
			}))
		}),
	)
	require.NoError(t, app.Err())
	assert.NoFileExists(t, file, "building the app connected")
	require.NoError(t, app.Start(context.Background()))
	assert.Zero(t, tablesAtUserStart, "the user's hook saw the migrated schema")
	require.NoError(t, app.Stop(context.Background()))
}
