package accrual

import (
	"context"
	"fmt"
	"time"

	"github.com/google/uuid"

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

// reserveSend takes one of the limit send slots per window that every instance on the database
// shares (gm_accrual_sends): it records a send at now and returns 0 when fewer than limit sends were
// recorded within the window before now; otherwise it records nothing and returns how long until the
// oldest of the last limit sends leaves the window. It must run in a transaction (the caller's, so
// that a send it records is undone with it): on PostgreSQL a row lock on the state row serialises
// concurrent reservations; SQLite's immediate transactions serialise them already.
func (s *stateStore) reserveSend(ctx context.Context, limit int, window time.Duration, now time.Time) (time.Duration, error) {
	now = now.UTC().Truncate(time.Microsecond)
	conn := s.db.Conn(ctx)
	if s.db.Dialect() == db.Postgres {
		var names []string
		if err := conn.Raw("SELECT name FROM gm_accrual_state WHERE name = ? FOR UPDATE", stateName).
			Scan(&names).Error; err != nil {
			return 0, fmt.Errorf("lock accrual send slots: %w", err)
		}
	}
	if err := conn.Exec("DELETE FROM gm_accrual_sends WHERE sent_at <= ?", now.Add(-window)).Error; err != nil {
		return 0, fmt.Errorf("prune accrual send slots: %w", err)
	}
	var recent []struct {
		SentAt time.Time `gorm:"column:sent_at"`
	}
	if err := conn.Raw("SELECT sent_at FROM gm_accrual_sends ORDER BY sent_at DESC LIMIT ?", limit).
		Scan(&recent).Error; err != nil {
		return 0, fmt.Errorf("read accrual send slots: %w", err)
	}
	if len(recent) >= limit {
		// The limit-th most recent send leaves the window first (a clock ahead of ours: a window at most).
		return min(max(recent[limit-1].SentAt.Add(window).Sub(now), time.Millisecond), window), nil
	}
	if err := conn.Exec("INSERT INTO gm_accrual_sends (id, sent_at) VALUES (?, ?)", uuid.NewString(), now).Error; err != nil {
		return 0, fmt.Errorf("record accrual send: %w", err)
	}
	return 0, nil
}

// ClearPause ends the pause shared through d at once, and the window a 429 counted as spent, for an
// operator who knows the accrual system is answering again (`gophermart resync`); running instances
// adopt it within a quarter second. It returns when the cleared pause would have ended, or the zero
// time when none was in force. The learned limit stays: instances keep pacing themselves to it.
func ClearPause(ctx context.Context, d *db.DB) (time.Time, error) {
	s := &stateStore{db: d}
	until, _, err := s.load(ctx)
	if err != nil {
		return time.Time{}, err
	}
	err = d.InTx(ctx, func(ctx context.Context) error {
		if err := d.Conn(ctx).Exec("UPDATE gm_accrual_state SET pause_until = NULL WHERE name = ?", stateName).Error; err != nil {
			return err
		}
		// The window a 429 counted as spent is cleared too: instances start the window afresh, paced.
		return d.Conn(ctx).Exec("DELETE FROM gm_accrual_sends").Error
	})
	if err != nil {
		return time.Time{}, fmt.Errorf("clear accrual rate-limit pause: %w", err)
	}
	if !until.After(time.Now()) {
		return time.Time{}, nil
	}
	return until, nil
}

// sendRow is one send slot of gm_accrual_sends.
type sendRow struct {
	ID     string    `gorm:"column:id"`
	SentAt time.Time `gorm:"column:sent_at"`
}

func (sendRow) TableName() string { return "gm_accrual_sends" }

// maxFill bounds the slots fillSends records at once.
const maxFill = 10_000

// fillSends records the window as spent: after a 429 the accrual system has counted limit requests
// in its current window, sent by every instance before any knew the limit (those sends took no
// slot), so slots are added at now until limit are recorded within the window, and no instance
// sends again before they leave it.
func (s *stateStore) fillSends(ctx context.Context, limit int, window time.Duration, now time.Time) error {
	now = now.UTC().Truncate(time.Microsecond)
	err := s.db.InTx(ctx, func(ctx context.Context) error {
		conn := s.db.Conn(ctx)
		if s.db.Dialect() == db.Postgres {
			var names []string
			if err := conn.Raw("SELECT name FROM gm_accrual_state WHERE name = ? FOR UPDATE", stateName).
				Scan(&names).Error; err != nil {
				return err
			}
		}
		var recorded int64
		if err := conn.Raw("SELECT count(*) FROM gm_accrual_sends WHERE sent_at > ?", now.Add(-window)).
			Scan(&recorded).Error; err != nil {
			return err
		}
		missing := min(int64(limit), maxFill) - recorded
		if missing <= 0 {
			return nil
		}
		rows := make([]sendRow, missing)
		for i := range rows {
			rows[i] = sendRow{ID: uuid.NewString(), SentAt: now}
		}
		return conn.CreateInBatches(rows, 500).Error
	})
	if err != nil {
		return fmt.Errorf("record the accrual system's window as spent: %w", err)
	}
	return nil
}
