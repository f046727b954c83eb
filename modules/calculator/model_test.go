package calculator

import (
	"strings"
	"testing"

	"github.com/shopspring/decimal"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		give    string
		want    string
		wantErr string
	}{
		{give: "7000", want: "7000"},
		{give: "147.5", want: "147.5"},
		{give: "14599.50", want: "14599.5"},
		{give: "0", want: "0"},
		{give: "-0", want: "0"},
		{give: "1e3", want: "1000"},
		{give: "0.123456789012345678901234567890", want: "0.12345678901234567890123456789"},
		{give: "1.0000000000000000000000000000000000000000", want: "1"},
		{give: "1000000000000000", want: "1000000000000000"},
		{give: "0.0000000000000000000000000000001", wantErr: "at most 30 decimal places"},
		{give: "1e-1000000", wantErr: "must be a number"}, // decimal refuses such exponents itself
		{give: "1e-200", wantErr: "at most 30 decimal places"},
		{give: "1e1000000", wantErr: "must be a number"},
		{give: "1e21", wantErr: "at most"},
		{give: "1000000000000000.01", wantErr: "at most"},
		{give: "-1", wantErr: "must not be negative"},
		{give: "", wantErr: "must be a number"},
		{give: "abc", wantErr: "must be a number"},
		{give: "NaN", wantErr: "must be a number"},
		{give: "0x10", wantErr: "must be a number"},
		{give: strings.Repeat("1", 200), wantErr: "must be a number"},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := ParseDecimal("price", tt.give)
			if tt.wantErr != "" {
				var ie *InputError
				require.ErrorAs(t, err, &ie)
				assert.Equal(t, "price", ie.Field)
				assert.Contains(t, ie.Reason, tt.wantErr)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got.String())
		})
	}
}

func TestNewMechanic(t *testing.T) {
	tests := []struct {
		name      string
		match     string
		reward    string
		typ       string
		wantField string
	}{
		{name: "percent", match: "Bork", reward: "10", typ: "%"},
		{name: "points", match: "Bork", reward: "0.01", typ: "pt"},
		{name: "empty match", match: "", reward: "10", typ: "%", wantField: "match"},
		{name: "long match", match: strings.Repeat("x", MaxMatchLen+1), reward: "10", typ: "%", wantField: "match"},
		{name: "zero reward", match: "Bork", reward: "0", typ: "%", wantField: "reward"},
		{name: "negative reward", match: "Bork", reward: "-1", typ: "pt", wantField: "reward"},
		{name: "unknown type", match: "Bork", reward: "10", typ: "points", wantField: "reward_type"},
		{name: "empty type", match: "Bork", reward: "10", typ: "", wantField: "reward_type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m, err := NewMechanic(tt.match, decimal.RequireFromString(tt.reward), tt.typ)
			if tt.wantField != "" {
				var ie *InputError
				require.ErrorAs(t, err, &ie)
				assert.Equal(t, tt.wantField, ie.Field)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.match, m.Match)
			assert.Equal(t, tt.typ, m.RewardType)
		})
	}
}

func TestNewGood(t *testing.T) {
	_, err := NewGood("Bork", decimal.RequireFromString("0"))
	require.NoError(t, err)
	var ie *InputError
	_, err = NewGood("", decimal.RequireFromString("1"))
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, "description", ie.Field)
	_, err = NewGood("Bork", decimal.RequireFromString("-0.01"))
	require.ErrorAs(t, err, &ie)
	assert.Equal(t, "price", ie.Field)
}
