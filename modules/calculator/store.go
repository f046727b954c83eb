package calculator

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/google/uuid"
	"github.com/shopspring/decimal"
	"gorm.io/gorm"

	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/points"
)

// goodRow is one row of acc_goods: a reward mechanic.
type goodRow struct {
	MatchText  string    `gorm:"column:match_text;primaryKey"`
	Seq        string    `gorm:"column:seq"` // UUIDv7: registration order
	Reward     string    `gorm:"column:reward"`
	RewardType string    `gorm:"column:reward_type"`
	CreatedAt  time.Time `gorm:"column:created_at"`
}

// TableName tells gorm the table of goodRow.
func (goodRow) TableName() string { return "acc_goods" }

// orderRow is one row of acc_orders; next_step_at is NULL once the order is final.
type orderRow struct {
	Number       string     `gorm:"column:number;primaryKey"`
	Status       string     `gorm:"column:status"`
	Goods        string     `gorm:"column:goods"`
	Accrual      *int64     `gorm:"column:accrual"` // hundredths
	RegisteredAt time.Time  `gorm:"column:registered_at"`
	NextStepAt   *time.Time `gorm:"column:next_step_at"`
	ProcessedAt  *time.Time `gorm:"column:processed_at"`
}

// TableName tells gorm the table of orderRow.
func (orderRow) TableName() string { return "acc_orders" }

// storedGood is a good inside acc_orders.goods; the price is an exact decimal string.
type storedGood struct {
	Description string `json:"description"`
	Price       string `json:"price"`
}

// Store keeps mechanics and orders in the acc_ tables. Safe for concurrent use.
type Store struct {
	db *db.DB
}

// NewStore returns a Store on d, which must carry the acc_ tables (see Migrate).
func NewStore(d *db.DB) *Store { return &Store{db: d} }

// now is the store's clock: UTC, truncated to what both engines keep.
func now() time.Time { return time.Now().UTC().Truncate(time.Microsecond) }

// AddMechanic registers m after every mechanic registered before it; ErrMatchExists if its match is taken.
func (s *Store) AddMechanic(ctx context.Context, m Mechanic) error {
	seq, err := uuid.NewV7()
	if err != nil {
		return fmt.Errorf("mechanic id: %w", err)
	}
	row := goodRow{MatchText: m.Match, Seq: seq.String(), Reward: m.Reward.String(), RewardType: m.RewardType, CreatedAt: now()}
	if err := s.db.Conn(ctx).Create(&row).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return ErrMatchExists
		}
		return fmt.Errorf("insert mechanic: %w", err)
	}
	return nil
}

// Mechanics returns every mechanic in registration order.
func (s *Store) Mechanics(ctx context.Context) ([]Mechanic, error) {
	var rows []goodRow
	if err := s.db.Conn(ctx).Order("seq").Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("load mechanics: %w", err)
	}
	out := make([]Mechanic, 0, len(rows))
	for _, r := range rows {
		reward, err := decimal.NewFromString(r.Reward)
		if err != nil {
			return nil, fmt.Errorf("mechanic %q: bad reward %q: %w", r.MatchText, r.Reward, err)
		}
		out = append(out, Mechanic{Match: r.MatchText, Reward: reward, RewardType: r.RewardType})
	}
	return out, nil
}

// AddOrder registers an order as REGISTERED, due for its next step at next; ErrOrderExists if the
// number is taken. The primary key decides, so of concurrent registrations exactly one succeeds.
func (s *Store) AddOrder(ctx context.Context, n ordernum.Number, goods []Good, next time.Time) error {
	stored := make([]storedGood, len(goods))
	for i, g := range goods {
		stored[i] = storedGood{Description: g.Description, Price: g.Price.String()}
	}
	js, err := json.Marshal(stored)
	if err != nil {
		return fmt.Errorf("encode goods of order %s: %w", n, err)
	}
	row := orderRow{Number: string(n), Status: StatusRegistered, Goods: string(js), RegisteredAt: now(), NextStepAt: &next}
	if err := s.db.Conn(ctx).Create(&row).Error; err != nil {
		if errors.Is(err, gorm.ErrDuplicatedKey) {
			return ErrOrderExists
		}
		return fmt.Errorf("insert order %s: %w", n, err)
	}
	return nil
}

// Order returns the order numbered n; found is false if it is not registered.
func (s *Store) Order(ctx context.Context, n string) (o Order, found bool, err error) {
	var rows []orderRow
	if err := s.db.Conn(ctx).Select("number", "status", "accrual").Where("number = ?", n).Limit(1).Find(&rows).Error; err != nil {
		return Order{}, false, fmt.Errorf("load order %s: %w", n, err)
	}
	if len(rows) == 0 {
		return Order{}, false, nil
	}
	r := rows[0]
	o = Order{Number: ordernum.Number(r.Number), Status: r.Status}
	if r.Accrual != nil {
		a := points.Amount(*r.Accrual)
		o.Accrual = &a
	}
	return o, true, nil
}

// dueOrder is an order whose next step is due.
type dueOrder struct {
	Number string
	Status string
}

// Due returns up to limit orders whose next step is due at t, the longest waiting first.
func (s *Store) Due(ctx context.Context, t time.Time, limit int) ([]dueOrder, error) {
	var rows []orderRow
	err := s.db.Conn(ctx).Select("number", "status").
		Where("next_step_at IS NOT NULL AND next_step_at <= ?", t).
		Order("next_step_at").Order("number").Limit(limit).Find(&rows).Error
	if err != nil {
		return nil, fmt.Errorf("load due orders: %w", err)
	}
	out := make([]dueOrder, len(rows))
	for i, r := range rows {
		out[i] = dueOrder{Number: r.Number, Status: r.Status}
	}
	return out, nil
}

// NextDue returns when the next step of any order is due; ok is false when no order is pending.
func (s *Store) NextDue(ctx context.Context) (t time.Time, ok bool, err error) {
	var rows []orderRow
	err = s.db.Conn(ctx).Select("next_step_at").Where("next_step_at IS NOT NULL").
		Order("next_step_at").Limit(1).Find(&rows).Error
	if err != nil {
		return time.Time{}, false, fmt.Errorf("load next due order: %w", err)
	}
	if len(rows) == 0 || rows[0].NextStepAt == nil {
		return time.Time{}, false, nil
	}
	return *rows[0].NextStepAt, true, nil
}

// CapDue brings every step due after t forward to t, so that a restart with a shorter processing
// delay applies it to the orders already waiting.
func (s *Store) CapDue(ctx context.Context, t time.Time) error {
	err := s.db.Conn(ctx).Model(&orderRow{}).Where("next_step_at > ?", t).Update("next_step_at", t).Error
	if err != nil {
		return fmt.Errorf("reschedule pending orders: %w", err)
	}
	return nil
}

// StartProcessing moves order n from REGISTERED to PROCESSING, due for its last step at next. It
// reports false if the order was not REGISTERED (another instance moved it first).
func (s *Store) StartProcessing(ctx context.Context, n string, next time.Time) (bool, error) {
	res := s.db.Conn(ctx).Model(&orderRow{}).
		Where("number = ? AND status = ?", n, StatusRegistered).
		Updates(map[string]any{"status": StatusProcessing, "next_step_at": next})
	if res.Error != nil {
		return false, fmt.Errorf("start processing order %s: %w", n, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// Goods returns the goods of order n.
func (s *Store) Goods(ctx context.Context, n string) ([]Good, error) {
	var rows []orderRow
	if err := s.db.Conn(ctx).Select("goods").Where("number = ?", n).Limit(1).Find(&rows).Error; err != nil {
		return nil, fmt.Errorf("load goods of order %s: %w", n, err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("load goods of order %s: %w", n, gorm.ErrRecordNotFound)
	}
	var stored []storedGood
	if err := json.Unmarshal([]byte(rows[0].Goods), &stored); err != nil {
		return nil, fmt.Errorf("decode goods of order %s: %w", n, err)
	}
	goods := make([]Good, len(stored))
	for i, g := range stored {
		price, err := decimal.NewFromString(g.Price)
		if err != nil {
			return nil, fmt.Errorf("decode goods of order %s: price %q: %w", n, g.Price, err)
		}
		goods[i] = Good{Description: g.Description, Price: price}
	}
	return goods, nil
}

// Finish moves order n from PROCESSING to its final status (PROCESSED or INVALID) with its accrual
// (nil: none). It reports false if the order was not PROCESSING (another instance finished it first).
func (s *Store) Finish(ctx context.Context, n, status string, accrual *points.Amount) (bool, error) {
	var acc *int64
	if accrual != nil {
		v := int64(*accrual)
		acc = &v
	}
	res := s.db.Conn(ctx).Model(&orderRow{}).
		Where("number = ? AND status = ?", n, StatusProcessing).
		Updates(map[string]any{"status": status, "accrual": acc, "next_step_at": nil, "processed_at": now()})
	if res.Error != nil {
		return false, fmt.Errorf("finish order %s: %w", n, res.Error)
	}
	return res.RowsAffected == 1, nil
}
