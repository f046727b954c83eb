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
// memory database).
//
// The in-memory database uses SQLite's memdb VFS under a unique name, shared by every pooled
// connection with normal file locking, so busy_timeout and immediate transactions work as on a file.
// (A "mode=memory&cache=shared" database does not: concurrent writers fail at once with "database
// table is locked", which the shared cache's table locks return without waiting.)
func OpenDB(uri string) (d *db.DB, closeDB func() error, err error) {
	if strings.TrimSpace(uri) != "" {
		d, err := db.Open(db.Config{URI: uri})
		if err != nil {
			return nil, nil, err
		}
		return d, d.Close, nil
	}
	// The name is a path in a fresh directory: nothing is written there but the migration lock file,
	// and the directory goes when the database closes.
	dir, err := os.MkdirTemp("", "accrual-memdb-")
	if err != nil {
		return nil, nil, fmt.Errorf("in-memory database: %w", err)
	}
	d, err = db.Open(db.Config{URI: "file:" + filepath.ToSlash(filepath.Join(dir, "accrual.db")) + "?vfs=memdb"})
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("in-memory database: %w", err)
	}
	// SQLite frees a memdb database when its last connection closes; this one stays open until
	// closeDB, however idle the pool gets.
	keeper, err := d.SQL().Conn(context.Background())
	if err != nil {
		_ = d.Close()
		_ = os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("in-memory database: %w", err)
	}
	return d, func() error {
		return errors.Join(ignoreDone(keeper.Close()), d.Close(), os.RemoveAll(dir))
	}, nil
}

func ignoreDone(err error) error {
	if errors.Is(err, sql.ErrConnDone) {
		return nil
	}
	return err
}
