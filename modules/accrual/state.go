package accrual

import (
	"context"
	"fmt"
	"time"

	"github.com/gophermart/gophermart/modules/platform/db"
)

// stateName is the one row of gm_accrual_state this worker uses.
const stateName = "accrual"

// stateStore keeps the rate-limit state every instance shares (gm_accrual_state).
type stateStore struct {
	db *db.DB
}

type stateRow struct {
	PauseUntil     *time.Time `gorm:"column:pause_until"`
	LimitPerMinute int64      `gorm:"column:limit_per_minute"`
}

// load returns the shared pause end (zero when none was ever set) and limit (0 when unknown).
func (s *stateStore) load(ctx context.Context) (time.Time, int, error) {
	var rows []stateRow
	err := s.db.Conn(ctx).Raw("SELECT pause_until, limit_per_minute FROM gm_accrual_state WHERE name = ?", stateName).
		Scan(&rows).Error
	if err != nil {
		return time.Time{}, 0, fmt.Errorf("read accrual rate-limit state: %w", err)
	}
	if len(rows) == 0 {
		return time.Time{}, 0, nil
	}
	var until time.Time
	if rows[0].PauseUntil != nil {
		until = rows[0].PauseUntil.UTC()
	}
	return until, int(rows[0].LimitPerMinute), nil
}

// pause extends the shared pause to until (never shortens it) and, when limit > 0, records it.
func (s *stateStore) pause(ctx context.Context, until time.Time, limit int) error {
	until = until.UTC().Truncate(time.Microsecond)
	err := s.db.Conn(ctx).Exec(`UPDATE gm_accrual_state SET
		pause_until = CASE WHEN pause_until IS NULL OR pause_until < ? THEN ? ELSE pause_until END,
		limit_per_minute = CASE WHEN ? > 0 THEN ? ELSE limit_per_minute END
		WHERE name = ?`, until, until, int64(limit), int64(limit), stateName).Error
	if err != nil {
		return fmt.Errorf("record accrual rate-limit pause: %w", err)
	}
	return nil
}
