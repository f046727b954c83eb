package balance

import (
	"encoding/json"
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/points"
)

// amountSamples are edge amounts and a spread of random ones.
func amountSamples(rng *rand.Rand, n int) []points.Amount {
	out := []points.Amount{
		0, 1, 5, 10, 50, 99, 100, 101, 110, 150, 72998, 2725, points.Max, MaxBalance,
		MaxBalance - 1, -1, -150, math.MaxInt64, math.MinInt64,
	}
	for range n {
		out = append(out, points.Amount(rng.Int64()), points.Amount(rng.Int64N(100_000)), points.Amount(-rng.Int64N(1000)))
	}
	return out
}

// TestAppendBalanceMatchesJSON checks the hand-written GET balance body against what c.JSON (that
// is, json.Marshal) writes for balanceResponse.
func TestAppendBalanceMatchesJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4)) // #nosec G404 -- test data
	as := amountSamples(rng, 3000)
	for i, cur := range as {
		b := Balance{Current: cur, Withdrawn: as[(i*7+3)%len(as)]}
		want, err := json.Marshal(balanceResponse(b))
		require.NoError(t, err)
		require.Equal(t, string(want), string(appendBalance(nil, b)), "%+v", b)
	}
}

// checkListed compares the list's encoding of w with json.Marshal of its withdrawalItem.
func checkListed(t *testing.T, w Withdrawal) {
	t.Helper()
	want, err := json.Marshal(toItems([]Withdrawal{w})[0])
	require.NoError(t, err)
	lw := listedWithdrawal(w)
	require.Equal(t, string(want), string(lw.AppendJSON([]byte{})), "%+v", w)
}

func TestListedWithdrawalMatchesJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6)) // #nosec G404 -- test data
	zones := []*time.Location{time.UTC, time.FixedZone("x", 3*3600+30*60), time.FixedZone("y", -8*3600)}
	for i, a := range amountSamples(rng, 3000) {
		at := time.UnixMicro(rng.Int64N(4_000_000_000_000_000)).In(zones[i%len(zones)])
		checkListed(t, Withdrawal{Order: ordernum.Number(num(70, i)), Sum: a, ProcessedAt: at})
	}
	for _, order := range []string{"", "0", "12345678903", `a"b`, `<&>`, "\u2028", "é", "\x00\x1f", "\xff"} {
		checkListed(t, Withdrawal{Order: ordernum.Number(order), Sum: 1, ProcessedAt: time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)})
	}
}

// FuzzListedWithdrawal looks for a withdrawal whose list encoding differs from json.Marshal's.
func FuzzListedWithdrawal(f *testing.F) {
	f.Add("12345678903", int64(72998), int64(1_700_000_000_123_456))
	f.Add("<\"x\">", int64(-1), int64(0))
	f.Fuzz(func(t *testing.T, order string, amount, micros int64) {
		checkListed(t, Withdrawal{Order: ordernum.Number(order), Sum: points.Amount(amount), ProcessedAt: time.UnixMicro(micros).UTC()})
	})
}
