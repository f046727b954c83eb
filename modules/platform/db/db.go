// Package db opens the service's database (PostgreSQL, or an embedded SQLite file), carries
// transactions through context.Context and applies versioned migrations.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/glebarez/sqlite"
	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
	"go.uber.org/fx"
	"gorm.io/driver/postgres"
	"gorm.io/gorm"
	"gorm.io/gorm/logger"
)

// Config says which database to open.
type Config struct {
	// URI is a PostgreSQL URL (postgres:// or postgresql://), an SQLite one (sqlite://path or
	// file:path), or empty for the SQLite file DefaultSQLitePath.
	URI string `mapstructure:"uri"`
	// MaxOpenConns caps the connection pool (PostgreSQL); 0 means 20.
	MaxOpenConns int `mapstructure:"max_open_conns"`
	// RequireExisting makes Start fail, creating nothing, when the SQLite file does not exist: for
	// commands that need a migrated database. Set by the program, not a setting.
	RequireExisting bool `mapstructure:"-"`
}

// DefaultSQLitePath is the SQLite file used when no database URI is configured.
const DefaultSQLitePath = "gophermart.db"

// Dialect names the SQL engine behind a DB.
type Dialect string

// The engines a DB can be.
const (
	Postgres Dialect = "postgres"
	SQLite   Dialect = "sqlite"
)

// ErrBadURI is returned for a database URI with an unknown scheme or no path.
var ErrBadURI = errors.New("unsupported database URI (want postgres://, postgresql://, sqlite://PATH or file:PATH)")

// ErrUnreachable wraps every failure to connect at Start: no server at the address, authentication
// refused, no such database, an SQLite file that cannot be opened.
var ErrUnreachable = errors.New("database unreachable")

// ErrSchemaMissing is returned when the database lacks the schema a command needs: the SQLite file
// does not exist (Config.RequireExisting), or migrations are not applied (Migrator.Check).
var ErrSchemaMissing = errors.New("database schema missing")

// Module provides *DB from Config. Its hooks connect on start (Start) and close the pool on stop;
// building it does no I/O.
var Module = fx.Module("db",
	fx.Provide(func(lc fx.Lifecycle, cfg Config) (*DB, error) {
		d, err := New(cfg)
		if err != nil {
			return nil, err
		}
		lc.Append(fx.Hook{
			OnStart: func(ctx context.Context) error {
				if err := d.Start(ctx); err != nil {
					_ = d.Close() // no stop hook runs for a start that failed
					return err
				}
				return nil
			},
			OnStop: func(context.Context) error { return d.Close() },
		})
		return d, nil
	}),
)

// DB is the shared connection pool. Safe for concurrent use.
type DB struct {
	sql             *sql.DB
	gorm            atomic.Pointer[gorm.DB] // set by Start
	dialect         Dialect
	file            string // SQLite: the database file ("" in memory)
	requireExisting bool
	gate            *writeGate // SQLite: one writer at a time, in arrival order (nil on PostgreSQL)
}

// ParseURI tells which engine a URI names and returns the DSN to open it with.
func ParseURI(uri string) (Dialect, string, error) {
	uri = strings.TrimSpace(uri)
	switch {
	case strings.HasPrefix(uri, "postgres://"), strings.HasPrefix(uri, "postgresql://"):
		if _, err := url.Parse(uri); err != nil {
			return "", "", fmt.Errorf("%w: %w", ErrBadURI, err)
		}
		return Postgres, uri, nil
	case uri == "":
		return SQLite, sqliteDSN(DefaultSQLitePath), nil
	case strings.HasPrefix(uri, "sqlite://"):
		p := strings.TrimPrefix(uri, "sqlite://")
		if p == "" {
			return "", "", ErrBadURI
		}
		return SQLite, sqliteDSN(p), nil
	case strings.HasPrefix(uri, "file:"):
		p := strings.TrimPrefix(uri, "file:")
		if p == "" {
			return "", "", ErrBadURI
		}
		return SQLite, sqliteDSN(p), nil
	}
	return "", "", ErrBadURI
}

// sqliteDSN turns a path (optionally with its own query) into a DSN whose pragmas apply to every
// pooled connection: WAL, a busy timeout, and immediate transactions, so that concurrent writers wait
// for each other instead of failing with "database is locked" (a deferred transaction that reads then writes fails at once with SQLITE_BUSY). synchronous is
// FULL, not NORMAL: in WAL mode NORMAL may lose the last commits on power loss, and an order answered
// 202 or a withdrawal answered 200 must survive that.
func sqliteDSN(path string) string {
	path, query, _ := strings.Cut(path, "?")
	params := []string{
		// busy_timeout first: the pragmas run in order on every new connection, and switching to WAL
		// needs a lock that another process opening the same file may hold at that moment.
		"_pragma=busy_timeout(10000)", "_pragma=journal_mode(WAL)", "_pragma=synchronous(FULL)",
		"_pragma=foreign_keys(1)", "_txlock=immediate",
	}
	if query != "" {
		params = append(params, query)
	}
	return "file:" + path + "?" + strings.Join(params, "&")
}

// New prepares the pool for the database named by cfg.URI without connecting: no I/O happens until
// Start. A URI that cannot be parsed is an error wrapping ErrBadURI.
func New(cfg Config) (*DB, error) {
	dialect, dsn, err := ParseURI(cfg.URI)
	if err != nil {
		return nil, err
	}
	d := &DB{dialect: dialect, requireExisting: cfg.RequireExisting}
	switch dialect {
	case Postgres:
		pc, err := pgx.ParseConfig(dsn)
		if err != nil {
			return nil, fmt.Errorf("%w: %w", ErrBadURI, err)
		}
		d.sql = stdlib.OpenDB(*pc)
	case SQLite:
		if d.sql, err = sql.Open(sqlite.DriverName, dsn); err != nil {
			return nil, fmt.Errorf("open sqlite database: %w", err)
		}
		d.gate = newWriteGate()
		if !strings.Contains(dsn, "mode=memory") {
			d.file = strings.TrimPrefix(strings.SplitN(dsn, "?", 2)[0], "file:")
		}
	}
	maxOpen := cfg.MaxOpenConns
	if maxOpen <= 0 {
		maxOpen = 20
	}
	d.sql.SetMaxOpenConns(maxOpen)
	d.sql.SetMaxIdleConns(maxOpen)
	d.sql.SetConnMaxIdleTime(5 * time.Minute)
	return d, nil
}

// connectTimeout bounds the first connection at Start, so that a database that never answers is
// reported as unreachable instead of using up the whole start timeout.
const connectTimeout = 15 * time.Second

// Start connects and checks that the database answers, within ctx and connectTimeout. A failure
// wraps ErrUnreachable. With Config.RequireExisting, a missing SQLite file is an error wrapping
// ErrSchemaMissing, and nothing is created.
func (d *DB) Start(ctx context.Context) error {
	if d.file != "" {
		if d.requireExisting {
			if _, err := os.Stat(d.file); errors.Is(err, fs.ErrNotExist) {
				return fmt.Errorf("%w: database file %s does not exist", ErrSchemaMissing, d.file)
			}
		} else if dir := filepath.Dir(d.file); dir != "." {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return fmt.Errorf("%w: create database directory: %w", ErrUnreachable, err)
			}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, connectTimeout)
	defer cancel()
	g, err := d.connect(ctx)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrUnreachable, err)
	}
	d.gorm.Store(g)
	return nil
}

// connect pings the pool and puts gorm on it. On SQLite, several processes opening one new file at
// once race to switch it to WAL, and SQLite answers that race with SQLITE_BUSY at once, without
// waiting for busy_timeout (seen in the concurrent-migrators test, 1 run in 10): so that error is
// retried until ctx ends.
func (d *DB) connect(ctx context.Context) (*gorm.DB, error) {
	gcfg := &gorm.Config{
		TranslateError:         true,
		SkipDefaultTransaction: true,
		DisableAutomaticPing:   true,
		Logger:                 logger.Discard,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	}
	for {
		err := d.sql.PingContext(ctx)
		if err == nil {
			dialector := postgres.New(postgres.Config{Conn: d.sql})
			if d.dialect == SQLite {
				dialector = &sqlite.Dialector{DriverName: sqlite.DriverName, Conn: d.sql} // asks the engine's version
			}
			var g *gorm.DB
			if g, err = gorm.Open(dialector, gcfg); err == nil {
				return g, nil
			}
		}
		if !isBusy(err) {
			return nil, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// Open prepares and starts the database named by cfg.URI: New, then Start within connectTimeout.
// For code that uses a database without an fx lifecycle (tests, tools).
func Open(cfg Config) (*DB, error) {
	d, err := New(cfg)
	if err != nil {
		return nil, err
	}
	if err := d.Start(context.Background()); err != nil {
		_ = d.Close()
		return nil, err
	}
	return d, nil
}

func isBusy(err error) bool {
	if err == nil {
		return false
	}
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked")
}

// Dialect tells which engine this is.
func (d *DB) Dialect() Dialect { return d.dialect }

// SQL returns the underlying pool. It exists before Start (no connection is made until used).
func (d *DB) SQL() *sql.DB { return d.sql }

// Ping checks that the database answers; /readyz uses it.
func (d *DB) Ping(ctx context.Context) error {
	return d.SQL().PingContext(ctx)
}

// Close closes the pool.
func (d *DB) Close() error { return d.sql.Close() }

// orm returns gorm on the pool; using the database before Start is a wiring mistake.
func (d *DB) orm() *gorm.DB {
	g := d.gorm.Load()
	if g == nil {
		panic("db: used before Start")
	}
	return g
}

type txKey struct{}

// Conn returns the transaction carried by ctx, or the pool, bound to ctx. Stores call it for every
// statement so that they join whatever transaction their caller opened.
func (d *DB) Conn(ctx context.Context) *gorm.DB {
	if tx, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return tx
	}
	return d.orm().WithContext(ctx)
}

// InTx runs fn in one transaction: committed if fn returns nil, rolled back otherwise. The ctx given
// to fn carries the transaction, so every store called with it joins. Inside a transaction already,
// fn simply joins the outer one. On SQLite the transaction first waits its turn at the write gate
// (see Write), since every transaction there is an immediate one, a writer.
func (d *DB) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if _, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return fn(ctx)
	}
	if d.gate != nil && ctx.Value(gateKey{}) == nil {
		if err := d.gate.enter(ctx); err != nil {
			return err
		}
		defer d.gate.leave()
	}
	return d.orm().WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return fn(context.WithValue(ctx, txKey{}, tx))
	})
}

// InTx reports whether ctx carries a transaction.
func InTx(ctx context.Context) bool {
	_, ok := ctx.Value(txKey{}).(*gorm.DB)
	return ok
}
