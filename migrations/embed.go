// Package migrations holds Gophermart's versioned SQL schema, embedded into the binary and applied
// by goose. One file set serves PostgreSQL and SQLite, so the files stay in their common subset.
package migrations

import "embed"

// FS holds the migration files at its root.
//
//go:embed *.sql
var FS embed.FS

// Table is the goose version table of Gophermart's schema.
const Table = "gm_goose_db_version"

// LockID is the PostgreSQL advisory lock id that serialises concurrent migrators of this schema.
const LockID int64 = 0x676d5f6d6967 // "gm_mig"
