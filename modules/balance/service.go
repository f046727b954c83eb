package balance

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/keyset"
	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/points"
)

// Service is the balance use cases: credit, balance, withdraw, list, and the ledger check. Safe for
// concurrent use.
type Service struct {
	store Store
	db    *db.DB
	log   *slog.Logger
	now   func() time.Time
}

// NewService returns the balance service; d runs its transactions.
func NewService(store Store, d *db.DB, log *slog.Logger) *Service {
	return &Service{store: store, db: d, log: log, now: time.Now}
}

// Credit credits amount (not negative) to userID for order, exactly once per order: a second call
// for the same order, whatever its arguments, is a no-op returning nil. It runs in the transaction
// carried by ctx (so the caller's status change and the credit commit together), or in its own. A
// zero amount records the credit, so it stays idempotent, and changes no balance.
func (s *Service) Credit(ctx context.Context, userID string, order ordernum.Number, amount points.Amount) error {
	if amount < 0 {
		return fmt.Errorf("credit %s for order %s: %w", amount, order, errNegativeCredit)
	}
	if amount > MaxBalance {
		return fmt.Errorf("credit %s for order %s: %w", amount, order, ErrBalanceOverflow)
	}
	return s.db.InTx(ctx, func(ctx context.Context) error {
		inserted, err := s.store.InsertCredit(ctx, userID, order, amount, s.now())
		if err != nil {
			return err
		}
		if !inserted || amount == 0 {
			return nil
		}
		return s.store.AddToBalance(ctx, userID, amount)
	})
}

// MaxBalance is the most points a balance may hold: a thousand times points.Max, far below int64's
// limit (about 9.2e16 points), so no sum of balances or credits can overflow.
const MaxBalance = 1000 * points.Max

// Balance returns the points userID has and has spent.
func (s *Service) Balance(ctx context.Context, userID string) (Balance, error) {
	return s.store.Balance(ctx, userID)
}

// Withdraw spends sum points of userID on order, atomically: the withdrawal row and the debit
// commit together or not at all. Not enough points gives ErrInsufficientFunds and changes nothing.
// Retrying the same user, order and sum succeeds without a second debit; the same order with
// another sum or by another user gives ErrOrderUsed. A sum that is not positive, or over
// points.Max, gives ErrInvalidSum.
func (s *Service) Withdraw(ctx context.Context, userID string, order ordernum.Number, sum points.Amount) error {
	if sum <= 0 || sum > points.Max {
		return ErrInvalidSum
	}
	w := Withdrawal{Order: order, UserID: userID, Sum: sum, ProcessedAt: s.now()}
	replay := false
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		inserted, err := s.store.InsertWithdrawal(ctx, w)
		if err != nil {
			return err
		}
		if !inserted {
			prev, err := s.store.Withdrawal(ctx, order)
			if err != nil {
				return fmt.Errorf("withdraw for order %s: %w", order, err)
			}
			if prev.UserID != userID || prev.Sum != sum {
				return ErrOrderUsed
			}
			replay = true
			return nil
		}
		ok, err := s.store.Debit(ctx, userID, sum)
		if err != nil {
			return err
		}
		if !ok {
			return ErrInsufficientFunds // rolls the withdrawal row back too
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !replay {
		s.log.InfoContext(ctx, "points withdrawn", "user_id", userID, "order", string(order), "amount", sum.String())
	}
	return nil
}

// WithdrawalsPage returns up to limit withdrawals of userID, newest first, starting after the
// opaque cursor ("" for the first page). Page.Next is "" on the last page. A limit outside
// 1..keyset.MaxLimit gives keyset.ErrBadLimit; a cursor this service did not make gives
// keyset.ErrBadCursor.
func (s *Service) WithdrawalsPage(ctx context.Context, userID string, limit int, cur string) (Page, error) {
	if err := keyset.CheckLimit(limit); err != nil {
		return Page{}, err
	}
	after, err := keyset.Decode(cur)
	if err != nil {
		return Page{}, err
	}
	items, err := s.store.WithdrawalsPage(ctx, userID, after, limit+1)
	if err != nil {
		return Page{}, err
	}
	p := Page{}
	p.Items, p.Next = keyset.Cut(items, limit, func(x Withdrawal) keyset.Cursor {
		return keyset.Cursor{At: x.ProcessedAt, Key: string(x.Order)}
	})
	return p, nil
}

// CheckLedger verifies over the whole database that, for every user, current = credited −
// withdrawn, withdrawn = the sum of their withdrawals, and current >= 0. It returns the users who
// break it; an empty slice means the ledger is healthy.
func (s *Service) CheckLedger(ctx context.Context) ([]Violation, error) {
	return s.store.Violations(ctx)
}
