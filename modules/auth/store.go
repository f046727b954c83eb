package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"gorm.io/gorm"
	"gorm.io/gorm/clause"

	"github.com/gophermart/gophermart/modules/platform/db"
)

// errUserNotFound: no user has this login key.
var errUserNotFound = errors.New("user not found")

// SQLStore keeps users in gm_users and service-wide values in gm_settings. Safe for concurrent use.
type SQLStore struct {
	db *db.DB
}

// NewStore returns a store on d (already migrated).
func NewStore(d *db.DB) *SQLStore { return &SQLStore{db: d} }

type userRow struct {
	ID           string    `gorm:"column:id;primaryKey"`
	Login        string    `gorm:"column:login"`
	LoginKey     string    `gorm:"column:login_key"`
	PasswordHash string    `gorm:"column:password_hash"`
	CreatedAt    time.Time `gorm:"column:created_at"`
}

func (userRow) TableName() string { return "gm_users" }

type settingRow struct {
	Name  string `gorm:"column:name;primaryKey"`
	Value string `gorm:"column:value"`
}

func (settingRow) TableName() string { return "gm_settings" }

func toRow(u User) userRow {
	return userRow{
		ID: u.ID, Login: u.Login, LoginKey: loginKey(u.Login), PasswordHash: u.PasswordHash,
		CreatedAt: u.CreatedAt.UTC().Truncate(time.Microsecond),
	}
}

func fromRow(r userRow) User {
	return User{ID: r.ID, Login: r.Login, PasswordHash: r.PasswordHash, CreatedAt: r.CreatedAt.UTC()}
}

// CreateUser inserts u; ErrLoginTaken if its login, ignoring case, is already registered (the unique
// index on login_key decides, so concurrent registrations of one login cannot both succeed).
func (s *SQLStore) CreateUser(ctx context.Context, u User) error {
	row := toRow(u)
	err := s.db.Conn(ctx).Create(&row).Error
	if errors.Is(err, gorm.ErrDuplicatedKey) {
		return ErrLoginTaken
	}
	if err != nil {
		return fmt.Errorf("insert user: %w", err)
	}
	return nil
}

// UserByLogin returns the user whose login equals login ignoring case, or errUserNotFound.
func (s *SQLStore) UserByLogin(ctx context.Context, login string) (User, error) {
	var row userRow
	err := s.db.Conn(ctx).Where("login_key = ?", loginKey(login)).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return User{}, errUserNotFound
	}
	if err != nil {
		return User{}, fmt.Errorf("select user: %w", err)
	}
	return fromRow(row), nil
}

// UserExists reports whether a user has the id (a read by primary key).
func (s *SQLStore) UserExists(ctx context.Context, id string) (bool, error) {
	var n int64
	if err := s.db.Conn(ctx).Raw("SELECT COUNT(*) FROM gm_users WHERE id = ?", id).Scan(&n).Error; err != nil {
		return false, fmt.Errorf("look up user %s: %w", id, err)
	}
	return n > 0, nil
}

// ReplacePasswordHash implements Store: the update is conditional on the stored hash, so of two
// logins rehashing the same old hash, one replaces it and the other changes nothing.
func (s *SQLStore) ReplacePasswordHash(ctx context.Context, id, old, replacement string) (bool, error) {
	res := s.db.Conn(ctx).Exec("UPDATE gm_users SET password_hash = ? WHERE id = ? AND password_hash = ?", replacement, id, old)
	if res.Error != nil {
		return false, fmt.Errorf("replace password hash of user %s: %w", id, res.Error)
	}
	return res.RowsAffected == 1, nil
}

// Setting returns the value of a service-wide setting; ok is false when it is not set.
func (s *SQLStore) Setting(ctx context.Context, name string) (value string, ok bool, err error) {
	var row settingRow
	err = s.db.Conn(ctx).Where("name = ?", name).Take(&row).Error
	if errors.Is(err, gorm.ErrRecordNotFound) {
		return "", false, nil
	}
	if err != nil {
		return "", false, fmt.Errorf("select setting %s: %w", name, err)
	}
	return row.Value, true, nil
}

// InitSetting stores value under name unless name already has a value (INSERT … ON CONFLICT DO
// NOTHING): of several instances starting at once, the first one wins. It returns the value now
// stored, whoever wrote it.
func (s *SQLStore) InitSetting(ctx context.Context, name, value string) (string, error) {
	err := s.db.Conn(ctx).Clauses(clause.OnConflict{Columns: []clause.Column{{Name: "name"}}, DoNothing: true}).
		Create(&settingRow{Name: name, Value: value}).Error
	if err != nil {
		return "", fmt.Errorf("insert setting %s: %w", name, err)
	}
	stored, ok, err := s.Setting(ctx, name)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("setting %s vanished after insert", name)
	}
	return stored, nil
}

// BeginAttempt implements AttemptStore. The upsert of the pair's row takes that row's lock on
// PostgreSQL (ON CONFLICT DO UPDATE locks the row it updates; a concurrent first insert of the pair
// waits on the unique key), held until commit, so the count below cannot change before the new
// attempt is recorded; SQLite's immediate transactions serialise the whole thing already.
func (s *SQLStore) BeginAttempt(ctx context.Context, a Attempt, failedSince, startedSince time.Time,
	decide func(failures []time.Time, inflight int) bool,
) error {
	return s.db.InTx(ctx, func(ctx context.Context) error {
		conn := s.db.Conn(ctx)
		if err := conn.Exec(`INSERT INTO gm_login_pairs (login_key, address, touched_at) VALUES (?, ?, ?)
			ON CONFLICT (login_key, address) DO UPDATE SET touched_at = excluded.touched_at`,
			a.LoginKey, a.Address, a.Started).Error; err != nil {
			return fmt.Errorf("lock login pair: %w", err)
		}
		var rows []struct {
			StartedAt time.Time  `gorm:"column:started_at"`
			FailedAt  *time.Time `gorm:"column:failed_at"`
		}
		if err := conn.Raw(`SELECT started_at, failed_at FROM gm_login_attempts
			WHERE login_key = ? AND address = ? AND (failed_at > ? OR (failed_at IS NULL AND started_at > ?))
			ORDER BY failed_at, started_at`, a.LoginKey, a.Address, failedSince, startedSince).Scan(&rows).Error; err != nil {
			return fmt.Errorf("read login attempts: %w", err)
		}
		var failures []time.Time
		inflight := 0
		for _, r := range rows {
			if r.FailedAt == nil {
				inflight++
				continue
			}
			failures = append(failures, r.FailedAt.UTC())
		}
		if !decide(failures, inflight) {
			return nil
		}
		if err := conn.Exec(`INSERT INTO gm_login_attempts (id, login_key, address, started_at) VALUES (?, ?, ?, ?)`,
			a.ID, a.LoginKey, a.Address, a.Started).Error; err != nil {
			return fmt.Errorf("record login attempt: %w", err)
		}
		return nil
	})
}

// FailAttempt implements AttemptStore.
func (s *SQLStore) FailAttempt(ctx context.Context, id string, at time.Time) error {
	if err := s.db.Conn(ctx).Exec("UPDATE gm_login_attempts SET failed_at = ? WHERE id = ?", at, id).Error; err != nil {
		return fmt.Errorf("record failed login: %w", err)
	}
	return nil
}

// ClearAttempts implements AttemptStore. Attempts of the pair still in flight stay.
func (s *SQLStore) ClearAttempts(ctx context.Context, loginKey, address, id string) error {
	if err := s.db.Conn(ctx).Exec(`DELETE FROM gm_login_attempts
		WHERE login_key = ? AND address = ? AND (failed_at IS NOT NULL OR id = ?)`, loginKey, address, id).Error; err != nil {
		return fmt.Errorf("clear failed logins: %w", err)
	}
	return nil
}

// DropAttempt implements AttemptStore.
func (s *SQLStore) DropAttempt(ctx context.Context, id string) error {
	if err := s.db.Conn(ctx).Exec("DELETE FROM gm_login_attempts WHERE id = ?", id).Error; err != nil {
		return fmt.Errorf("drop login attempt: %w", err)
	}
	return nil
}

// PruneAttempts implements AttemptStore.
func (s *SQLStore) PruneAttempts(ctx context.Context, cutoff time.Time) error {
	conn := s.db.Conn(ctx)
	if err := conn.Exec("DELETE FROM gm_login_attempts WHERE started_at < ?", cutoff).Error; err != nil {
		return fmt.Errorf("prune login attempts: %w", err)
	}
	if err := conn.Exec("DELETE FROM gm_login_pairs WHERE touched_at < ?", cutoff).Error; err != nil {
		return fmt.Errorf("prune login pairs: %w", err)
	}
	return nil
}
