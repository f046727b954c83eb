package orders

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

// checkListed compares the list's encoding of o with json.Marshal of its orderItem.
func checkListed(t *testing.T, o Order) {
	t.Helper()
	want, err := json.Marshal(toItems([]Order{o})[0])
	require.NoError(t, err)
	lo := listedOrder(o)
	require.Equal(t, string(want), string(lo.AppendJSON([]byte{})), "%+v", o)
}

func TestListedOrderMatchesJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8)) // #nosec G404 -- test data
	statuses := []string{StatusNew, StatusProcessing, StatusInvalid, StatusProcessed}
	zones := []*time.Location{time.UTC, time.FixedZone("x", 5*3600+45*60), time.FixedZone("y", -3*3600)}
	amounts := []int64{0, 1, 5, 10, 99, 100, 150, 72998, int64(points.Max), math.MaxInt64, math.MinInt64, -1}
	for i := range 10_000 {
		o := Order{
			Number:     ordernum.Number(num(60, i)),
			Status:     statuses[i%len(statuses)],
			UploadedAt: time.UnixMicro(rng.Int64N(4_000_000_000_000_000)).In(zones[i%len(zones)]),
		}
		if i%5 != 0 {
			a := points.Amount(rng.Int64N(10_000_000))
			if i%7 == 0 {
				a = points.Amount(amounts[i%len(amounts)])
			}
			o.Accrual = &a
		}
		checkListed(t, o)
	}
	for _, s := range []string{"", `a"b`, `<&>`, "\u2028", "é", "\x00\x1f", "\xff", `\`} {
		a := points.Amount(1)
		checkListed(t, Order{Number: ordernum.Number(s), Status: s, Accrual: &a, UploadedAt: time.Date(2024, 1, 2, 3, 4, 5, 6, time.UTC)})
	}
}

// FuzzListedOrder looks for an order whose list encoding differs from json.Marshal's.
func FuzzListedOrder(f *testing.F) {
	f.Add("12345678903", StatusProcessed, int64(72998), true, int64(1_700_000_000_123_456))
	f.Add("<\"x\">", "\xff", int64(-1), false, int64(0))
	f.Fuzz(func(t *testing.T, number, status string, accrual int64, hasAccrual bool, micros int64) {
		o := Order{Number: ordernum.Number(number), Status: status, UploadedAt: time.UnixMicro(micros).UTC()}
		if hasAccrual {
			a := points.Amount(accrual)
			o.Accrual = &a
		}
		checkListed(t, o)
	})
}
