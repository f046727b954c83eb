package points_test

import (
	"encoding/json"
	"math/big"
	"math/rand/v2"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/points"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		want    points.Amount
		wantErr error
	}{
		{name: "integer", give: "751", want: 75100},
		{name: "two decimals", give: "729.98", want: 72998},
		{name: "float32 widened", give: "729.97998046875", want: 72998},
		{name: "float32 widened small", give: "0.28999999165534973", want: 29},
		{name: "float32 widened 19.99", give: "19.989999771118164", want: 1999},
		{name: "half rounds up", give: "0.005", want: 1},
		{name: "below half rounds down", give: "0.0049999", want: 0},
		{name: "one kopeck", give: "0.01", want: 1},
		{name: "exponent", give: "1.5e2", want: 15000},
		{name: "zero", give: "0", want: 0},
		{name: "tiny exponent", give: "1e-1000", want: 0},
		{name: "max", give: "1000000000000", want: points.Max},
		{name: "over max", give: "1000000000000.01", wantErr: points.ErrOutOfRange},
		{name: "huge", give: "1e308", wantErr: points.ErrOutOfRange},
		{name: "exponent past int32", give: "1e10000000000", wantErr: points.ErrInvalid},
		{name: "negative", give: "-1", wantErr: points.ErrOutOfRange},
		{name: "NaN", give: "NaN", wantErr: points.ErrInvalid},
		{name: "Inf", give: "Inf", wantErr: points.ErrInvalid},
		{name: "hex", give: "0x10", wantErr: points.ErrInvalid},
		{name: "empty", give: "", wantErr: points.ErrInvalid},
		{name: "words", give: "12 points", wantErr: points.ErrInvalid},
		{name: "double dot", give: "1.2.3", wantErr: points.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := points.Parse(tt.give)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestJSONRoundTrip(t *testing.T) {
	tests := []struct {
		give points.Amount
		want string
	}{
		{give: 1, want: "0.01"},
		{give: 72998, want: "729.98"},
		{give: 2725, want: "27.25"},
		{give: 50050, want: "500.5"},
		{give: 4200, want: "42"},
		{give: 0, want: "0"},
		{give: points.Max, want: "1000000000000"},
		{give: 99999999999999, want: "999999999999.99"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			b, err := json.Marshal(struct {
				A points.Amount `json:"a"`
			}{tt.give})
			require.NoError(t, err)
			assert.JSONEq(t, `{"a":`+tt.want+`}`, string(b))
			assert.Equal(t, `{"a":`+tt.want+`}`, string(b), "exact decimal text, no float noise")
			var back struct {
				A points.Amount `json:"a"`
			}
			require.NoError(t, json.Unmarshal(b, &back))
			assert.Equal(t, tt.give, back.A)
		})
	}
}

func TestUnmarshalRefusesNonNumbers(t *testing.T) {
	for _, give := range []string{`"12"`, `null`, `true`, `{}`, `[]`, `-1`, `1e308`} {
		t.Run(give, func(t *testing.T) {
			var a points.Amount
			require.Error(t, json.Unmarshal([]byte(give), &a))
		})
	}
}

// Every float32 a client may hold, widened to float64 and printed, comes back as the kopecks the
// client meant: the nearest hundredth (checked against math/big). Below 65 536 points a float32's
// spacing is under half a kopeck, so the kopecks are recoverable; above it no server can tell.
func TestFloat32ClientsRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		kopecks := r.Int64N(6_553_600)
		f32 := float32(kopecks) / 100
		wire := strconv.FormatFloat(float64(f32), 'g', -1, 64)
		got, err := points.Parse(wire)
		require.NoError(t, err, wire)

		exact, ok := new(big.Rat).SetString(wire)
		require.True(t, ok)
		exact.Mul(exact, big.NewRat(100, 1))
		exact.Add(exact, big.NewRat(1, 2))
		want := new(big.Int).Quo(exact.Num(), exact.Denom()) // floor(x*100 + 1/2): half-up
		require.Equal(t, want.Int64(), int64(got), wire)
		require.Equal(t, kopecks, int64(got), "a float32 client means %d kopecks, sent %s", kopecks, wire)
	}
}
