// Package dbtest gives tests fresh, real databases: an SQLite file always, and a PostgreSQL database
// when GOPHERMART_TEST_DSN names a server (with CI=true a missing DSN fails the test, never skips).
package dbtest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/migrations"
	"github.com/gophermart/gophermart/modules/platform/db"
)

// EnvDSN names the environment variable holding an admin URL of a PostgreSQL server for tests, e.g.
// postgres://postgres@127.0.0.1:5432/test?sslmode=disable. Each test gets its own database there.
const EnvDSN = "GOPHERMART_TEST_DSN"

// Opener opens a fresh database for one test; it is dropped when the test ends.
type Opener func(tb testing.TB) *db.DB

// EngineNames lists the engines available to this run: "sqlite" always, "postgres" when EnvDSN is set.
func EngineNames(tb testing.TB) []string {
	tb.Helper()
	names := []string{"sqlite"}
	if os.Getenv(EnvDSN) != "" {
		names = append(names, "postgres")
	} else if os.Getenv("CI") == "true" {
		tb.Fatalf("%s is not set: CI must test PostgreSQL too", EnvDSN)
	}
	return names
}

// Engines returns an Opener per available engine, each giving a fresh database with Gophermart's
// migrations applied.
func Engines(tb testing.TB) map[string]Opener {
	tb.Helper()
	out := map[string]Opener{}
	for _, name := range EngineNames(tb) {
		out[name] = func(tb testing.TB) *db.DB {
			tb.Helper()
			return Migrated(tb, Open(tb, name))
		}
	}
	return out
}

// Migrated applies Gophermart's migrations to d and returns it.
func Migrated(tb testing.TB, d *db.DB) *db.DB {
	tb.Helper()
	m, err := db.NewMigrator(d, migrations.Set, nil)
	require.NoError(tb, err)
	_, err = m.Up(context.Background())
	require.NoError(tb, err)
	return d
}

// Open opens a fresh, empty database of the named engine, closed and dropped on cleanup.
func Open(tb testing.TB, engine string) *db.DB {
	tb.Helper()
	d, err := db.Open(db.Config{URI: URI(tb, engine)})
	require.NoError(tb, err)
	tb.Cleanup(func() { _ = d.Close() })
	return d
}

// URI creates a fresh, empty database of the named engine and returns its URI, for code (or a
// binary) that opens it itself. It is dropped when the test ends.
func URI(tb testing.TB, engine string) string {
	tb.Helper()
	switch engine {
	case "sqlite":
		return "sqlite://" + filepath.Join(tb.TempDir(), "test.db")
	case "postgres":
		return postgresURI(tb)
	}
	tb.Fatalf("unknown engine %q", engine)
	return ""
}

func postgresURI(tb testing.TB) string {
	tb.Helper()
	admin := os.Getenv(EnvDSN)
	if admin == "" {
		tb.Skipf("%s not set", EnvDSN)
	}
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "gmtest_" + hex.EncodeToString(b)

	a, err := db.Open(db.Config{URI: admin, MaxOpenConns: 2})
	require.NoError(tb, err)
	defer func() { _ = a.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = a.SQL().ExecContext(ctx, "CREATE DATABASE "+name)
	require.NoError(tb, err)
	tb.Cleanup(func() {
		a, err := db.Open(db.Config{URI: admin, MaxOpenConns: 1})
		if err != nil {
			tb.Logf("drop %s: %v", name, err)
			return
		}
		defer func() { _ = a.Close() }()
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		if _, err := a.SQL().ExecContext(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			tb.Logf("drop %s: %v", name, err)
		}
	})

	u, err := url.Parse(admin)
	require.NoError(tb, err)
	u.Path = "/" + name
	return u.String()
}

// CreateUser inserts a user row with the given id (and a login derived from it) so that rows of other
// tables may reference it.
func CreateUser(tb testing.TB, d *db.DB, id string) {
	tb.Helper()
	err := d.Conn(context.Background()).Exec(
		"INSERT INTO gm_users (id, login, login_key, password_hash, created_at) VALUES (?, ?, ?, ?, ?)",
		id, "login-"+id, "login-"+id, "x", time.Now().UTC()).Error
	require.NoError(tb, err)
}
