package calculator

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/shopspring/decimal"

	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/points"
)

// The statuses of a registered order, as the accrual API reports them. PROCESSED and INVALID are final.
const (
	StatusRegistered = "REGISTERED"
	StatusProcessing = "PROCESSING"
	StatusProcessed  = "PROCESSED"
	StatusInvalid    = "INVALID"
)

// The kinds of reward a mechanic gives.
const (
	RewardPercent = "%"  // reward percent of the good's price
	RewardPoints  = "pt" // reward points per good
)

// Limits on what a client may register; they keep keys indexable and arithmetic cheap.
const (
	// MaxMatchLen is the longest match accepted, in bytes.
	MaxMatchLen = 1024
	// MaxDescriptionLen is the longest good description accepted, in bytes.
	MaxDescriptionLen = 64 << 10
	// maxDecimals is the most decimal places a price or reward may have.
	maxDecimals = 30
	// maxNumberLen caps the text of a number before it is parsed.
	maxNumberLen = 128
)

// maxValue is the largest price or reward accepted: 10^15.
var maxValue = decimal.New(1, 15)

// Mechanic is a reward mechanic: a good whose description contains Match earns Reward, in percent of
// its price or in points.
type Mechanic struct {
	Match      string
	Reward     decimal.Decimal
	RewardType string
}

// Good is one line of a purchase.
type Good struct {
	Description string
	Price       decimal.Decimal
}

// Order is a registered purchase as the API reports it.
type Order struct {
	Number ordernum.Number
	Status string
	// Accrual is the points earned; nil unless PROCESSED with at least one good that matched.
	Accrual *points.Amount
}

// InputError says what is wrong with a request's content; the API answers it with 400.
type InputError struct {
	Field  string
	Reason string
}

func (e *InputError) Error() string { return e.Field + ": " + e.Reason }

func invalid(field, format string, args ...any) *InputError {
	return &InputError{Field: field, Reason: fmt.Sprintf(format, args...)}
}

// ParseDecimal reads the text of a JSON number exactly: no float64 on the way, at most 30 decimal
// places, not negative and at most 10^15. field names the value in the error.
func ParseDecimal(field, s string) (decimal.Decimal, error) {
	if s == "" || len(s) > maxNumberLen {
		return decimal.Decimal{}, invalid(field, "must be a number")
	}
	for _, r := range s {
		if !strings.ContainsRune("0123456789.-+eE", r) {
			return decimal.Decimal{}, invalid(field, "must be a number")
		}
	}
	d, err := decimal.NewFromString(s)
	if err != nil {
		return decimal.Decimal{}, invalid(field, "must be a number")
	}
	if d.IsZero() {
		return decimal.Zero, nil
	}
	// Check the exponent before anything computes with d: 1e1000000 is short text but a huge number.
	if d.Exponent() > 20 || d.GreaterThan(maxValue) {
		return decimal.Decimal{}, invalid(field, "must be at most %s", maxValue.String())
	}
	if d.IsNegative() {
		return decimal.Decimal{}, invalid(field, "must not be negative")
	}
	// The text has at most maxNumberLen digits, so a far smaller exponent means digits beyond
	// maxDecimals for sure (and Truncate would have to divide by a huge power of ten).
	if d.Exponent() < -maxDecimals && (d.Exponent() < -maxDecimals-maxNumberLen || !d.Equal(d.Truncate(maxDecimals))) {
		return decimal.Decimal{}, invalid(field, "must have at most %d decimal places", maxDecimals)
	}
	return d, nil
}

// NewMechanic validates a mechanic: a non-empty match, a positive reward and a known reward type.
func NewMechanic(match string, reward decimal.Decimal, rewardType string) (Mechanic, error) {
	switch {
	case match == "":
		return Mechanic{}, invalid("match", "must not be empty")
	case len(match) > MaxMatchLen:
		return Mechanic{}, invalid("match", "must be at most %d bytes", MaxMatchLen)
	case !utf8.ValidString(match):
		return Mechanic{}, invalid("match", "must be valid UTF-8")
	case !reward.IsPositive():
		return Mechanic{}, invalid("reward", "must be greater than 0")
	case rewardType != RewardPercent && rewardType != RewardPoints:
		return Mechanic{}, invalid("reward_type", "must be %q or %q", RewardPercent, RewardPoints)
	}
	return Mechanic{Match: match, Reward: reward, RewardType: rewardType}, nil
}

// NewGood validates one good: a non-empty description and a price that is not negative.
func NewGood(description string, price decimal.Decimal) (Good, error) {
	switch {
	case description == "":
		return Good{}, invalid("description", "must not be empty")
	case len(description) > MaxDescriptionLen:
		return Good{}, invalid("description", "must be at most %d bytes", MaxDescriptionLen)
	case price.IsNegative():
		return Good{}, invalid("price", "must not be negative")
	}
	return Good{Description: description, Price: price}, nil
}
