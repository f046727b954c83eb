package main

import (
	"math/rand/v2"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/gophermart/gophermart/modules/platform/ordernum"
)

// luhnCheckDigit returns the digit that, appended to payload (decimal digits only), makes the whole
// number pass the Luhn check.
func luhnCheckDigit(payload string) byte {
	n := ordernum.WithCheckDigit(payload)
	return n[len(n)-1]
}

// luhnValid reports whether s is a non-empty string of digits passing the Luhn check.
func luhnValid(s string) bool {
	_, err := ordernum.Parse(s)
	return err == nil && s != "" && len(s) == len(strings.TrimSpace(s))
}

// numbers hands out distinct Luhn-valid order numbers: prefix, a 10-digit counter, a check digit.
// Safe for concurrent use.
type numbers struct {
	prefix string // digits only
	n      atomic.Uint64
}

// newNumbers returns a generator whose numbers all start with prefix (digits only).
func newNumbers(prefix string) *numbers {
	return &numbers{prefix: prefix}
}

// next returns a number never returned before by this generator.
func (g *numbers) next() string {
	c := strconv.FormatUint(g.n.Add(1), 10)
	b := make([]byte, 0, len(g.prefix)+11)
	b = append(b, g.prefix...)
	for i := len(c); i < 10; i++ {
		b = append(b, '0')
	}
	b = append(b, c...)
	return string(append(b, luhnCheckDigit(string(b))))
}

// randomDigits returns n random decimal digits.
func randomDigits(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = "0123456789"[rand.IntN(10)] // #nosec G404 -- names, not secrets
	}
	return string(b)
}
