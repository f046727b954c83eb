package auth

import (
	"errors"
	"fmt"
	"math"
	"time"
)

// Errors the service returns; NewRoutes maps each to its HTTP status. Their text is the detail the
// client sees, so it says what to fix.
var (
	// ErrLoginTaken: another user registered this login (compared ignoring case).
	ErrLoginTaken = errors.New("login is already taken")
	// ErrBadCredentials: no user with this login and password. It never says which half was wrong.
	ErrBadCredentials = errors.New("wrong login or password")
	// ErrTooManyAttempts: too many failed logins for this login from this address; a
	// *ThrottledError carrying it says when to retry.
	ErrTooManyAttempts = errors.New("too many failed logins for this login from this address; try again later")
	// ErrBusy: every password hashing slot stayed busy for too long.
	ErrBusy = errors.New("server busy checking passwords; try again shortly")

	// ErrLoginEmpty and the other policy errors below are registration validation failures (400).
	ErrLoginEmpty = errors.New("login must not be empty")
	// ErrLoginTooLong: the login has more than MaxLoginLen characters.
	ErrLoginTooLong = fmt.Errorf("login must be at most %d characters", MaxLoginLen)
	// ErrLoginChars: the login has a space, a control character or a non-ASCII character.
	ErrLoginChars = errors.New("login may contain only printable ASCII characters (0x21-0x7E): " +
		"no spaces, control characters or non-ASCII letters")
	// ErrPasswordTooShort: the password has fewer than MinPasswordLen characters.
	ErrPasswordTooShort = fmt.Errorf("password must be at least %d characters", MinPasswordLen)
	// ErrPasswordTooLong: the password has more than MaxPasswordLen characters.
	ErrPasswordTooLong = fmt.Errorf("password must be at most %d characters", MaxPasswordLen)
)

// ThrottledError is returned instead of checking a password while a (login, client address) pair is
// locked out; it matches ErrTooManyAttempts.
type ThrottledError struct {
	// RetryAfter is how long until the next attempt may be made.
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string { return ErrTooManyAttempts.Error() }

// Unwrap makes errors.Is(err, ErrTooManyAttempts) hold.
func (e *ThrottledError) Unwrap() error { return ErrTooManyAttempts }

// RetryAfterSeconds is RetryAfter rounded up to whole seconds, at least 1: the Retry-After value.
func (e *ThrottledError) RetryAfterSeconds() int {
	s := math.Ceil(e.RetryAfter.Seconds())
	if s < 1 {
		return 1
	}
	return int(s)
}
