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
		{name: "single zero", give: "0", want: "0"},
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

func FuzzParse(f *testing.F) {
	for _, s := range []string{"12345678903", "0", "", "abc", " 18 "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := ordernum.Parse(s)
		if err != nil {
			return
		}
		again, err := ordernum.Parse(n.String())
		require.NoError(t, err)
		require.Equal(t, n, again)
		for _, c := range n {
			require.True(t, c >= '0' && c <= '9')
		}
	})
}

func TestWithCheckDigit(t *testing.T) {
	assert.Equal(t, ordernum.Number("12345678903"), ordernum.WithCheckDigit("1234567890"))
	assert.Equal(t, ordernum.Number("79927398713"), ordernum.WithCheckDigit("7992739871"))
	assert.Equal(t, ordernum.Number("0"), ordernum.WithCheckDigit(""))
	for i := range 2000 {
		n := ordernum.WithCheckDigit(strings.Repeat("9", i%7) + fmt.Sprint(i))
		_, err := ordernum.Parse(string(n))
		require.NoError(t, err, n)
		bad := string(n[:len(n)-1]) + string(rune('0'+(n[len(n)-1]-'0'+1)%10))
		_, err = ordernum.Parse(bad)
		require.ErrorIs(t, err, ordernum.ErrInvalid, "a wrong check digit fails: %s", bad)
	}
}
