// Package db opens the service's database (PostgreSQL, or an embedded SQLite file), carries
// transactions through context.Context and applies versioned migrations.
package db

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/glebarez/sqlite"
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

// Module provides *DB, opened from Config, and closes it when the app stops.
var Module = fx.Module("db",
	fx.Provide(func(lc fx.Lifecycle, cfg Config) (*DB, error) {
		d, err := Open(cfg)
		if err != nil {
			return nil, err
		}
		lc.Append(fx.StopHook(d.Close))
		return d, nil
	}),
)

// DB is the shared connection pool. Safe for concurrent use.
type DB struct {
	gorm    *gorm.DB
	dialect Dialect
	file    string // SQLite: the database file ("" in memory)
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
// for each other instead of failing with "database is locked" (see PITFALLS.md §5). synchronous is
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

// Open connects to the database named by cfg.URI and checks that it answers.
func Open(cfg Config) (*DB, error) {
	dialect, dsn, err := ParseURI(cfg.URI)
	if err != nil {
		return nil, err
	}
	gcfg := &gorm.Config{
		TranslateError:         true,
		SkipDefaultTransaction: true,
		Logger:                 logger.Discard,
		NowFunc:                func() time.Time { return time.Now().UTC() },
	}
	var g *gorm.DB
	switch dialect {
	case Postgres:
		g, err = gorm.Open(postgres.Open(dsn), gcfg)
	case SQLite:
		if dir := filepath.Dir(strings.TrimPrefix(strings.SplitN(dsn, "?", 2)[0], "file:")); dir != "." {
			if err := os.MkdirAll(dir, 0o750); err != nil {
				return nil, fmt.Errorf("create database directory: %w", err)
			}
		}
		g, err = openSQLite(dsn, gcfg)
	}
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	sqlDB, err := g.DB()
	if err != nil {
		return nil, fmt.Errorf("open %s database: %w", dialect, err)
	}
	maxOpen := cfg.MaxOpenConns
	if maxOpen <= 0 {
		maxOpen = 20
	}
	sqlDB.SetMaxOpenConns(maxOpen)
	sqlDB.SetMaxIdleConns(maxOpen)
	sqlDB.SetConnMaxIdleTime(5 * time.Minute)
	d := &DB{gorm: g, dialect: dialect}
	if dialect == SQLite && !strings.Contains(dsn, "mode=memory") {
		d.file = strings.TrimPrefix(strings.SplitN(dsn, "?", 2)[0], "file:")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := d.Ping(ctx); err != nil {
		_ = d.Close()
		return nil, fmt.Errorf("connect to %s database: %w", dialect, err)
	}
	return d, nil
}

// openSQLite opens an SQLite file. Several processes opening one new file at once race to switch it
// to WAL, and SQLite answers that race with SQLITE_BUSY at once, without waiting for busy_timeout
// (seen in the concurrent-migrators test, 1 run in 10): so retry that error for a while.
func openSQLite(dsn string, gcfg *gorm.Config) (*gorm.DB, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		g, err := gorm.Open(sqlite.Open(dsn), gcfg)
		if err == nil || !isBusy(err) || time.Now().After(deadline) {
			return g, err
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func isBusy(err error) bool {
	msg := err.Error()
	return strings.Contains(msg, "SQLITE_BUSY") || strings.Contains(msg, "database is locked")
}

// Dialect tells which engine this is.
func (d *DB) Dialect() Dialect { return d.dialect }

// SQL returns the underlying pool.
func (d *DB) SQL() *sql.DB {
	s, _ := d.gorm.DB() // cannot fail: Open checked it
	return s
}

// Ping checks that the database answers; /readyz uses it.
func (d *DB) Ping(ctx context.Context) error {
	return d.SQL().PingContext(ctx)
}

// Close closes the pool.
func (d *DB) Close() error { return d.SQL().Close() }

type txKey struct{}

// Conn returns the transaction carried by ctx, or the pool, bound to ctx. Stores call it for every
// statement so that they join whatever transaction their caller opened.
func (d *DB) Conn(ctx context.Context) *gorm.DB {
	if tx, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return tx
	}
	return d.gorm.WithContext(ctx)
}

// InTx runs fn in one transaction: committed if fn returns nil, rolled back otherwise. The ctx given
// to fn carries the transaction, so every store called with it joins. Inside a transaction already,
// fn simply joins the outer one.
func (d *DB) InTx(ctx context.Context, fn func(ctx context.Context) error) error {
	if _, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		return fn(ctx)
	}
	return d.gorm.WithContext(ctx).Transaction(func(tx *gorm.DB) error {
		return fn(context.WithValue(ctx, txKey{}, tx))
	})
}

// InTx reports whether ctx carries a transaction.
func InTx(ctx context.Context) bool {
	_, ok := ctx.Value(txKey{}).(*gorm.DB)
	return ok
}
