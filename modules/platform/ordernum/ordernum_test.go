package ordernum_test

import (
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
