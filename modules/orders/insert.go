package orders

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"gorm.io/gorm"

	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/ordernum"
)

// lockUserPgSQL and insertCappedPgSQL are Insert's two statements on PostgreSQL, sent together as
// one pipeline (insertPipelined); the insert is the one every path runs, insertCappedSQL.
const lockUserPgSQL = `SELECT id FROM gm_users WHERE id = $1 FOR NO KEY UPDATE`

var insertCappedPgSQL = db.Rebind(insertCappedSQL)

// insertPipelined is Insert on PostgreSQL outside a transaction, in one round trip: the lock on the
// user's row and the conditional insert go as one pipeline ending in a single Sync. Statements sent
// before a Sync without BEGIN run as one implicit transaction, committed at the Sync (rolled back if
// one fails), so the lock is held until the insert commits, exactly as in the explicit transaction;
// and under READ COMMITTED the insert, a statement of its own, counts from a snapshot taken after
// the lock was granted, so it reads the user's pending count as every upload of this user that
// committed before left it.
func (s *SQLStore) insertPipelined(ctx context.Context, userID string, n ordernum.Number, at time.Time, maxPending int) (bool, error) {
	var known, inserted bool
	err := s.db.Pgx(ctx, func(ctx context.Context, c *pgx.Conn) error {
		b := &pgx.Batch{}
		b.Queue(lockUserPgSQL, userID)
		b.Queue(insertCappedPgSQL, string(n), userID, StatusNew, at, at, userID, int64(maxPending))
		br := c.SendBatch(ctx, b)
		rows, err := br.Query()
		if err == nil {
			known = rows.Next()
			rows.Close()
			err = rows.Err()
		}
		if err != nil {
			return errors.Join(fmt.Errorf("lock user %s: %w", userID, err), br.Close())
		}
		tag, insErr := br.Exec()
		if err := br.Close(); err != nil && insErr == nil {
			insErr = err // the commit at the Sync failed
		}
		if !known { // the insert may have failed on the foreign key: the user is what matters
			return ErrUnknownUser
		}
		if insErr != nil {
			return insErr
		}
		inserted = tag.RowsAffected() == 1
		return nil
	})
	return inserted, err
}

// insertAutocommit is Insert on SQLite outside a transaction: the conditional insert alone, one
// autocommit statement taken at the write gate. SQLite runs one writer at a time, so the count in
// the statement cannot be overtaken by another upload, and no lock on the user's row is needed. The
// foreign key tells an unknown user when the insert is tried; when it is not (cap reached, number
// known), a read outside the gate tells it, on that uncommon path only.
func (s *SQLStore) insertAutocommit(ctx context.Context, userID string, n ordernum.Number, at time.Time, maxPending int) (bool, error) {
	var rows int64
	err := s.db.Write(ctx, func(ctx context.Context) error {
		res := s.db.Conn(ctx).Exec(insertCappedSQL, string(n), userID, StatusNew, at, at, userID, maxPending)
		rows = res.RowsAffected
		return res.Error
	})
	switch {
	case errors.Is(err, gorm.ErrForeignKeyViolated):
		return false, ErrUnknownUser
	case err != nil:
		return false, err
	case rows == 1:
		return true, nil
	}
	var users int64
	if err := s.db.Conn(ctx).Raw("SELECT count(*) FROM gm_users WHERE id = ?", userID).Scan(&users).Error; err != nil {
		return false, fmt.Errorf("look up user %s: %w", userID, err)
	}
	if users == 0 {
		return false, ErrUnknownUser
	}
	return false, nil
}
