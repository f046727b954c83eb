package db

import (
	"context"
	"database/sql"
	"strconv"
	"strings"
	"sync"

	"gorm.io/gorm"
)

// Query, QueryRow and Exec run SQL straight on database/sql, without gorm's statement building,
// callbacks and reflection: for the hot read paths where a profile shows gorm's cost. The rest of
// the code keeps using gorm through Conn.
//
// The SQL is written once, for both engines, with ? placeholders; on PostgreSQL each ? becomes $1,
// $2, … in order (rebound once per distinct SQL text and cached). The SQL must not contain a literal
// question mark (in a string literal, a comment or an operator such as jsonb's ?): every ? is taken
// for a placeholder. Statements run on the transaction carried by ctx, if any (the one InTx opened,
// which gorm's Conn also joins), or else on the pool. Errors are the driver's own, not translated to
// gorm's errors; sql.ErrNoRows comes from (*sql.Row).Scan as usual.
//
// Statements are prepared and cached per connection by the drivers: pgx's stdlib runs in
// QueryExecModeCacheStatement (the pgx.ParseConfig default that New keeps), which prepares each
// distinct SQL text once per connection and then sends only its name and arguments; the SQLite
// driver compiles each statement on its own connection.

// querier is what both the pool (*sql.DB) and a transaction (*sql.Tx) offer.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// rebound caches the PostgreSQL form of each SQL text given to Query, QueryRow or Exec. Callers pass
// constant SQL, so it holds one entry per statement of the program.
var rebound sync.Map // string → string

// on returns where a statement of ctx runs, and query in that engine's placeholder syntax.
func (d *DB) on(ctx context.Context, query string) (querier, string) {
	if d.dialect == Postgres {
		query = rebindCached(query)
	}
	if tx, ok := ctx.Value(txKey{}).(*gorm.DB); ok {
		if q, ok := tx.Statement.ConnPool.(querier); ok {
			return q, query
		}
	}
	return d.sql, query
}

// Query runs a statement that returns rows; see the rules above Query.
func (d *DB) Query(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	q, query := d.on(ctx, query)
	return q.QueryContext(ctx, query, args...)
}

// QueryRow runs a statement that returns at most one row; see the rules above Query.
func (d *DB) QueryRow(ctx context.Context, query string, args ...any) *sql.Row {
	q, query := d.on(ctx, query)
	return q.QueryRowContext(ctx, query, args...)
}

// Exec runs a statement that returns no rows; see the rules above Query.
func (d *DB) Exec(ctx context.Context, query string, args ...any) (sql.Result, error) {
	q, query := d.on(ctx, query)
	return q.ExecContext(ctx, query, args...)
}

func rebindCached(query string) string {
	if !strings.Contains(query, "?") {
		return query
	}
	if v, ok := rebound.Load(query); ok {
		return v.(string) // only strings are stored
	}
	out := Rebind(query)
	rebound.Store(query, out)
	return out
}

// Rebind turns each ? of query into PostgreSQL's $1, $2, … in order. Every ? counts, even one inside
// a string literal or a comment.
func Rebind(query string) string {
	var b strings.Builder
	b.Grow(len(query) + 8)
	n := 0
	for i := range len(query) {
		if query[i] != '?' {
			b.WriteByte(query[i])
			continue
		}
		n++
		b.WriteByte('$')
		b.WriteString(strconv.Itoa(n))
	}
	return b.String()
}
