// Package ordernum validates order numbers: strings of digits of any length that pass the Luhn check.
package ordernum

import (
	"errors"
	"strings"
)

// MaxLen is the longest order number accepted, in digits. Real order numbers are far shorter; the cap
// keeps a hostile client from storing megabytes in a key.
const MaxLen = 256

// ErrInvalid is returned for a number that is empty, too long, not all digits, all zeros, or fails
// the Luhn check.
var ErrInvalid = errors.New("invalid order number")

// Number is a validated order number, kept as text (never an integer: leading zeros and length matter).
type Number string

// Parse trims surrounding white space and validates s as an order number. A number of zeros only
// passes the Luhn check (its sum is 0) but names no order, so it is refused.
func Parse(s string) (Number, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > MaxLen {
		return "", ErrInvalid
	}
	nonZero := false
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", ErrInvalid
		}
		nonZero = nonZero || s[i] != '0'
	}
	if !nonZero || luhnSum(s, false)%10 != 0 {
		return "", ErrInvalid
	}
	return Number(s), nil
}

// WithCheckDigit returns payload, a string of decimal digits, with the Luhn check digit appended:
// a valid order number (for tests, load generators and fixtures).
func WithCheckDigit(payload string) Number {
	return Number(payload + string(rune('0'+(10-luhnSum(payload, true)%10)%10)))
}

// luhnSum is the Luhn sum of the digits s, doubling every second digit from the right, starting
// with the rightmost when doubleFirst.
func luhnSum(s string, doubleFirst bool) int {
	sum := 0
	double := doubleFirst
	for i := len(s) - 1; i >= 0; i-- {
		d := int(s[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum
}

// String returns the number as text.
func (n Number) String() string { return string(n) }
