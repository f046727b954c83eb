// Package points is the money type of Gophermart: an exact amount of loyalty points in hundredths.
package points

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
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

// MaxLen is the longest text Parse reads, in bytes after trimming surrounding space. It bounds the
// work and the memory a number may cost, whatever its exponent says. 512 leaves room for any
// float64 of at least a kopeck printed to its last exact digit (under 80 characters) followed by
// hundreds of padding zeros; a longer number is refused, never truncated.
const MaxLen = 512

// maxDigits is how many digits Max has in hundredths (10^14 is 15 digits); a larger count of
// integer hundredths is out of range without computing it.
const maxDigits = 15

// Parse reads a decimal number exactly (no float64 on the way) and rounds it half-up to hundredths,
// so "729.97998046875" is 72998. Scale never matters: trailing zeros and exponents only move the
// decimal point, so "729.98" followed by 45 zeros is 72998 and "1e-1000000" is 0 (every magnitude
// below 0.005 rounds to 0). The text is a sign, digits with an optional point and an optional
// exponent ("-1", "+.5", "5.", "1.5e2"), at most MaxLen bytes once surrounding space is trimmed.
// Values above Max ("1e1000000" included: no power of ten is ever computed) and negative ones (even
// "-0.001"; "-0" is 0) give ErrOutOfRange; anything that is not such a number (NaN, Inf, hex,
// empty, over MaxLen) gives ErrInvalid.
func Parse(s string) (Amount, error) {
	s = strings.TrimSpace(s)
	if s == "" || len(s) > MaxLen {
		return 0, ErrInvalid
	}
	n, err := scan(s)
	if err != nil {
		return 0, err
	}
	return n.hundredths()
}

// number is a scanned decimal: (-1)^neg × digits × 10^exp, where digits has no leading or trailing
// zeros (empty for zero).
type number struct {
	neg    bool
	digits string
	exp    int64
}

// expLimit saturates an exponent: beyond it every nonzero number is far above Max or rounds to 0,
// and exponent arithmetic stays far from int64 overflow.
const expLimit = 1 << 40

// scan reads s (trimmed, at most MaxLen bytes) by the grammar [+-] digits [. digits] [(e|E) [+-]
// digits], with at least one digit before the exponent.
func scan(s string) (number, error) {
	var n number
	i := 0
	if s[0] == '+' || s[0] == '-' {
		n.neg = s[0] == '-'
		i++
	}
	intStart := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	intPart := s[intStart:i]
	fracPart := ""
	if i < len(s) && s[i] == '.' {
		i++
		fracStart := i
		for i < len(s) && isDigit(s[i]) {
			i++
		}
		fracPart = s[fracStart:i]
	}
	if intPart == "" && fracPart == "" {
		return number{}, ErrInvalid
	}
	var exp int64
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		expNeg := false
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			expNeg = s[i] == '-'
			i++
		}
		if i == len(s) {
			return number{}, ErrInvalid
		}
		for ; i < len(s) && isDigit(s[i]); i++ {
			if exp < expLimit {
				exp = exp*10 + int64(s[i]-'0')
			}
		}
		if expNeg {
			exp = -exp
		}
	}
	if i != len(s) {
		return number{}, ErrInvalid
	}
	// digits × 10^exp with the point moved past the fraction; len(fracPart) <= MaxLen.
	digits := strings.TrimLeft(intPart+fracPart, "0")
	exp -= int64(len(fracPart))
	trimmed := strings.TrimRight(digits, "0")
	exp += int64(len(digits) - len(trimmed))
	n.digits = trimmed
	if n.digits != "" {
		n.exp = exp
	}
	return n, nil
}

// hundredths rounds n×100 half-up to an integer and checks it against [0, Max].
func (n number) hundredths() (Amount, error) {
	if n.digits == "" {
		return 0, nil // -0 and 0e1000000 are zero
	}
	if n.neg {
		return 0, ErrOutOfRange
	}
	// n×100 = digits × 10^k; its integer part has whole = len(digits)+k digits.
	k := n.exp + 2
	whole := int64(len(n.digits)) + k
	if whole > maxDigits {
		return 0, ErrOutOfRange
	}
	if whole < 0 {
		return 0, nil // below 0.1 hundredth: rounds to 0
	}
	var v int64
	if k >= 0 {
		v = atoi(n.digits)
		for range k {
			v *= 10
		}
	} else {
		v = atoi(n.digits[:whole])
		if n.digits[whole] >= '5' { // the first dropped digit decides half-up
			v++
		}
	}
	if v > int64(Max) {
		return 0, ErrOutOfRange
	}
	return Amount(v), nil
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// atoi reads at most maxDigits decimal digits; it cannot overflow.
func atoi(s string) int64 {
	var v int64
	for i := range len(s) {
		v = v*10 + int64(s[i]-'0')
	}
	return v
}

// String prints the amount with exactly two decimals: "729.98", "0.01", "5.00".
func (a Amount) String() string {
	return decimal.New(int64(a), -2).StringFixed(2)
}

// MarshalJSON prints the amount as an exact JSON number: 729.98, 27.25, 5 (no trailing zeros).
func (a Amount) MarshalJSON() ([]byte, error) {
	return AppendJSON(make([]byte, 0, 24), a), nil
}

// AppendJSON appends the amount as MarshalJSON prints it (729.98, 27.25, 5, 0.5, -0.05) to dst
// and returns the extended buffer: the integer part, then the hundredths without trailing zeros.
func AppendJSON(dst []byte, a Amount) []byte {
	u := uint64(a) //nolint:gosec // the bits are reinterpreted on purpose: negated below when a < 0
	if a < 0 {
		dst = append(dst, '-')
		u = -u // two's complement: right for math.MinInt64 too
	}
	dst = strconv.AppendUint(dst, u/100, 10)
	if f := u % 100; f != 0 {
		dst = append(dst, '.', byte('0'+f/10))
		if f%10 != 0 {
			dst = append(dst, byte('0'+f%10))
		}
	}
	return dst
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
