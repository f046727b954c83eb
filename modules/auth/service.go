package auth

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/google/uuid"
)

// Store keeps users, and the login attempts that every instance on the database counts together.
type Store interface {
	// CreateUser inserts u; ErrLoginTaken if its login, ignoring case, is already registered.
	CreateUser(ctx context.Context, u User) error
	// UserByLogin returns the user whose login equals login ignoring case, or errUserNotFound.
	UserByLogin(ctx context.Context, login string) (User, error)
	// UserExists reports whether a user has the id.
	UserExists(ctx context.Context, id string) (bool, error)
	// ReplacePasswordHash sets the password hash of user id to replacement if it still is old, and
	// reports whether it did.
	ReplacePasswordHash(ctx context.Context, id, old, replacement string) (bool, error)
	AttemptStore
}

// Service registers users and logs them in. It knows no HTTP. Safe for concurrent use.
type Service struct {
	store    Store
	hasher   *Hasher
	tokens   *Tokens
	throttle *throttle
	log      *slog.Logger
}

// Defaults for a zero Config (config.Load always sets these).
const (
	defaultLoginMaxFailures = 5
	defaultLoginWindow      = 5 * time.Minute
)

// NewService returns the service. Failed logins are throttled per (login, client address) as
// cfg.LoginMaxFailures within cfg.LoginWindow, counted in store, so that every instance on the
// database counts them together.
func NewService(cfg Config, store Store, hasher *Hasher, tokens *Tokens, log *slog.Logger) *Service {
	maxFailures, window := cfg.LoginMaxFailures, cfg.LoginWindow
	if maxFailures <= 0 {
		maxFailures = defaultLoginMaxFailures
	}
	if window <= 0 {
		window = defaultLoginWindow
	}
	return &Service{
		store: store, hasher: hasher, tokens: tokens,
		throttle: newThrottle(store, maxFailures, window),
		log:      log,
	}
}

// Register creates a user and logs them in. Policy violations are the ErrLogin…/ErrPassword…
// errors; a login already registered (ignoring case) is ErrLoginTaken.
func (s *Service) Register(ctx context.Context, login, password string) (Session, error) {
	if err := validateLogin(login); err != nil {
		return Session{}, err
	}
	if err := validatePassword(password); err != nil {
		return Session{}, err
	}
	// Cheap early answer for a taken login; the unique index still decides races.
	switch _, err := s.store.UserByLogin(ctx, login); {
	case err == nil:
		return Session{}, ErrLoginTaken
	case !errors.Is(err, errUserNotFound):
		return Session{}, err
	}
	hash, err := s.hasher.Hash(ctx, password)
	if err != nil {
		return Session{}, err
	}
	id, err := uuid.NewV7()
	if err != nil {
		return Session{}, fmt.Errorf("user id: %w", err)
	}
	u := User{ID: id.String(), Login: login, PasswordHash: hash, CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if err := s.store.CreateUser(ctx, u); err != nil {
		return Session{}, err
	}
	return s.session(u.ID)
}

// Login checks the pair and returns a session. Any mismatch, an unknown login or a login or
// password that the registration policy would refuse included, is ErrBadCredentials; an unknown
// login costs one hash like a wrong password. After too many failures for (login, clientIP) the
// answer is a *ThrottledError, without hashing. A successful login whose stored hash was made with
// parameters other than the hasher's stores the password hashed with the current ones (see
// Hasher.verifyRehash); failing to store it is logged, and the login succeeds all the same.
func (s *Service) Login(ctx context.Context, login, password, clientIP string) (Session, error) {
	if validateLogin(login) != nil { // no such user can exist, and the throttle keys stay small
		return Session{}, ErrBadCredentials
	}
	key := throttleKey{login: loginKey(login), ip: clientIP}
	attempt, retry, err := s.throttle.begin(ctx, key)
	if err != nil {
		return Session{}, err
	}
	if attempt == "" {
		return Session{}, &ThrottledError{RetryAfter: retry}
	}
	userID, err := s.check(ctx, login, password)
	o := aborted
	switch {
	case err == nil:
		o = succeeded
	case errors.Is(err, ErrBadCredentials):
		o = failed
	}
	endErr := s.throttle.end(ctx, key, attempt, o)
	switch {
	case endErr != nil && o != aborted:
		// An unrecorded failure would be a free guess, so its answer is the error; so is an unrecorded
		// success, whose pair keeps failures it should have lost.
		return Session{}, endErr
	case err != nil:
		return Session{}, errors.Join(err, endErr) // an abort left in flight expires by itself
	}
	return s.session(userID)
}

// check verifies the pair and returns the user's id.
func (s *Service) check(ctx context.Context, login, password string) (string, error) {
	u, err := s.store.UserByLogin(ctx, login)
	if errors.Is(err, errUserNotFound) {
		if err := s.hasher.VerifyDummy(ctx, password); err != nil {
			return "", err
		}
		return "", ErrBadCredentials
	}
	if err != nil {
		return "", err
	}
	v, err := s.hasher.verifyRehash(ctx, password, u.PasswordHash)
	if err != nil {
		return "", fmt.Errorf("verify password of user %s: %w", u.ID, err)
	}
	if !v.ok {
		return "", ErrBadCredentials
	}
	s.storeRehash(ctx, u, v)
	return u.ID, nil
}

// storeRehash replaces the stored hash of u by v's rehash, if there is one, unless another login
// replaced it first. It runs after the hashing slot is released: the database write holds no slot.
func (s *Service) storeRehash(ctx context.Context, u User, v verdict) {
	err := v.rehashErr
	if err == nil && v.rehash != "" {
		_, err = s.store.ReplacePasswordHash(ctx, u.ID, u.PasswordHash, v.rehash)
	}
	if err != nil {
		s.log.WarnContext(ctx, "could not rehash a password with the current parameters; the old hash stays and still verifies",
			"user_id", u.ID, "error", err)
	}
}

func (s *Service) session(userID string) (Session, error) {
	token, exp, err := s.tokens.Issue(userID)
	if err != nil {
		return Session{}, err
	}
	return Session{UserID: userID, Token: token, ExpiresAt: exp}, nil
}
