package ordernum_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/ordernum"
)

func TestParse(t *testing.T) {
	tests := []struct {
		name    string
		give    string
		want    ordernum.Number
		wantErr bool
	}{
		{name: "valid", give: "12345678903", want: "12345678903"},
		{name: "valid spec example", give: "2377225624", want: "2377225624"},
		{name: "trimmed", give: " \n12345678903\t", want: "12345678903"},
		{name: "single zero", give: "0", wantErr: true},
		{name: "zeros", give: "0000000000", wantErr: true},
		{name: "zeros trimmed", give: " 00 \n", wantErr: true},
		{name: "zero check digit after zeros", give: "000000000018", want: "000000000018"},
		{name: "leading zeros kept", give: "0012345678903", want: "0012345678903"},
		{name: "long valid", give: "79927398713" + strings.Repeat("0", 100), want: ordernum.Number("79927398713" + strings.Repeat("0", 100))},
		{name: "luhn fails", give: "12345678901", wantErr: true},
		{name: "letters", give: "1234a", wantErr: true},
		{name: "negative", give: "-12345678903", wantErr: true},
		{name: "inner space", give: "123 45678903", wantErr: true},
		{name: "empty", give: "", wantErr: true},
		{name: "only spaces", give: "   ", wantErr: true},
		{name: "unicode digits", give: "١٢٣", wantErr: true},
		{name: "too long", give: strings.Repeat("0", 10000), wantErr: true},
		{name: "longest", give: strings.Repeat("0", ordernum.MaxLen-2) + "18", want: ordernum.Number(strings.Repeat("0", ordernum.MaxLen-2) + "18")},
		{name: "one digit too long", give: strings.Repeat("0", ordernum.MaxLen-1) + "18", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ordernum.Parse(tt.give)
			if tt.wantErr {
				require.ErrorIs(t, err, ordernum.ErrInvalid)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

// FuzzParse: whatever the input, Parse either refuses it with ErrInvalid or returns the trimmed
// input, 1 to MaxLen ASCII digits, not all zeros, passing Luhn, that parses again to itself.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"12345678903", "0", "00", "", "abc", " 18 ", "0018", "١٢٣", "+18", "18\x00", strings.Repeat("9", 300)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ordernum.Parse(s)
		if err != nil {
			require.ErrorIs(t, err, ordernum.ErrInvalid)
			return
		}
		require.Equal(t, strings.TrimSpace(s), n.String())
		require.NotEmpty(t, n)
		require.LessOrEqual(t, len(n), ordernum.MaxLen)
		require.NotEmpty(t, strings.Trim(n.String(), "0"), "never all zeros")
		for _, c := range n {
			require.True(t, c >= '0' && c <= '9')
		}
		require.Equal(t, n, ordernum.WithCheckDigit(n.String()[:len(n)-1]), "the last digit is the Luhn check digit")
		again, err := ordernum.Parse(n.String())
		require.NoError(t, err)
		require.Equal(t, n, again)
	})
}

func TestWithCheckDigit(t *testing.T) {
	assert.Equal(t, ordernum.Number("12345678903"), ordernum.WithCheckDigit("1234567890"))
	assert.Equal(t, ordernum.Number("79927398713"), ordernum.WithCheckDigit("7992739871"))
	assert.Equal(t, ordernum.Number("0"), ordernum.WithCheckDigit(""))
	for i := range 2000 {
		n := ordernum.WithCheckDigit(strings.Repeat("9", i%7) + fmt.Sprint(i+1)) // never all zeros
		_, err := ordernum.Parse(string(n))
		require.NoError(t, err, n)
		bad := string(n[:len(n)-1]) + string(rune('0'+(n[len(n)-1]-'0'+1)%10))
		_, err = ordernum.Parse(bad)
		require.ErrorIs(t, err, ordernum.ErrInvalid, "a wrong check digit fails: %s", bad)
	}
}
