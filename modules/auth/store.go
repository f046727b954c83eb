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
