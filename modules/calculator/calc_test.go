package calculator

import (
	"fmt"
	"math/big"
	"math/rand/v2"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/points"
)

func dec(s string) decimal.Decimal { return decimal.RequireFromString(s) }

func TestCalculate(t *testing.T) {
	bork5 := Mechanic{Match: "Bork", Reward: dec("5"), RewardType: RewardPercent}
	pringles := Mechanic{Match: "Pringles", Reward: dec("10"), RewardType: RewardPercent}
	coke := Mechanic{Match: "Coca-Cola", Reward: dec("12.5"), RewardType: RewardPoints}
	tests := []struct {
		name        string
		goods       []Good
		mechanics   []Mechanic
		want        points.Amount
		wantMatched bool
	}{
		{
			name:        "SPEC: 5% of 14599.50 is 729.98 (729.975 rounded half-up)",
			goods:       []Good{{Description: "Чайник Bork", Price: dec("14599.50")}},
			mechanics:   []Mechanic{bork5},
			want:        72998,
			wantMatched: true,
		},
		{
			name: "SPEC: Pringles 10% of 147.5 plus Coca-Cola 12.5 pt is 27.25",
			goods: []Good{
				{Description: "Чипсы Pringles бекон", Price: dec("147.5")},
				{Description: "Напиток Coca-Cola Zero 0.5л", Price: dec("55")},
			},
			mechanics:   []Mechanic{pringles, coke},
			want:        2725,
			wantMatched: true,
		},
		{
			name:      "SPEC: no matching good, no accrual",
			goods:     []Good{{Description: "Стул IKEA", Price: dec("1000")}},
			mechanics: []Mechanic{bork5, pringles, coke},
		},
		{
			name:      "no goods, no accrual",
			mechanics: []Mechanic{bork5},
		},
		{
			name:  "the first registered mechanic that matches wins",
			goods: []Good{{Description: "Bork Pringles", Price: dec("100")}},
			mechanics: []Mechanic{
				{Match: "Pringles", Reward: dec("1"), RewardType: RewardPoints},
				{Match: "Bork", Reward: dec("50"), RewardType: RewardPercent},
			},
			want:        100,
			wantMatched: true,
		},
		{
			name:        "match is case-sensitive",
			goods:       []Good{{Description: "чайник bork", Price: dec("100")}},
			mechanics:   []Mechanic{bork5},
			wantMatched: false,
		},
		{
			name:        "a matched good of price 0 earns 0, and the accrual is present",
			goods:       []Good{{Description: "Bork", Price: dec("0")}},
			mechanics:   []Mechanic{bork5},
			want:        0,
			wantMatched: true,
		},
		{
			name: "rounding happens once, on the total (0.005 + 0.005 = 0.01)",
			goods: []Good{
				{Description: "Bork a", Price: dec("0.1")},
				{Description: "Bork b", Price: dec("0.1")},
			},
			mechanics:   []Mechanic{bork5},
			want:        1,
			wantMatched: true,
		},
		{
			name:        "half-up: 0.005 is 0.01",
			goods:       []Good{{Description: "Bork", Price: dec("0.1")}}, // 5% = 0.005
			mechanics:   []Mechanic{bork5},
			want:        1,
			wantMatched: true,
		},
		{
			name:        "many decimals are exact: 0.004999 is 0.00",
			goods:       []Good{{Description: "Bork", Price: dec("0.09998")}}, // 5% = 0.004999
			mechanics:   []Mechanic{bork5},
			want:        0,
			wantMatched: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, matched, err := Calculate(tt.goods, tt.mechanics)
			require.NoError(t, err)
			assert.Equal(t, tt.wantMatched, matched)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestCalculateOutOfRange(t *testing.T) {
	goods := []Good{{Description: "Bork", Price: dec("1000000000000000")}}
	_, matched, err := Calculate(goods, []Mechanic{{Match: "Bork", Reward: dec("1000"), RewardType: RewardPercent}})
	assert.True(t, matched)
	require.ErrorIs(t, err, errTotalOutOfRange)
}

// TestCalculateMatchesBigRat checks Calculate against an independent computation with math/big: the
// exact rational sum, rounded half-up to hundredths.
func TestCalculateMatchesBigRat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2)) //nolint:gosec // reproducible test data
	randDecimal := func(maxInt int64, maxPlaces int) string {
		s := fmt.Sprint(rng.Int64N(maxInt))
		if places := rng.IntN(maxPlaces + 1); places > 0 {
			frac := make([]byte, places)
			for i := range frac {
				frac[i] = byte('0' + rng.IntN(10))
			}
			s += "." + string(frac)
		}
		return s
	}
	for i := range 2000 {
		var goods []Good
		var mechanics []Mechanic
		for j := range 1 + rng.IntN(5) {
			m := Mechanic{Match: fmt.Sprintf("m%d;", j), Reward: dec(randDecimal(200, 6)), RewardType: RewardPercent}
			if rng.IntN(3) == 0 {
				m.RewardType = RewardPoints
			}
			if m.Reward.IsZero() {
				m.Reward = dec("0.01")
			}
			mechanics = append(mechanics, m)
		}
		for range rng.IntN(6) {
			desc := "good"
			for j := range mechanics {
				if rng.IntN(3) == 0 {
					desc += fmt.Sprintf(" m%d;", j)
				}
			}
			goods = append(goods, Good{Description: desc, Price: dec(randDecimal(1_000_000, 8))})
		}

		got, matched, err := Calculate(goods, mechanics)
		require.NoError(t, err)

		sum, anyMatch := new(big.Rat), false
		for _, g := range goods {
			for _, m := range mechanics {
				if !containsMatch(g.Description, m.Match) {
					continue
				}
				anyMatch = true
				reward := rat(t, m.Reward.String())
				if m.RewardType == RewardPercent {
					v := new(big.Rat).Mul(rat(t, g.Price.String()), reward)
					sum.Add(sum, v.Quo(v, big.NewRat(100, 1)))
				} else {
					sum.Add(sum, reward)
				}
				break
			}
		}
		// Half-up to hundredths: floor(sum*100 + 1/2).
		scaled := new(big.Rat).Add(new(big.Rat).Mul(sum, big.NewRat(100, 1)), big.NewRat(1, 2))
		want := new(big.Int).Quo(scaled.Num(), scaled.Denom()) // non-negative, so Quo is floor
		require.Equal(t, anyMatch, matched, "case %d", i)
		require.Equal(t, want.Int64(), int64(got), "case %d: goods %v mechanics %v", i, goods, mechanics)
	}
}

func containsMatch(desc, match string) bool {
	for i := 0; i+len(match) <= len(desc); i++ {
		if desc[i:i+len(match)] == match {
			return true
		}
	}
	return false
}

func rat(tb testing.TB, s string) *big.Rat {
	tb.Helper()
	r, ok := new(big.Rat).SetString(s)
	require.True(tb, ok, s)
	return r
}

func BenchmarkCalculate(b *testing.B) {
	goods := []Good{
		{Description: "Чипсы Pringles бекон", Price: dec("147.5")},
		{Description: "Напиток Coca-Cola Zero 0.5л", Price: dec("55")},
		{Description: "Чайник Bork", Price: dec("14599.50")},
	}
	mechanics := []Mechanic{
		{Match: "Bork", Reward: dec("5"), RewardType: RewardPercent},
		{Match: "Pringles", Reward: dec("10"), RewardType: RewardPercent},
		{Match: "Coca-Cola", Reward: dec("12.5"), RewardType: RewardPoints},
	}
	for b.Loop() {
		_, _, _ = Calculate(goods, mechanics)
	}
}
