package points_test

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/shopspring/decimal"
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
		{name: "exponent past int32", give: "1e10000000000", wantErr: points.ErrOutOfRange},
		{name: "45 trailing zeros", give: "729.98" + strings.Repeat("0", 45), want: 72998},
		{name: "400 trailing zeros", give: "729.98" + strings.Repeat("0", 400), want: 72998},
		{name: "trailing zeros then exponent", give: "7.2998" + strings.Repeat("0", 100) + "e2", want: 72998},
		{name: "leading zeros", give: strings.Repeat("0", 300) + "729.98", want: 72998},
		{name: "fraction of leading zeros", give: "0." + strings.Repeat("0", 300) + "1", want: 0},
		{name: "digits compensate the exponent", give: "72998" + strings.Repeat("0", 300) + "e-302", want: 72998},
		{name: "tiny exponent past int64", give: "1e-99999999999999999999999", want: 0},
		{name: "huge exponent", give: "1e1000000", wantErr: points.ErrOutOfRange},
		{name: "tiny exponent, huge size", give: "1e-1000000", want: 0},
		{name: "huge exponent past int64", give: "1e99999999999999999999999", wantErr: points.ErrOutOfRange},
		{name: "zero with huge exponent", give: "0e1000000", want: 0},
		{name: "zero with many digits", give: "0." + strings.Repeat("0", 500), want: 0},
		{name: "negative zero", give: "-0.00", want: 0},
		{name: "negative tiny", give: "-1e-1000000", wantErr: points.ErrOutOfRange},
		{name: "half a kopeck by exponent", give: "5e-3", want: 1},
		{name: "just below half a kopeck", give: "4.9999999999999999999999e-3", want: 0},
		{name: "far below half a kopeck", give: "9e-4", want: 0},
		{name: "half rounds up at the top", give: "12.345", want: 1235},
		{name: "half of the last kopeck below max", give: "999999999999.995", want: points.Max},
		{name: "just over max by a fraction", give: "1000000000000.005", wantErr: points.ErrOutOfRange},
		{name: "max rounds in", give: "1000000000000.004999", want: points.Max},
		{name: "max by exponent", give: "1e12", want: points.Max},
		{name: "over max by exponent", give: "1.0000000000001e12", wantErr: points.ErrOutOfRange},
		{name: "sixteen digits of hundredths", give: "9999999999999.99", wantErr: points.ErrOutOfRange},
		{name: "plus sign", give: "+5", want: 500},
		{name: "no integer part", give: ".5", want: 50},
		{name: "no fraction digits", give: "5.", want: 500},
		{name: "point then exponent", give: "1.e3", want: 100000},
		{name: "exponent with plus", give: "1E+2", want: 10000},
		{name: "surrounding space", give: " 1.25\n", want: 125},
		{name: "longest accepted", give: "1." + strings.Repeat("0", points.MaxLen-2), want: 100},
		{name: "over the length cap", give: "1." + strings.Repeat("0", points.MaxLen-1), wantErr: points.ErrInvalid},
		{name: "over the length cap by exponent digits", give: "1e" + strings.Repeat("0", points.MaxLen), wantErr: points.ErrInvalid},
		{name: "lone point", give: ".", wantErr: points.ErrInvalid},
		{name: "lone sign", give: "-", wantErr: points.ErrInvalid},
		{name: "point and exponent only", give: ".e3", wantErr: points.ErrInvalid},
		{name: "exponent without digits", give: "1e", wantErr: points.ErrInvalid},
		{name: "exponent sign without digits", give: "1e+", wantErr: points.ErrInvalid},
		{name: "exponent without mantissa", give: "e5", wantErr: points.ErrInvalid},
		{name: "fractional exponent", give: "1e2.5", wantErr: points.ErrInvalid},
		{name: "double sign", give: "--1", wantErr: points.ErrInvalid},
		{name: "inner space", give: "1 000", wantErr: points.ErrInvalid},
		{name: "underscore", give: "1_000", wantErr: points.ErrInvalid},
		{name: "comma", give: "1,5", wantErr: points.ErrInvalid},
		{name: "Infinity", give: "Infinity", wantErr: points.ErrInvalid},
		{name: "negative Inf", give: "-Inf", wantErr: points.ErrInvalid},
		{name: "hex float", give: "0x1p3", wantErr: points.ErrInvalid},
		{name: "unicode digit", give: "١", wantErr: points.ErrInvalid},
		{name: "only space", give: "  ", wantErr: points.ErrInvalid},
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

func TestUnmarshalReadsAnyScale(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		want    points.Amount
		wantErr error
	}{
		{name: "45 trailing zeros", give: "729.98" + strings.Repeat("0", 45), want: 72998},
		{name: "exponent and zeros", give: "7299800" + strings.Repeat("0", 60) + "E-64", want: 72998},
		{name: "tiny", give: "1e-1000000", want: 0},
		{name: "huge", give: "1e1000000", wantErr: points.ErrOutOfRange},
		{name: "too long", give: "1." + strings.Repeat("0", points.MaxLen), wantErr: points.ErrInvalid},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var a points.Amount
			err := json.Unmarshal([]byte(tt.give), &a)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, a)
		})
	}
}

// grammar is what Parse accepts once surrounding space is trimmed, as a regular expression.
var grammar = regexp.MustCompile(`^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$`)

// FuzzParse checks Parse against its grammar and against exact rational arithmetic (math/big) for
// every exponent small enough to compute, plus the round trip through String and the rule that
// trailing zeros never change a value.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"0", "751", "729.98", "729.97998046875", "0.28999999165534973", "0.005", "0.0049999", "-0", "-1",
		"1e1000000", "1e-1000000", "0e99999999999999999999", "1e10000000000", "1000000000000",
		"1000000000000.005", "999999999999.995", "1000000000000.004999", "1.5e2", "+.5", "5.", "1.e3",
		"729.98" + strings.Repeat("0", 45), "7.2998" + strings.Repeat("0", 100) + "e2", "NaN", "Inf",
		"0x10", "", " ", "1e", "e5", ".", "-.", "1.2.3", "12 points", "9999999999999.99", "4.9999e-3",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := points.Parse(s)
		trimmed := strings.TrimSpace(s)
		wellFormed := len(trimmed) <= points.MaxLen && grammar.MatchString(trimmed)
		switch {
		case err == nil:
			require.True(t, wellFormed, "%q parsed though not a plain decimal", s)
			require.True(t, got >= 0 && got <= points.Max, "%q gave %d", s, got)
		case errors.Is(err, points.ErrOutOfRange):
			require.True(t, wellFormed, "%q read as a number though not a plain decimal", s)
		case errors.Is(err, points.ErrInvalid):
			require.False(t, wellFormed, "%q refused though a plain decimal", s)
			return
		default:
			t.Fatalf("%q: unexpected error %v", s, err)
		}

		if want, ok := exactHundredths(t, trimmed); ok {
			if want.Sign() < 0 || want.Cmp(big.NewInt(int64(points.Max))) > 0 {
				require.ErrorIs(t, err, points.ErrOutOfRange, "%q is %s hundredths", s, want)
			} else {
				require.NoError(t, err, "%q is %s hundredths", s, want)
				require.Equal(t, want.Int64(), int64(got), s)
			}
		}

		if err == nil {
			back, err := points.Parse(got.String())
			require.NoError(t, err, "%q printed as %q", s, got.String())
			require.Equal(t, got, back, "%q printed as %q", s, got.String())
		}

		mantissa, exponent := trimmed, ""
		if i := strings.IndexAny(trimmed, "eE"); i >= 0 {
			mantissa, exponent = trimmed[:i], trimmed[i:]
		}
		if !strings.Contains(mantissa, ".") {
			mantissa += "."
		}
		for _, zeros := range []int{1, 45} {
			padded := mantissa + strings.Repeat("0", zeros) + exponent
			if len(padded) > points.MaxLen {
				break
			}
			again, againErr := points.Parse(padded)
			require.Equal(t, got, again, "%q vs %q", s, padded)
			if err != nil {
				require.ErrorIs(t, againErr, points.ErrOutOfRange, "%q vs %q", s, padded)
			} else {
				require.NoError(t, againErr, "%q vs %q", s, padded)
			}
		}
	})
}

// exactHundredths is the well-formed s×100 rounded half-up, by exact rational arithmetic; -1 for
// any negative s, whose size does not matter. ok is false when the exponent is too large to
// compute cheaply.
func exactHundredths(t *testing.T, s string) (*big.Int, bool) {
	t.Helper()
	if i := strings.IndexAny(s, "eE"); i >= 0 {
		e, err := strconv.ParseInt(s[i+1:], 10, 64)
		if err != nil || e > 1000 || e < -1000 {
			return nil, false
		}
	}
	r, ok := new(big.Rat).SetString(s)
	require.True(t, ok, "math/big cannot read %q", s)
	if r.Sign() < 0 {
		return big.NewInt(-1), true
	}
	r.Mul(r, big.NewRat(100, 1))
	r.Add(r, big.NewRat(1, 2))
	return new(big.Int).Quo(r.Num(), r.Denom()), true
}

// TestAppendJSONMatchesDecimal checks AppendJSON against the exact decimal printing it replaces
// (shopspring/decimal's String of the amount in hundredths) and against encoding/json, over edge
// values and a spread of random ones.
func TestAppendJSONMatchesDecimal(t *testing.T) {
	values := []points.Amount{
		0, 1, 5, 9, 10, 11, 50, 99, 100, 101, 105, 110, 150, 199, 72998, 2725, 500,
		points.Max, points.Max - 1, points.Max + 1, -1, -5, -10, -50, -100, -101, -72998,
		math.MaxInt64, math.MinInt64, math.MaxInt64 - 1, math.MinInt64 + 1,
	}
	for p := int64(1); p <= math.MaxInt64/10; p *= 10 {
		values = append(values, points.Amount(p), points.Amount(p-1), points.Amount(p+1), points.Amount(-p))
	}
	rng := rand.New(rand.NewPCG(1, 2)) // #nosec G404 -- test data
	for range 20_000 {
		values = append(values, points.Amount(rng.Int64()), points.Amount(rng.Int64N(1_000_000)), points.Amount(-rng.Int64N(10_000)))
	}
	for _, a := range values {
		want := decimal.New(int64(a), -2).String()
		require.Equal(t, want, string(points.AppendJSON(nil, a)), "amount %d", int64(a))
		require.Equal(t, "x"+want, string(points.AppendJSON([]byte("x"), a)), "appends after what is there")
		j, err := json.Marshal(a)
		require.NoError(t, err)
		require.Equal(t, want, string(j), "amount %d", int64(a))
	}
}
