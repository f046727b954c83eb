package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/auth"
	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/points"
)

// The floor must print amounts byte for byte as gophermart does, or the list comparison fails.
func TestFloorAmountPrintsAsPoints(t *testing.T) {
	for _, v := range []int64{0, 1, 9, 10, 50, 99, 100, 101, 110, 2720, 2725, 72998, 500, 123456789, -5, -2720, -72998} {
		want, err := json.Marshal(points.Amount(v))
		require.NoError(t, err)
		got, err := json.Marshal(floorAmount(v))
		require.NoError(t, err)
		assert.Equal(t, string(want), string(got), "%d hundredths", v)
	}
}

func TestCompareBodies(t *testing.T) {
	tests := []struct {
		name       string
		wantStatus int
		gotStatus  int
		wantEnc    string
		gotEnc     string
		want, got  string
		wantNote   string
	}{
		{name: "identical", wantStatus: 200, gotStatus: 200, want: `{"a":1}`, got: `{"a":1}`, wantNote: "byte-identical"},
		{name: "same JSON", wantStatus: 200, gotStatus: 200, want: `{"a":1,"b":2}`, got: `{"b":2, "a":1}`, wantNote: "equal to gophermart's as JSON"},
		{name: "other JSON", wantStatus: 200, gotStatus: 200, want: `{"a":1}`, got: `{"a":2}`, wantNote: "ANSWER DIFFERS"},
		{name: "other status", wantStatus: 200, gotStatus: 204, wantNote: "ANSWER DIFFERS from gophermart's: status 204, gophermart 200"},
		{name: "other encoding", wantStatus: 200, gotStatus: 200, wantEnc: "gzip", want: `[]`, got: `[]`, wantNote: "Content-Encoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			note := compareBodies(tt.wantStatus, tt.gotStatus, tt.wantEnc, tt.gotEnc, []byte(tt.want), []byte(tt.got))
			assert.Contains(t, note, tt.wantNote)
			assert.Equal(t, strings.HasPrefix(tt.wantNote, "ANSWER DIFFERS") || tt.wantNote == "Content-Encoding",
				strings.HasPrefix(note, "ANSWER DIFFERS"))
		})
	}
}

// The floor's handlers on a migrated PostgreSQL database, with tokens issued by gophermart's own
// auth.Tokens: it must accept them and answer as the spec says.
func TestFloorHandlers(t *testing.T) {
	uri := dbtest.URI(t, "postgres") // skips without GOPHERMART_TEST_DSN
	d, err := db.Open(db.Config{URI: uri, MaxOpenConns: 2})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	dbtest.Migrated(t, d)
	alice, bob := uuid.NewString(), uuid.NewString()
	dbtest.CreateUser(t, d, alice)
	dbtest.CreateUser(t, d, bob)
	require.NoError(t, d.Conn(context.Background()).Exec(
		"INSERT INTO gm_balances (user_id, current, withdrawn) VALUES (?, 72998, 2720)", alice).Error)

	const secret = "0123456789abcdef0123456789abcdef"
	tokens, err := auth.NewTokens(auth.Config{JWTSecret: secret}, nil, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	bearer := func(userID string) string {
		tok, _, err := tokens.Issue(userID)
		require.NoError(t, err)
		return "Bearer " + tok
	}
	pool, err := pgxpool.New(context.Background(), uri)
	require.NoError(t, err)
	t.Cleanup(pool.Close)
	app := newFloorServer(pool, secret).app()
	call := func(method, path, auth, body string, gzip bool) (int, string, string) {
		t.Helper()
		req := httptest.NewRequestWithContext(context.Background(), method, path, strings.NewReader(body))
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		if gzip {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := app.Test(req, -1)
		require.NoError(t, err)
		defer func() { _ = resp.Body.Close() }()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, resp.Header.Get("Content-Encoding"), string(b)
	}

	status, _, body := call(http.MethodGet, "/api/user/balance", bearer(alice), "", false)
	assert.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"current":729.98,"withdrawn":27.2}`, body)
	status, _, body = call(http.MethodGet, "/api/user/balance", bearer(bob), "", false)
	assert.Equal(t, http.StatusOK, status)
	assert.JSONEq(t, `{"current":0,"withdrawn":0}`, body, "no balance row")
	status, _, _ = call(http.MethodGet, "/api/user/balance", "Bearer not.a.jwt", "", false)
	assert.Equal(t, http.StatusUnauthorized, status)
	other, err := auth.NewTokens(auth.Config{JWTSecret: strings.Repeat("x", 32)}, nil, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	forged, _, err := other.Issue(alice)
	require.NoError(t, err)
	status, _, _ = call(http.MethodGet, "/api/user/balance", "Bearer "+forged, "", false)
	assert.Equal(t, http.StatusUnauthorized, status, "another secret")

	status, _, _ = call(http.MethodGet, "/api/user/orders", bearer(alice), "", false)
	assert.Equal(t, http.StatusNoContent, status)
	for _, tt := range []struct {
		user, body string
		want       int
	}{
		{alice, "12345678903", http.StatusAccepted},
		{alice, " 79927398713\n", http.StatusAccepted},
		{alice, "12345678903", http.StatusOK},
		{bob, "12345678903", http.StatusConflict},
		{alice, "12345678904", http.StatusUnprocessableEntity},
		{alice, "", http.StatusBadRequest},
	} {
		status, _, _ := call(http.MethodPost, "/api/user/orders", bearer(tt.user), tt.body, false)
		assert.Equal(t, tt.want, status, "upload %q", tt.body)
	}
	require.NoError(t, d.Conn(context.Background()).Exec(
		"UPDATE gm_orders SET status = 'PROCESSED', accrual = 500 WHERE number = '12345678903'").Error)
	status, _, body = call(http.MethodGet, "/api/user/orders", bearer(alice), "", false)
	assert.Equal(t, http.StatusOK, status)
	var items []map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &items))
	require.Len(t, items, 2)
	assert.Equal(t, "79927398713", items[0]["number"], "newest first")
	assert.Equal(t, "NEW", items[0]["status"])
	assert.NotContains(t, items[0], "accrual")
	assert.InDelta(t, 5.0, items[1]["accrual"], 1e-9)
	_, enc, _ := call(http.MethodGet, "/api/user/orders", bearer(alice), "", true)
	assert.Empty(t, enc, "a body under 200 bytes is not compressed")

	var due int64
	require.NoError(t, d.SQL().QueryRowContext(context.Background(),
		"SELECT count(*) FROM gm_orders WHERE next_poll_at <= CURRENT_TIMESTAMP").Scan(&due))
	assert.Zero(t, due, "the floor's orders are never due for gophermart's worker")
}
