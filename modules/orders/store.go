package orders

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm/clause"

	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/keyset"
	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/points"
)

// The statuses of an order. NEW and PROCESSING are pending (the accrual worker asks about them);
// INVALID and PROCESSED are final.
const (
	StatusNew        = "NEW"
	StatusProcessing = "PROCESSING"
	StatusInvalid    = "INVALID"
	StatusProcessed  = "PROCESSED"
)

// orderRow is one row of gm_orders. The queue columns (next_poll_at, attempts, lease_*) belong to
// the accrual worker's queue (queue.go); next_poll_at is NULL once the order is final.
type orderRow struct {
	Number     string     `gorm:"column:number;primaryKey"`
	UserID     string     `gorm:"column:user_id"`
	Status     string     `gorm:"column:status"`
	Accrual    *int64     `gorm:"column:accrual"` // hundredths, set when PROCESSED
	UploadedAt time.Time  `gorm:"column:uploaded_at"`
	NextPollAt *time.Time `gorm:"column:next_poll_at"`
	Attempts   int64      `gorm:"column:attempts"`
	LeaseOwner *string    `gorm:"column:lease_owner"`
	LeaseUntil *time.Time `gorm:"column:lease_until"`
}

// TableName tells gorm the table of orderRow.
func (orderRow) TableName() string { return "gm_orders" }

// Store keeps orders. Every method joins the transaction carried by ctx, if any.
type Store interface {
	// Insert stores a new order as NEW, due for polling at once, unless the number exists already
	// (whoever owns it: the primary key decides) or the user has maxPending pending orders already;
	// it reports false, and changes nothing, in both cases. Concurrent inserts by one user take
	// turns, so the cap holds under any concurrency. An unknown user gives ErrUnknownUser.
	Insert(ctx context.Context, userID string, n ordernum.Number, at time.Time, maxPending int) (inserted bool, err error)
	// Owner returns the id of the user who uploaded n, or ErrNotFound.
	Owner(ctx context.Context, n ordernum.Number) (string, error)
	// PageByUser returns up to limit orders of the user uploaded before after (all when nil), newest
	// first.
	PageByUser(ctx context.Context, userID string, after *keyset.Cursor, limit int) ([]Order, error)
}

// ErrNotFound is returned by a Store for an order number nobody uploaded.
var ErrNotFound = errors.New("order not found")

// SQLStore is the Store on the service's database (PostgreSQL or SQLite).
type SQLStore struct {
	db *db.DB
}

// NewStore returns the Store on d.
func NewStore(d *db.DB) *SQLStore { return &SQLStore{db: d} }

// insertCappedSQL inserts the order only while the user has fewer pending orders than the cap: one
// conditional statement, so no read-modify-write. The user's count of pending orders is kept in
// gm_users.pending by triggers on gm_orders (migration 6), in the transaction that changes an order,
// so the check reads one row however many orders the user has; an unknown user has no row, and the
// condition is then not true. ON CONFLICT DO NOTHING rather than a failing
// INSERT: a unique violation would abort a PostgreSQL transaction, and this way two users racing for
// one number are told apart by RowsAffected alone. (SQLite parses the upsert after a SELECT only
// when the SELECT has a WHERE clause, which it does.)
const insertCappedSQL = `INSERT INTO gm_orders (number, user_id, status, uploaded_at, next_poll_at)
	SELECT ?, ?, ?, ?, ?
	WHERE (SELECT pending FROM gm_users WHERE id = ?) < ?
	ON CONFLICT (number) DO NOTHING`

// Insert implements Store. The conditional insert alone is not enough on PostgreSQL: under READ
// COMMITTED two concurrent statements each count from their own snapshot, both see cap-1 and both
// insert. So the transaction first locks the user's row (FOR NO KEY UPDATE: it does not block the
// foreign-key checks of other tables' inserts, which take FOR KEY SHARE), and every later upload of
// that user waits for the commit and then reads the pending count with a fresh snapshot that
// includes it.
// Outside a transaction both statements go in one round trip (insertPipelined). On SQLite, where
// writers are serialised anyway, the lock is not needed: outside a transaction the conditional
// insert runs alone (insertAutocommit), inside one the lock clause is dropped.
func (s *SQLStore) Insert(ctx context.Context, userID string, n ordernum.Number, at time.Time, maxPending int) (bool, error) {
	at = at.UTC().Truncate(time.Microsecond)
	var inserted bool
	if !db.InTx(ctx) {
		insert := s.insertPipelined
		if s.db.Dialect() == db.SQLite {
			insert = s.insertAutocommit
		}
		var err error
		if inserted, err = insert(ctx, userID, n, at, maxPending); err != nil {
			return false, fmt.Errorf("insert order %s: %w", n, err)
		}
		return inserted, nil
	}
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		var users []string
		err := s.db.Conn(ctx).Table("gm_users").Select("id").Where("id = ?", userID).
			Clauses(clause.Locking{Strength: "NO KEY UPDATE"}).Find(&users).Error
		if err != nil {
			return fmt.Errorf("lock user %s: %w", userID, err)
		}
		if len(users) == 0 { // checked here, not by the foreign key: the insert may not even be tried
			return ErrUnknownUser
		}
		res := s.db.Conn(ctx).Exec(insertCappedSQL,
			string(n), userID, StatusNew, at, at, userID, maxPending)
		if res.Error != nil {
			return res.Error
		}
		inserted = res.RowsAffected == 1
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("insert order %s: %w", n, err)
	}
	return inserted, nil
}

// ownerSQL reads who uploaded an order number.
const ownerSQL = `SELECT user_id FROM gm_orders WHERE number = ?`

// Owner implements Store. It runs on db's raw path, without gorm.
func (s *SQLStore) Owner(ctx context.Context, n ordernum.Number) (string, error) {
	var owner string
	err := s.db.QueryRow(ctx, ownerSQL, string(n)).Scan(&owner)
	if errors.Is(err, sql.ErrNoRows) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("read owner of order %s: %w", n, err)
	}
	return owner, nil
}

// The statements of PageByUser: the first page, and a page after a cursor. Only the columns a list
// shows are read (not even user_id: it is the one asked for); the queue's are left out. The keyset condition is written out (not as a row-value
// comparison) so that it means the same on both engines. The redundant uploaded_at <= ? is what
// lets the (user_id, uploaded_at, number) index seek straight to the cursor: without it PostgreSQL
// bounds the index by user_id only and filters out every newer row, O(offset) per page.
const (
	pageFirstSQL = `SELECT number, status, accrual, uploaded_at FROM gm_orders
		WHERE user_id = ? ORDER BY uploaded_at DESC, number DESC LIMIT ?`
	pageAfterSQL = `SELECT number, status, accrual, uploaded_at FROM gm_orders
		WHERE user_id = ? AND uploaded_at <= ? AND (uploaded_at < ? OR (uploaded_at = ? AND number < ?))
		ORDER BY uploaded_at DESC, number DESC LIMIT ?`
)

// PageByUser implements Store. It runs on db's raw path, without gorm's reflection per row: the
// list is the hottest read after the balance, and gorm's Find was 40 % of its CPU.
func (s *SQLStore) PageByUser(ctx context.Context, userID string, after *keyset.Cursor, limit int) ([]Order, error) {
	var rows *sql.Rows
	var err error
	if after == nil {
		rows, err = s.db.Query(ctx, pageFirstSQL, userID, limit)
	} else {
		at := after.At.UTC()
		rows, err = s.db.Query(ctx, pageAfterSQL, userID, at, at, at, after.Key, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("page orders of user %s: %w", userID, err)
	}
	defer func() { _ = rows.Close() }()
	out := make([]Order, 0, min(limit, keyset.MaxLimit+1))
	accruals := make([]points.Amount, 0, cap(out)) // one allocation for every row's accrual
	for rows.Next() {
		o := Order{UserID: userID}
		var number string
		var accrual sql.NullInt64
		if err := rows.Scan(&number, &o.Status, &accrual, &o.UploadedAt); err != nil {
			return nil, fmt.Errorf("page orders of user %s: %w", userID, err)
		}
		o.Number, o.UploadedAt = ordernum.Number(number), o.UploadedAt.UTC()
		if accrual.Valid {
			if len(accruals) == cap(accruals) {
				accruals = make([]points.Amount, 0, 16)
			}
			accruals = append(accruals, points.Amount(accrual.Int64))
			o.Accrual = &accruals[len(accruals)-1]
		}
		out = append(out, o)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("page orders of user %s: %w", userID, err)
	}
	return out, nil
}
