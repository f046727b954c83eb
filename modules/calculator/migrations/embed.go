// Package migrations holds the accrual service's versioned SQL schema, embedded into the binary and
// applied by goose. Its tables carry the acc_ prefix and goose records them in its own version table,
// so the service can share one database with Gophermart.
package migrations

import "embed"

// FS holds the migration files at its root.
//
//go:embed *.sql
var FS embed.FS

// Table is the goose version table of the accrual service's schema.
const Table = "acc_goose_db_version"

// LockID is the PostgreSQL advisory lock id that serialises concurrent migrators of this schema.
const LockID int64 = 0x6163635f6d6967 // "acc_mig"
