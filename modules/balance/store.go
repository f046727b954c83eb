package balance

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/keyset"
	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/points"
)

// Store keeps balances, credits and withdrawals. Every method joins the transaction carried by ctx,
// if any; the methods that only make sense together (InsertWithdrawal then Debit) need one.
type Store interface {
	// InsertCredit records a credit of amount to userID for order, reporting false (and changing
	// nothing) when that order was credited before: the primary key makes a credit happen once.
	InsertCredit(ctx context.Context, userID string, order ordernum.Number, amount points.Amount, at time.Time) (bool, error)
	// AddToBalance adds amount to the user's current points, creating their balance row if needed.
	AddToBalance(ctx context.Context, userID string, amount points.Amount) error
	// Balance returns the user's balance; a user without a balance row has 0 / 0.
	Balance(ctx context.Context, userID string) (Balance, error)
	// InsertWithdrawal records w, reporting false (and changing nothing) when its order number was
	// used before, by anyone.
	InsertWithdrawal(ctx context.Context, w Withdrawal) (bool, error)
	// Withdrawal returns the withdrawal made for order, or ErrNotFound.
	Withdrawal(ctx context.Context, order ordernum.Number) (Withdrawal, error)
	// Debit takes amount from the user's current points and adds it to withdrawn, in one conditional
	// statement; it reports false (and changes nothing) if current is lower than amount or the user
	// has no balance row.
	Debit(ctx context.Context, userID string, amount points.Amount) (bool, error)
	// WithdrawalsPage returns up to limit withdrawals of the user made before after (all when nil),
	// newest first.
	WithdrawalsPage(ctx context.Context, userID string, after *keyset.Cursor, limit int) ([]Withdrawal, error)
	// Violations checks the ledger invariant for every user and returns those who break it.
	Violations(ctx context.Context) ([]Violation, error)
}

// ErrNotFound is returned by a Store for a withdrawal that does not exist.
var ErrNotFound = errors.New("withdrawal not found")

type balanceRow struct {
	UserID    string `gorm:"column:user_id;primaryKey"`
	Current   int64  `gorm:"column:current"`
	Withdrawn int64  `gorm:"column:withdrawn"`
}

func (balanceRow) TableName() string { return "gm_balances" }

type creditRow struct {
	OrderNumber string    `gorm:"column:order_number;primaryKey"`
	UserID      string    `gorm:"column:user_id"`
	Amount      int64     `gorm:"column:amount"`
	CreditedAt  time.Time `gorm:"column:credited_at"`
}

func (creditRow) TableName() string { return "gm_credits" }

type withdrawalRow struct {
	OrderNumber string    `gorm:"column:order_number;primaryKey"`
	UserID      string    `gorm:"column:user_id"`
	Amount      int64     `gorm:"column:amount"`
	ProcessedAt time.Time `gorm:"column:processed_at"`
}

func (withdrawalRow) TableName() string { return "gm_withdrawals" }

func toRow(w Withdrawal) withdrawalRow {
	return withdrawalRow{
		OrderNumber: string(w.Order), UserID: w.UserID, Amount: int64(w.Sum),
		ProcessedAt: w.ProcessedAt.UTC().Truncate(time.Microsecond),
	}
}

func fromRow(r withdrawalRow) Withdrawal {
	return Withdrawal{
		Order: ordernum.Number(r.OrderNumber), UserID: r.UserID, Sum: points.Amount(r.Amount),
		ProcessedAt: r.ProcessedAt.UTC(),
	}
}

// SQLStore is the Store on the service's database (PostgreSQL or SQLite).
type SQLStore struct {
	db *db.DB
}

// NewStore returns the Store on d.
func NewStore(d *db.DB) *SQLStore { return &SQLStore{db: d} }

// InsertCredit implements Store.
func (s *SQLStore) InsertCredit(ctx context.Context, userID string, order ordernum.Number, amount points.Amount, at time.Time) (bool, error) {
	row := creditRow{OrderNumber: string(order), UserID: userID, Amount: int64(amount), CreditedAt: at.UTC().Truncate(time.Microsecond)}
	res := s.db.Conn(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "order_number"}}, DoNothing: true}).
		Create(&row)
	if res.Error != nil {
		return false, fmt.Errorf("insert credit for order %s: %w", order, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// AddToBalance implements Store.
func (s *SQLStore) AddToBalance(ctx context.Context, userID string, amount points.Amount) error {
	// The WHERE keeps the sum below MaxBalance: past int64 PostgreSQL would fail the statement and
	// SQLite would silently turn the column into a float.
	res := s.db.Conn(ctx).Exec(`INSERT INTO gm_balances (user_id, current, withdrawn) VALUES (?, ?, 0)
		ON CONFLICT (user_id) DO UPDATE SET current = gm_balances.current + excluded.current
		WHERE gm_balances.current <= ? - excluded.current`,
		userID, int64(amount), int64(MaxBalance))
	if res.Error != nil {
		return fmt.Errorf("add %s to balance of user %s: %w", amount, userID, res.Error)
	}
	if res.RowsAffected == 0 {
		return fmt.Errorf("add %s to balance of user %s: %w", amount, userID, ErrBalanceOverflow)
	}
	return nil
}

// balanceSQL reads one user's balance. It runs on db's raw path, without gorm: GET balance is the
// hottest read and gorm's statement building and reflection were a tenth of its CPU.
const balanceSQL = `SELECT current, withdrawn FROM gm_balances WHERE user_id = ?`

// Balance implements Store.
func (s *SQLStore) Balance(ctx context.Context, userID string) (Balance, error) {
	var cur, wd int64
	err := s.db.QueryRow(ctx, balanceSQL, userID).Scan(&cur, &wd)
	if errors.Is(err, sql.ErrNoRows) {
		return Balance{}, nil
	}
	if err != nil {
		return Balance{}, fmt.Errorf("read balance of user %s: %w", userID, err)
	}
	return Balance{Current: points.Amount(cur), Withdrawn: points.Amount(wd)}, nil
}

// InsertWithdrawal implements Store.
func (s *SQLStore) InsertWithdrawal(ctx context.Context, w Withdrawal) (bool, error) {
	row := toRow(w)
	res := s.db.Conn(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "order_number"}}, DoNothing: true}).
		Create(&row)
	if errors.Is(res.Error, gorm.ErrForeignKeyViolated) {
		return false, fmt.Errorf("insert withdrawal for order %s: %w", w.Order, ErrUnknownUser)
	}
	if res.Error != nil {
		return false, fmt.Errorf("insert withdrawal for order %s: %w", w.Order, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// Withdrawal implements Store.
func (s *SQLStore) Withdrawal(ctx context.Context, order ordernum.Number) (Withdrawal, error) {
	var row withdrawalRow
	err := s.db.Conn(ctx).Where("order_number = ?", string(order)).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return Withdrawal{}, ErrNotFound
	}
	if err != nil {
		return Withdrawal{}, fmt.Errorf("read withdrawal for order %s: %w", order, err)
	}
	return fromRow(row), nil
}

// Debit implements Store. The WHERE clause is the guard: on PostgreSQL a concurrent debit of the
// same row waits for this one and re-checks current >= amount on the new value; on SQLite writers
// are serialised by the immediate transaction. No read-modify-write, so no interleaving overdraws.
func (s *SQLStore) Debit(ctx context.Context, userID string, amount points.Amount) (bool, error) {
	res := s.db.Conn(ctx).Exec(`UPDATE gm_balances SET current = current - ?, withdrawn = withdrawn + ?
		WHERE user_id = ? AND current >= ?`, int64(amount), int64(amount), userID, int64(amount))
	if res.Error != nil {
		return false, fmt.Errorf("debit %s from user %s: %w", amount, userID, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// The statements of WithdrawalsPage: the first page, and a page after a cursor. The keyset
// condition is written out (not as a row-value comparison) so that it means the same on both
// engines. The redundant processed_at <= ? is what lets the (user_id, processed_at, order_number)
// index seek straight to the cursor: without it PostgreSQL bounds the index by user_id only and
// filters out every newer row, O(offset) per page.
const (
	withdrawalsFirstSQL = `SELECT order_number, amount, processed_at FROM gm_withdrawals
		WHERE user_id = ? ORDER BY processed_at DESC, order_number DESC LIMIT ?`
	withdrawalsAfterSQL = `SELECT order_number, amount, processed_at FROM gm_withdrawals
		WHERE user_id = ? AND processed_at <= ? AND (processed_at < ? OR (processed_at = ? AND order_number < ?))
		ORDER BY processed_at DESC, order_number DESC LIMIT ?`
)

// WithdrawalsPage implements Store. It runs on db's raw path, without gorm's reflection per row.
func (s *SQLStore) WithdrawalsPage(ctx context.Context, userID string, after *keyset.Cursor, limit int) ([]Withdrawal, error) {
	var rows *sql.Rows
	var err error
	if after == nil {
		rows, err = s.db.Query(ctx, withdrawalsFirstSQL, userID, limit)
	} else {
		at := after.At.UTC()
		rows, err = s.db.Query(ctx, withdrawalsAfterSQL, userID, at, at, at, after.Key, limit)
	}
	if err != nil {
		return nil, fmt.Errorf("page withdrawals of user %s: %w", userID, err)
	}
	defer func() { _ = rows.Close() }()
	out := make([]Withdrawal, 0, min(limit, keyset.MaxLimit+1))
	for rows.Next() {
		w := Withdrawal{UserID: userID} // the one asked for: not read back
		var order string
		var amount int64
		if err := rows.Scan(&order, &amount, &w.ProcessedAt); err != nil {
			return nil, fmt.Errorf("page withdrawals of user %s: %w", userID, err)
		}
		w.Order, w.Sum, w.ProcessedAt = ordernum.Number(order), points.Amount(amount), w.ProcessedAt.UTC()
		out = append(out, w)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("page withdrawals of user %s: %w", userID, err)
	}
	return out, nil
}

// violationsQuery compares, in one statement (one snapshot), every balance row with the sums of the
// ledger, over every user who has a balance row, a credit or a withdrawal. A user with credits but
// no balance row counts as 0 / 0 and is caught.
const violationsQuery = `
SELECT user_id, has_balance, cur, wd, credited, spent FROM (
	SELECT k.user_id AS user_id,
		CASE WHEN b.user_id IS NULL THEN 0 ELSE 1 END AS has_balance,
		COALESCE(b.current, 0) AS cur,
		COALESCE(b.withdrawn, 0) AS wd,
		COALESCE((SELECT CAST(SUM(c.amount) AS BIGINT) FROM gm_credits c WHERE c.user_id = k.user_id), 0) AS credited,
		COALESCE((SELECT CAST(SUM(w.amount) AS BIGINT) FROM gm_withdrawals w WHERE w.user_id = k.user_id), 0) AS spent
	FROM (
		SELECT user_id FROM gm_balances
		UNION SELECT user_id FROM gm_credits
		UNION SELECT user_id FROM gm_withdrawals
	) k
	LEFT JOIN gm_balances b ON b.user_id = k.user_id
) t
WHERE cur <> credited - spent OR wd <> spent OR cur < 0
ORDER BY user_id`

// Violations implements Store.
func (s *SQLStore) Violations(ctx context.Context) ([]Violation, error) {
	var rows []struct {
		UserID     string `gorm:"column:user_id"`
		HasBalance int64  `gorm:"column:has_balance"`
		Cur        int64  `gorm:"column:cur"`
		Wd         int64  `gorm:"column:wd"`
		Credited   int64  `gorm:"column:credited"`
		Spent      int64  `gorm:"column:spent"`
	}
	if err := s.db.Conn(ctx).Raw(violationsQuery).Scan(&rows).Error; err != nil {
		return nil, fmt.Errorf("check ledger: %w", err)
	}
	out := make([]Violation, len(rows))
	for i, r := range rows {
		out[i] = Violation{
			UserID: r.UserID, HasBalance: r.HasBalance == 1,
			Current: points.Amount(r.Cur), Withdrawn: points.Amount(r.Wd),
			Credited: points.Amount(r.Credited), Spent: points.Amount(r.Spent),
		}
	}
	return out, nil
}
