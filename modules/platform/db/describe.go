package db

import (
	"net/url"
	"path/filepath"
	"strings"
)

// Describe names the database a URI points at, fit for a log line: the engine, then for SQLite the
// file's absolute path ("sqlite /srv/gophermart.db", or "sqlite in memory") and for PostgreSQL
// host:port/database ("postgres db.internal:5432/gophermart"). It never shows a user name, a
// password or query parameters (which may carry a password too). A URI ParseURI refuses gives
// "unsupported database URI".
func Describe(uri string) string {
	dialect, dsn, err := ParseURI(uri)
	if err != nil {
		return "unsupported database URI"
	}
	if dialect == SQLite {
		path, query, _ := strings.Cut(strings.TrimPrefix(dsn, "file:"), "?")
		if path == ":memory:" || strings.Contains(query, "mode=memory") {
			return "sqlite in memory"
		}
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		return "sqlite " + path
	}
	u, err := url.Parse(strings.TrimSpace(uri))
	if err != nil {
		return "postgres"
	}
	host := u.Host
	if host == "" {
		host = u.Query().Get("host") // a Unix socket directory, given as a parameter
	}
	if host == "" {
		host = "(default host)"
	}
	return "postgres " + host + "/" + strings.TrimPrefix(u.Path, "/")
}
