// Package keyset is keyset pagination over (time, key) positions: opaque cursors, the limit
// parameter, and cutting a page that was read one row long to learn whether another follows.
package keyset

import (
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/gophermart/gophermart/modules/platform/ordernum"
)

// Page sizes.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// ErrBadCursor is returned for a cursor this service did not make.
var ErrBadCursor = errors.New("malformed cursor")

// The positions a cursor may hold: the times of rows this service wrote, with a day's slack ahead
// for clocks that disagree between instances. Anything outside could only be forged, and compared
// with stored times the engines would disagree on it: SQLite compares times as text, so a year of
// five digits sorts before every stored one there and after them on PostgreSQL.
var (
	// MinCursorTime is the earliest position: before this service existed.
	MinCursorTime = time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC)
	// CursorSlack is how far past now a position may lie.
	CursorSlack = 24 * time.Hour
)

// ErrBadLimit is returned for a page size outside 1..MaxLimit.
var ErrBadLimit = errors.New("limit must be an integer from 1 to 500")

// Cursor is the position after which a page starts: the (time, key) of the last row of the previous
// page, where key is an order number. On the wire it is opaque: base64url of "<unix µs>:<key>".
type Cursor struct {
	At  time.Time
	Key string
}

// Encode returns the cursor's wire form.
func (c Cursor) Encode() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.At.UnixMicro(), 10) + ":" + c.Key))
}

// Decode parses a cursor made by Encode; "" is the first page (nil). Only the exact form Encode
// makes is accepted (no padding, sign or leading zero it would not write), with a time from
// MinCursorTime to CursorSlack after now and a key of 1 to ordernum.MaxLen digits.
func Decode(s string) (*Cursor, error) {
	c, err := decode(s)
	if err != nil || c == nil {
		return c, err
	}
	if c.At.Before(MinCursorTime) || c.At.After(time.Now().Add(CursorSlack)) || c.Encode() != s {
		return nil, ErrBadCursor
	}
	return c, nil
}

func decode(s string) (*Cursor, error) {
	if s == "" {
		return nil, nil
	}
	if len(s) > 2*ordernum.MaxLen {
		return nil, ErrBadCursor
	}
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return nil, ErrBadCursor
	}
	micros, key, ok := strings.Cut(string(raw), ":")
	if !ok {
		return nil, ErrBadCursor
	}
	us, err := strconv.ParseInt(micros, 10, 64)
	if err != nil || us < 0 {
		return nil, ErrBadCursor
	}
	if key == "" || len(key) > ordernum.MaxLen || strings.ContainsFunc(key, func(r rune) bool { return r < '0' || r > '9' }) {
		return nil, ErrBadCursor
	}
	return &Cursor{At: time.UnixMicro(us).UTC(), Key: key}, nil
}

// ParseLimit reads the limit query parameter: absent or empty is DefaultLimit; otherwise a decimal
// integer from 1 to MaxLimit written plainly (no sign, no leading zero).
func ParseLimit(s string) (int, error) {
	if s == "" {
		return DefaultLimit, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 1 || n > MaxLimit || strconv.Itoa(n) != s {
		return 0, ErrBadLimit
	}
	return n, nil
}

// CheckLimit returns ErrBadLimit for a limit outside 1..MaxLimit.
func CheckLimit(limit int) error {
	if limit < 1 || limit > MaxLimit {
		return ErrBadLimit
	}
	return nil
}

// Cut trims rows, read with limit+1, to one page, and returns the cursor of the next page ("" when
// this is the last one); pos gives a row's position.
func Cut[T any](rows []T, limit int, pos func(T) Cursor) ([]T, string) {
	if len(rows) <= limit {
		return rows, ""
	}
	rows = rows[:limit]
	return rows, pos(rows[limit-1]).Encode()
}
