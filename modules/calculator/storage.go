package calculator

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/uuid"

	"github.com/gophermart/gophermart/modules/calculator/migrations"
	"github.com/gophermart/gophermart/modules/platform/db"
)

// Migrations is the accrual service's schema: acc_ tables, its own goose table and advisory lock.
var Migrations = db.Migrations{FS: migrations.FS, Table: migrations.Table, LockID: migrations.LockID}

// Migrate applies the accrual service's pending migrations to d. It never touches other tables, so d
// may be Gophermart's database.
func Migrate(ctx context.Context, d *db.DB, log *slog.Logger) error {
	if log != nil {
		log = log.With("migrations", migrations.Table)
	}
	m, err := db.NewMigrator(d, Migrations, log)
	if err != nil {
		return err
	}
	if _, err := m.Up(ctx); err != nil {
		return fmt.Errorf("accrual schema: %w", err)
	}
	return nil
}

// OpenDB opens the standalone service's database: uri as db.Open takes it, or, when uri is empty, a
// private in-memory SQLite database that lives until closeDB. closeDB closes the pool (and frees the
// memory database). It is NewDB followed by its start.
func OpenDB(uri string) (d *db.DB, closeDB func() error, err error) {
	d, start, closeDB, err := NewDB(uri)
	if err != nil {
		return nil, nil, err
	}
	if err := start(context.Background()); err != nil {
		_ = closeDB()
		return nil, nil, err
	}
	return d, closeDB, nil
}

// NewDB prepares the standalone service's database as OpenDB describes without any I/O: start
// connects (and keeps the in-memory database alive), closeDB undoes it; call both, closeDB even
// when start failed.
//
// The in-memory database uses SQLite's memdb VFS under a unique name, shared by every pooled
// connection with normal file locking, so busy_timeout and immediate transactions work as on a file.
// (A "mode=memory&cache=shared" database does not: concurrent writers fail at once with "database
// table is locked", which the shared cache's table locks return without waiting.)
func NewDB(uri string) (d *db.DB, start func(context.Context) error, closeDB func() error, err error) {
	if strings.TrimSpace(uri) != "" {
		d, err := db.New(db.Config{URI: uri})
		if err != nil {
			return nil, nil, nil, err
		}
		return d, d.Start, d.Close, nil
	}
	// The name is a path in a directory of its own: nothing is written there but the migration lock
	// file; Start creates the directory, and it goes when the database closes.
	dir := filepath.Join(os.TempDir(), "accrual-memdb-"+uuid.NewString())
	d, err = db.New(db.Config{URI: "file:" + filepath.ToSlash(filepath.Join(dir, "accrual.db")) + "?vfs=memdb"})
	if err != nil {
		return nil, nil, nil, fmt.Errorf("in-memory database: %w", err)
	}
	var keeper *sql.Conn
	start = func(ctx context.Context) error {
		if err := d.Start(ctx); err != nil {
			return fmt.Errorf("in-memory database: %w", err)
		}
		// SQLite frees a memdb database when its last connection closes; this one stays open until
		// closeDB, however idle the pool gets.
		if keeper, err = d.SQL().Conn(ctx); err != nil {
			return fmt.Errorf("in-memory database: %w", err)
		}
		return nil
	}
	closeDB = func() error {
		var kerr error
		if keeper != nil {
			kerr = ignoreDone(keeper.Close())
		}
		return errors.Join(kerr, d.Close(), os.RemoveAll(dir))
	}
	return d, start, closeDB, nil
}

func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrConnDone) {
		return nil
	}
	return err
}
