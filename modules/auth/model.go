package auth

import (
	"strings"
	"time"
	"unicode/utf8"
)

// User is a registered account.
type User struct {
	ID           string // UUIDv7
	Login        string // as registered
	PasswordHash string // argon2id PHC string
	CreatedAt    time.Time
}

// Session is what a successful register or login yields: the user and a signed token for them.
type Session struct {
	UserID    string
	Token     string
	ExpiresAt time.Time
}

// Limits of the login and password policy.
const (
	MaxLoginLen    = 64  // characters (bytes: logins are ASCII)
	MinPasswordLen = 8   // characters (Unicode code points)
	MaxPasswordLen = 256 // characters (Unicode code points)
	minLoginChar   = 0x21
	maxLoginChar   = 0x7e
)

// loginKey is the case-folded login that the unique index is on. Logins are ASCII, so lower-casing
// is unambiguous.
func loginKey(login string) string { return strings.ToLower(login) }

// validateLogin enforces the login policy: 1-64 printable ASCII characters without spaces. Non-ASCII
// letters are refused to keep case folding unambiguous and to rule out homoglyph look-alikes.
func validateLogin(login string) error {
	if login == "" {
		return ErrLoginEmpty
	}
	for i := range len(login) {
		if b := login[i]; b < minLoginChar || b > maxLoginChar {
			return ErrLoginChars
		}
	}
	if len(login) > MaxLoginLen {
		return ErrLoginTooLong
	}
	return nil
}

// validatePassword enforces the registration password policy: 8-256 characters (Unicode code points).
func validatePassword(password string) error {
	n := utf8.RuneCountInString(password)
	if n < MinPasswordLen {
		return ErrPasswordTooShort
	}
	if n > MaxPasswordLen {
		return ErrPasswordTooLong
	}
	return nil
}
