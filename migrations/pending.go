package migrations

import (
	"context"
	"database/sql"
	"fmt"

	"github.com/pressly/goose/v3"

	"github.com/gophermart/gophermart/modules/platform/db"
)

// Set is Gophermart's schema: the SQL files of FS and the Go migrations of Go.
var Set = db.Migrations{FS: FS, Table: Table, LockID: LockID, Go: Go}

// Go returns the migrations written in Go, for the engine d: those whose SQL differs between
// PostgreSQL and SQLite.
func Go(d db.Dialect) []*goose.Migration {
	up, down := pendingSQLite, unpendingSQLite
	if d == db.Postgres {
		up, down = pendingPostgres, unpendingPostgres
	}
	return []*goose.Migration{goose.NewGoMigration(6, statements(up), statements(down))}
}

// statements runs each statement in turn in the migration's transaction.
func statements(list []string) *goose.GoFunc {
	return &goose.GoFunc{RunTx: func(ctx context.Context, tx *sql.Tx) error {
		for _, s := range list {
			if _, err := tx.ExecContext(ctx, s); err != nil {
				return fmt.Errorf("%.60s…: %w", s, err)
			}
		}
		return nil
	}}
}

// Migration 6 keeps each user's count of pending (NEW or PROCESSING) orders in gm_users.pending, so
// that the per-user cap an upload checks reads one row instead of counting up to the cap's worth of
// orders. Triggers on gm_orders keep it, so every writer of orders (any version of the service, a
// resync, an operator's SQL) keeps it right, in the transaction that changes the order. The count is
// filled in from the orders when the migration runs, and the index that served the counting goes.
// The statuses are spelled as literals, as in migration 4.

var pendingPostgres = []string{
	// Until the migration commits, no order may change: one made final between the count and the
	// triggers would stay counted as pending.
	`LOCK TABLE gm_orders IN SHARE ROW EXCLUSIVE MODE`,
	`ALTER TABLE gm_users ADD COLUMN pending BIGINT NOT NULL DEFAULT 0`,
	`UPDATE gm_users SET pending = c.n FROM (
		SELECT user_id, count(*) AS n FROM gm_orders WHERE status IN ('NEW', 'PROCESSING') GROUP BY user_id
	) c WHERE gm_users.id = c.user_id`,
	`CREATE FUNCTION gm_orders_count_pending() RETURNS trigger LANGUAGE plpgsql AS $$
	BEGIN
		IF TG_OP <> 'INSERT' AND OLD.status IN ('NEW', 'PROCESSING') THEN
			UPDATE gm_users SET pending = pending - 1 WHERE id = OLD.user_id;
		END IF;
		IF TG_OP <> 'DELETE' AND NEW.status IN ('NEW', 'PROCESSING') THEN
			UPDATE gm_users SET pending = pending + 1 WHERE id = NEW.user_id;
		END IF;
		RETURN NULL;
	END $$`,
	`CREATE TRIGGER gm_orders_pending_insert_delete AFTER INSERT OR DELETE ON gm_orders
		FOR EACH ROW EXECUTE FUNCTION gm_orders_count_pending()`,
	// An update counts only when it moves an order into or out of pending (or to another user):
	// NEW to PROCESSING, lease and poll changes leave the count alone and cost nothing here.
	`CREATE TRIGGER gm_orders_pending_update AFTER UPDATE OF status, user_id ON gm_orders
		FOR EACH ROW WHEN ((OLD.status IN ('NEW', 'PROCESSING')) IS DISTINCT FROM (NEW.status IN ('NEW', 'PROCESSING'))
			OR OLD.user_id IS DISTINCT FROM NEW.user_id)
		EXECUTE FUNCTION gm_orders_count_pending()`,
	`DROP INDEX gm_orders_user_pending`,
}

var unpendingPostgres = []string{
	`CREATE INDEX gm_orders_user_pending ON gm_orders (user_id) WHERE status IN ('NEW', 'PROCESSING')`,
	`DROP TRIGGER gm_orders_pending_update ON gm_orders`,
	`DROP TRIGGER gm_orders_pending_insert_delete ON gm_orders`,
	`DROP FUNCTION gm_orders_count_pending()`,
	`ALTER TABLE gm_users DROP COLUMN pending`,
}

var pendingSQLite = []string{
	`ALTER TABLE gm_users ADD COLUMN pending INTEGER NOT NULL DEFAULT 0`,
	`UPDATE gm_users SET pending = (SELECT count(*) FROM gm_orders
		WHERE gm_orders.user_id = gm_users.id AND status IN ('NEW', 'PROCESSING'))`,
	`CREATE TRIGGER gm_orders_pending_insert AFTER INSERT ON gm_orders
		WHEN NEW.status IN ('NEW', 'PROCESSING')
		BEGIN UPDATE gm_users SET pending = pending + 1 WHERE id = NEW.user_id; END`,
	`CREATE TRIGGER gm_orders_pending_delete AFTER DELETE ON gm_orders
		WHEN OLD.status IN ('NEW', 'PROCESSING')
		BEGIN UPDATE gm_users SET pending = pending - 1 WHERE id = OLD.user_id; END`,
	`CREATE TRIGGER gm_orders_pending_update AFTER UPDATE OF status, user_id ON gm_orders
		WHEN (OLD.status IN ('NEW', 'PROCESSING')) <> (NEW.status IN ('NEW', 'PROCESSING')) OR OLD.user_id <> NEW.user_id
		BEGIN
			UPDATE gm_users SET pending = pending - 1 WHERE id = OLD.user_id AND OLD.status IN ('NEW', 'PROCESSING');
			UPDATE gm_users SET pending = pending + 1 WHERE id = NEW.user_id AND NEW.status IN ('NEW', 'PROCESSING');
		END`,
	`DROP INDEX gm_orders_user_pending`,
}

var unpendingSQLite = []string{
	`CREATE INDEX gm_orders_user_pending ON gm_orders (user_id) WHERE status IN ('NEW', 'PROCESSING')`,
	`DROP TRIGGER gm_orders_pending_update`,
	`DROP TRIGGER gm_orders_pending_delete`,
	`DROP TRIGGER gm_orders_pending_insert`,
	`ALTER TABLE gm_users DROP COLUMN pending`,
}
