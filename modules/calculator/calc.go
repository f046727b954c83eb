package calculator

import (
	"errors"
	"strings"

	"github.com/shopspring/decimal"

	"github.com/gophermart/gophermart/modules/platform/points"
)

// errTotalOutOfRange means an order earns more than points.Max; such an order becomes INVALID.
var errTotalOutOfRange = errors.New("accrual above the maximum amount")

// Calculate returns what the goods earn under the mechanics, given in registration order: each good
// earns from the first mechanic whose match is a substring of its description, % giving
// price × reward / 100 and pt giving reward. The sum is exact and rounded half-up to hundredths once,
// at the end. matched is false when no good matched any mechanic (the order then has no accrual).
func Calculate(goods []Good, mechanics []Mechanic) (total points.Amount, matched bool, err error) {
	sum := decimal.Zero
	for _, g := range goods {
		for _, m := range mechanics {
			if !strings.Contains(g.Description, m.Match) {
				continue
			}
			matched = true
			switch m.RewardType {
			case RewardPercent:
				sum = sum.Add(g.Price.Mul(m.Reward).Shift(-2)) // exact: no division
			case RewardPoints:
				sum = sum.Add(m.Reward)
			}
			break
		}
	}
	if !matched {
		return 0, false, nil
	}
	// Round is half away from zero; the sum is never negative, so this is half-up.
	r := sum.Shift(2).Round(0)
	if r.GreaterThan(decimal.NewFromInt(int64(points.Max))) {
		return 0, true, errTotalOutOfRange
	}
	return points.Amount(r.IntPart()), true, nil
}
