package balance

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/points"
	"github.com/gophermart/gophermart/modules/platform/web/webtest"
)

// luhn appends the Luhn check digit to base, a string of digits.
func luhn(base string) string { return string(ordernum.WithCheckDigit(base)) }

// num returns the i-th valid test order number of a series.
func num(series, i int) string { return luhn(strconv.Itoa(series*1_000_000 + i)) }

type env struct {
	db  *db.DB
	svc *Service
	app *fiber.App
}

func newEnv(tb testing.TB, d *db.DB) *env {
	tb.Helper()
	svc := NewService(NewStore(d), d, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return &env{db: d, svc: svc, app: webtest.New(NewRoutes(svc))}
}

// setup opens a fresh migrated database with open and returns the balance module on it, with users
// alice and bob.
func setup(tb testing.TB, open dbtest.Opener) *env {
	tb.Helper()
	e := newEnv(tb, open(tb))
	dbtest.CreateUser(tb, e.db, "alice")
	dbtest.CreateUser(tb, e.db, "bob")
	return e
}

// call sends one request through the real server; token "" sends no credentials. Extra headers come
// as name, value pairs. It returns an error instead of failing, so goroutines may use it.
func (e *env) call(method, path, token, body string, headers ...string) (int, http.Header, string, error) {
	req := httptest.NewRequestWithContext(context.Background(), method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := e.app.Test(req, -1)
	if err != nil {
		return 0, nil, "", err
	}
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b), err
}

func (e *env) mustCall(tb testing.TB, method, path, token, body string, headers ...string) (int, http.Header, string) {
	tb.Helper()
	code, hdr, b, err := e.call(method, path, token, body, headers...)
	require.NoError(tb, err)
	return code, hdr, b
}

// withdraw posts a withdrawal; sum is the JSON text of the sum.
func (e *env) withdraw(userID, order, sum string) (int, error) {
	code, _, _, err := e.call(http.MethodPost, "/api/user/balance/withdraw", webtest.Token(userID),
		`{"order":"`+order+`","sum":`+sum+`}`)
	return code, err
}

func (e *env) credit(tb testing.TB, userID, order string, amount points.Amount) {
	tb.Helper()
	require.NoError(tb, e.svc.Credit(context.Background(), userID, ordernum.Number(order), amount))
}

func (e *env) balance(tb testing.TB, userID string) Balance {
	tb.Helper()
	b, err := e.svc.Balance(context.Background(), userID)
	require.NoError(tb, err)
	return b
}

// balanceJSON is the raw body of GET /api/user/balance.
func (e *env) balanceJSON(tb testing.TB, userID string) string {
	tb.Helper()
	code, _, body := e.mustCall(tb, http.MethodGet, "/api/user/balance", webtest.Token(userID), "")
	require.Equal(tb, http.StatusOK, code, body)
	return body
}

func (e *env) withdrawalCount(tb testing.TB) int64 {
	tb.Helper()
	var n int64
	require.NoError(tb, e.db.Conn(context.Background()).Model(&withdrawalRow{}).Count(&n).Error)
	return n
}

// healthy asserts that the ledger invariant holds over the whole database.
func (e *env) healthy(tb testing.TB) {
	tb.Helper()
	v, err := e.svc.CheckLedger(context.Background())
	require.NoError(tb, err)
	assert.Empty(tb, v, "ledger violations")
}

type item struct {
	Order       string          `json:"order"`
	Sum         json.RawMessage `json:"sum"`
	ProcessedAt string          `json:"processed_at"`
}
