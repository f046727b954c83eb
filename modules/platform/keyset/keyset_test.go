package keyset_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/keyset"
)

func TestCursorRoundTrip(t *testing.T) {
	at := time.Date(2030, 12, 31, 23, 59, 59, 999999000, time.UTC)
	c, err := keyset.Decode(keyset.Cursor{At: at, Key: "79927398713"}.Encode())
	require.NoError(t, err)
	require.NotNil(t, c)
	assert.True(t, at.Equal(c.At))
	assert.Equal(t, "79927398713", c.Key)

	c, err = keyset.Decode("")
	require.NoError(t, err)
	assert.Nil(t, c, "no cursor is the first page")

	for _, bad := range []string{"@@", "MTI", "OjEy", "LTE6MTI", "MTI6", "MTI6MWE", strings.Repeat("A", 600)} {
		_, err := keyset.Decode(bad)
		require.ErrorIs(t, err, keyset.ErrBadCursor, bad)
	}
}

func TestParseLimit(t *testing.T) {
	tests := []struct {
		give    string
		want    int
		wantErr bool
	}{
		{give: "", want: keyset.DefaultLimit},
		{give: "1", want: 1},
		{give: "500", want: keyset.MaxLimit},
		{give: "0", wantErr: true},
		{give: "501", wantErr: true},
		{give: "-1", wantErr: true},
		{give: "ten", wantErr: true},
		{give: "1e2", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.give, func(t *testing.T) {
			got, err := keyset.ParseLimit(tt.give)
			if tt.wantErr {
				require.ErrorIs(t, err, keyset.ErrBadLimit)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestCut(t *testing.T) {
	pos := func(n int) keyset.Cursor { return keyset.Cursor{At: time.Unix(int64(n), 0), Key: "1"} }
	rows, next := keyset.Cut([]int{5, 4, 3}, 3, pos)
	assert.Equal(t, []int{5, 4, 3}, rows)
	assert.Empty(t, next, "no row beyond the limit: last page")

	rows, next = keyset.Cut([]int{5, 4, 3, 2}, 3, pos)
	assert.Equal(t, []int{5, 4, 3}, rows)
	c, err := keyset.Decode(next)
	require.NoError(t, err)
	assert.Equal(t, int64(3), c.At.Unix(), "the next page starts after the last row shown")
}
