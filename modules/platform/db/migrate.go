package db

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"

	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"
	"go.uber.org/fx"
)

// Migrations names one set of versioned SQL files and the table goose records them in. Gophermart and
// the accrual service each have their own, so they can share one database.
type Migrations struct {
	// FS holds the .sql files at its root.
	FS fs.FS
	// Table is goose's version table, e.g. gm_goose_db_version.
	Table string
	// LockID is the PostgreSQL advisory lock that serialises concurrent migrators of this set.
	LockID int64
	// Go, when set, returns the set's migrations written in Go for the given engine: the steps
	// whose SQL differs between PostgreSQL and SQLite (triggers, say). Their versions must not
	// clash with the files'.
	Go func(Dialect) []*goose.Migration
}

// Migrator applies one set of migrations to a DB.
type Migrator struct {
	p        *goose.Provider
	db       *DB
	table    string
	lockFile string       // SQLite: a file locked around every run (PostgreSQL uses an advisory lock)
	log      *slog.Logger // nil: Up logs nothing
}

// NewMigrator prepares goose for m on d. On PostgreSQL it takes an advisory session lock around every
// run, so several instances starting at once apply each migration exactly once. It does no I/O.
func NewMigrator(d *DB, m Migrations, log *slog.Logger) (*Migrator, error) {
	opts := []goose.ProviderOption{
		goose.WithTableName(m.Table),
		goose.WithDisableGlobalRegistry(true),
	}
	if log != nil {
		opts = append(opts, goose.WithSlog(log))
	}
	if m.Go != nil {
		opts = append(opts, goose.WithGoMigrations(m.Go(d.Dialect())...))
	}
	dialect := goose.DialectSQLite3
	if d.Dialect() == Postgres {
		dialect = goose.DialectPostgres
		locker, err := lock.NewPostgresSessionLocker(lock.WithLockID(m.LockID), lock.WithLockTimeout(1, 300))
		if err != nil {
			return nil, fmt.Errorf("migration lock: %w", err)
		}
		opts = append(opts, goose.WithSessionLocker(locker))
	}
	// Never call p.Close: it closes the *sql.DB it was given, which is gorm's shared pool.
	p, err := goose.NewProvider(dialect, d.SQL(), m.FS, opts...)
	if err != nil {
		return nil, fmt.Errorf("load migrations: %w", err)
	}
	mg := &Migrator{p: p, db: d, table: m.Table, log: log}
	if d.file != "" {
		mg.lockFile = d.file + "." + m.Table + ".lock"
	}
	return mg, nil
}

// Up applies every pending migration and returns how many it applied. It logs, at info level, the
// schema version it leaves and how many migrations that took.
func (m *Migrator) Up(ctx context.Context) (int, error) {
	unlock, err := lockFile(ctx, m.lockFile)
	if err != nil {
		return 0, err
	}
	defer unlock()
	res, err := m.p.Up(ctx)
	if err != nil {
		return len(res), fmt.Errorf("migrate up: %w", err)
	}
	if m.log != nil {
		version, err := m.p.GetDBVersion(ctx)
		if err != nil {
			return len(res), fmt.Errorf("migrate up: read the schema version: %w", err)
		}
		if len(res) > 0 {
			m.log.InfoContext(ctx, "applied migrations", "count", len(res), "version", version)
		} else {
			m.log.InfoContext(ctx, "schema up to date", "version", version)
		}
	}
	return len(res), nil
}

// ErrNothingToRollBack is Down's answer when no migration is applied.
var ErrNothingToRollBack = errors.New("nothing to roll back: no migration applied")

// Down rolls back the newest applied migration. With none applied it changes nothing and returns
// ErrNothingToRollBack; it creates no version table either (goose's own Down would).
func (m *Migrator) Down(ctx context.Context) error {
	unlock, err := lockFile(ctx, m.lockFile)
	if err != nil {
		return err
	}
	defer unlock()
	exists, err := m.versionTableExists(ctx)
	if err != nil {
		return fmt.Errorf("migrate down: %w", err)
	}
	if !exists {
		return ErrNothingToRollBack
	}
	if _, err := m.p.Down(ctx); err != nil {
		if errors.Is(err, goose.ErrNoNextVersion) {
			return ErrNothingToRollBack
		}
		return fmt.Errorf("migrate down: %w", err)
	}
	return nil
}

// DownTo rolls back every migration newer than version (0: all of them).
func (m *Migrator) DownTo(ctx context.Context, version int64) error {
	unlock, err := lockFile(ctx, m.lockFile)
	if err != nil {
		return err
	}
	defer unlock()
	if _, err := m.p.DownTo(ctx, version); err != nil {
		return fmt.Errorf("migrate down: %w", err)
	}
	return nil
}

// Status describes one migration: its version, file and whether it is applied.
type Status struct {
	Version int64
	Source  string
	Applied bool
}

// Status lists every known migration and whether it is applied. It only reads: on a database
// without the version table every migration is pending, and the table is not created (goose's own
// status would create it).
func (m *Migrator) Status(ctx context.Context) ([]Status, error) {
	exists, err := m.versionTableExists(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	if !exists {
		sources := m.p.ListSources()
		out := make([]Status, 0, len(sources))
		for _, s := range sources {
			out = append(out, Status{Version: s.Version, Source: sourceName(s.Path)})
		}
		return out, nil
	}
	st, err := m.p.Status(ctx)
	if err != nil {
		return nil, fmt.Errorf("migration status: %w", err)
	}
	out := make([]Status, 0, len(st))
	for _, s := range st {
		out = append(out, Status{Version: s.Source.Version, Source: sourceName(s.Source.Path), Applied: s.State == goose.StateApplied})
	}
	return out, nil
}

// sourceName is how Status names a migration: its file, or "(Go)" for one written in Go.
func sourceName(path string) string {
	if path == "" {
		return "(Go)"
	}
	return path
}

// Check returns nil when every migration of the set is applied, and an error wrapping
// ErrSchemaMissing naming what is missing otherwise. It only reads: goose's own status would create
// the version table.
func (m *Migrator) Check(ctx context.Context) error {
	exists, err := m.versionTableExists(ctx)
	if err != nil {
		return fmt.Errorf("check schema: %w", err)
	}
	if !exists {
		return fmt.Errorf("%w: no migration applied (no %s table)", ErrSchemaMissing, m.table)
	}
	var applied []int64
	if err := m.db.Conn(ctx).Raw("SELECT DISTINCT version_id FROM " + m.table + " WHERE is_applied").Scan(&applied).Error; err != nil { //nolint:gosec // the table name is the code's own constant
		return fmt.Errorf("check schema: %w", err)
	}
	have := make(map[int64]bool, len(applied))
	for _, v := range applied {
		have[v] = true
	}
	sources := m.p.ListSources()
	missing := 0
	for _, s := range sources {
		if !have[s.Version] {
			missing++
		}
	}
	if missing > 0 {
		return fmt.Errorf("%w: %d of %d migrations not applied", ErrSchemaMissing, missing, len(sources))
	}
	return nil
}

// versionTableExists reports whether the set's version table exists, without creating it.
func (m *Migrator) versionTableExists(ctx context.Context) (bool, error) {
	conn := m.db.Conn(ctx)
	if m.db.Dialect() == Postgres {
		var exists bool
		err := conn.Raw("SELECT to_regclass(?) IS NOT NULL", m.table).Scan(&exists).Error
		return exists, err
	}
	var n int64
	err := conn.Raw("SELECT count(*) FROM sqlite_master WHERE type = 'table' AND name = ?", m.table).Scan(&n).Error
	return n > 0, err
}

// MigrateOnStart applies m's pending migrations in an OnStart hook, so the start timeout bounds
// them and a signal during start cancels them (each migration runs in its own transaction). It is
// a decorator of *DB, which fx runs once, as soon as the *DB is first asked for in its scope and
// before any constructor there receives it: so the hook is appended before the hook of anything in
// that scope that uses the database (hooks run in the order they were appended), and, in the scope
// that provides the *DB, right after the hook that connects. The decorator itself does no I/O.
func MigrateOnStart(m Migrations) fx.Option {
	return fx.Decorate(func(lc fx.Lifecycle, d *DB, log *slog.Logger) (*DB, error) {
		mg, err := NewMigrator(d, m, log)
		if err != nil {
			return nil, err
		}
		lc.Append(fx.StartHook(func(ctx context.Context) error {
			log.InfoContext(ctx, "migrating the schema", "table", m.Table)
			n, err := mg.Up(ctx)
			if err != nil {
				return err
			}
			log.InfoContext(ctx, "schema up to date", "table", m.Table, "applied", n)
			return nil
		}))
		return d, nil
	})
}
