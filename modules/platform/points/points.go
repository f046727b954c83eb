// Package points is the money type of Gophermart: an exact amount of loyalty points in hundredths.
package points

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"

	"github.com/shopspring/decimal"
)

// Amount is a number of points in hundredths (kopecks): 72998 is 729.98 points. It is never a float.
type Amount int64

// Max is the largest amount the service accepts from a client: one trillion points. It keeps every
// sum of amounts far from int64 overflow.
const Max Amount = 1_000_000_000_000_00

// ErrInvalid is returned for an amount that is not a finite, exact decimal number.
var ErrInvalid = errors.New("not a valid amount")

// ErrOutOfRange is returned for an amount that is negative or above Max.
var ErrOutOfRange = errors.New("amount out of range")

// Parse reads a decimal number exactly (no float64 on the way) and rounds it half-up to hundredths,
// so "729.97998046875" is 72998. Negative or over-Max values give ErrOutOfRange; anything that is not
// a plain decimal number (NaN, Inf, hex, empty, a huge exponent) gives ErrInvalid.
func Parse(s string) (Amount, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 64 {
		return 0, ErrInvalid
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789.-+eE", r) {
			return 0, ErrInvalid
		}
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return 0, ErrInvalid
	}
	// Refuse exponents that would make decimal allocate huge numbers (1e1000000).
	if d.Exponent() > 20 || d.Exponent() < -40 {
		if d.IsZero() {
			return 0, nil
		}
		if d.Exponent() > 20 {
			return 0, ErrOutOfRange
		}
		return 0, nil // 1e-1000 rounds to zero
	}
	if d.IsNegative() {
		return 0, ErrOutOfRange
	}
	r := d.Shift(2).Round(0) // Round is half away from zero; d is not negative, so half-up.
	if r.GreaterThan(decimal.NewFromInt(int64(Max))) {
		return 0, ErrOutOfRange
	}
	return Amount(r.IntPart()), nil
}

// String prints the amount with exactly two decimals: "729.98", "0.01", "5.00".
func (a Amount) String() string {
	return decimal.New(int64(a), -2).StringFixed(2)
}

// MarshalJSON prints the amount as an exact JSON number: 729.98, 27.25, 5 (no trailing zeros).
func (a Amount) MarshalJSON() ([]byte, error) {
	return []byte(decimal.New(int64(a), -2).String()), nil
}

// UnmarshalJSON reads a JSON number (not a string) exactly, as Parse does.
func (a *Amount) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] == '"' || bytes.Equal(b, []byte("null")) {
		return ErrInvalid
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return ErrInvalid // not wrapped: a JSON type error inside would read as a malformed body
	}
	v, err := Parse(n.String())
	if err != nil {
		return err
	}
	*a = v
	return nil
}
