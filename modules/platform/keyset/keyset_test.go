package keyset_test

import (
	"encoding/base64"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/keyset"
)

func TestCursorRoundTrip(t *testing.T) {
	at := time.Date(2025, 12, 31, 23, 59, 59, 999999000, time.UTC)
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
		{give: "+5", wantErr: true},
		{give: "05", wantErr: true},
		{give: " 5", wantErr: true},
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

// Positions outside what the service can have written are refused: before 2000, more than a day
// ahead, or in a non-canonical form.
func TestCursorBounds(t *testing.T) {
	enc := func(raw string) string { return base64.RawURLEncoding.EncodeToString([]byte(raw)) }
	now := time.Now()
	for _, ok := range []time.Time{now, keyset.MinCursorTime, now.Add(keyset.CursorSlack - time.Hour), time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)} {
		c, err := keyset.Decode(keyset.Cursor{At: ok, Key: "18"}.Encode())
		require.NoError(t, err, ok)
		assert.Equal(t, ok.UnixMicro(), c.At.UnixMicro())
	}
	year10000 := time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
	for name, bad := range map[string]string{
		"year 10000":           keyset.Cursor{At: year10000, Key: "18"}.Encode(),
		"two days ahead":       keyset.Cursor{At: now.Add(2 * keyset.CursorSlack), Key: "18"}.Encode(),
		"1999":                 keyset.Cursor{At: keyset.MinCursorTime.Add(-time.Microsecond), Key: "18"}.Encode(),
		"epoch":                enc("0:18"),
		"max int64":            enc("9223372036854775807:18"),
		"beyond int64":         enc("9223372036854775808:18"),
		"plus sign":            enc("+1767225600000000:18"),
		"leading zero":         enc("01767225600000000:18"),
		"padded":               keyset.Cursor{At: now, Key: "18"}.Encode() + "==",
		"standard alphabet":    base64.StdEncoding.EncodeToString([]byte("1767225600000000:18")),
		"second colon":         enc("1767225600000000:18:1"),
		"key with a space":     enc("1767225600000000: 18"),
		"key too long":         enc("1767225600000000:" + strings.Repeat("1", 257)),
		"time with a fraction": enc("1767225600000000.5:18"),
	} {
		_, err := keyset.Decode(bad)
		require.ErrorIs(t, err, keyset.ErrBadCursor, name)
	}
}

func TestCut(t *testing.T) {
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).Unix()
	pos := func(n int) keyset.Cursor { return keyset.Cursor{At: time.Unix(base+int64(n), 0), Key: "1"} }
	rows, next := keyset.Cut([]int{5, 4, 3}, 3, pos)
	assert.Equal(t, []int{5, 4, 3}, rows)
	assert.Empty(t, next, "no row beyond the limit: last page")

	rows, next = keyset.Cut([]int{5, 4, 3, 2}, 3, pos)
	assert.Equal(t, []int{5, 4, 3}, rows)
	c, err := keyset.Decode(next)
	require.NoError(t, err)
	assert.Equal(t, base+3, c.At.Unix(), "the next page starts after the last row shown")
}

// FuzzDecode: whatever the input, Decode refuses it with ErrBadCursor or returns a position the
// service could have written, whose encoding is exactly the input.
func FuzzDecode(f *testing.F) {
	now := time.Now()
	for _, s := range []string{
		"", keyset.Cursor{At: now, Key: "12345678903"}.Encode(),
		keyset.Cursor{At: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC), Key: "18"}.Encode(),
		keyset.Cursor{At: time.Unix(0, 0), Key: "18"}.Encode(),
		base64.RawURLEncoding.EncodeToString([]byte("+1767225600000000:18")),
		base64.RawURLEncoding.EncodeToString([]byte("1767225600000000:")),
		base64.RawURLEncoding.EncodeToString([]byte("-1:18")),
		"@@", "MTI", "=", strings.Repeat("A", 513),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := keyset.Decode(s)
		if err != nil {
			require.ErrorIs(t, err, keyset.ErrBadCursor)
			require.Nil(t, c)
			return
		}
		if s == "" {
			require.Nil(t, c)
			return
		}
		require.NotNil(t, c)
		require.Equal(t, s, c.Encode())
		require.False(t, c.At.Before(keyset.MinCursorTime))
		require.False(t, c.At.After(time.Now().Add(keyset.CursorSlack)))
		require.Less(t, c.At.Year(), 10000)
		require.NotEmpty(t, c.Key)
		require.LessOrEqual(t, len(c.Key), 256)
		for _, r := range c.Key {
			require.True(t, r >= '0' && r <= '9', c.Key)
		}
	})
}
