package orders

import (
	"time"
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
