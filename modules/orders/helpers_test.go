package orders

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/web/webtest"
)

// luhn appends the Luhn check digit to base, a string of digits.
func luhn(base string) string { return string(ordernum.WithCheckDigit(base)) }

// num returns the i-th valid test order number of a series.
func num(series, i int) string { return luhn(strconv.Itoa(series*1_000_000 + i)) }

// recorder is a Notifier that remembers what it was told.
type recorder struct {
	mu  sync.Mutex
	got []ordernum.Number
}

func (r *recorder) Notify(n ordernum.Number) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.got = append(r.got, n)
}

func (r *recorder) notified() []ordernum.Number {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]ordernum.Number(nil), r.got...)
}

type env struct {
	db    *db.DB
	svc   *Service
	app   *fiber.App
	notes *recorder
}

func newEnv(tb testing.TB, d *db.DB, cfg Config) *env {
	tb.Helper()
	notes := &recorder{}
	svc := NewService(NewStore(d), notes, cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	return &env{db: d, svc: svc, app: webtest.New(NewRoutes(svc)), notes: notes}
}

// setup opens a fresh migrated database with open and returns the orders module on it, with the
// default configuration and users alice and bob.
func setup(tb testing.TB, open dbtest.Opener) *env {
	tb.Helper()
	return setupWith(tb, open, Config{})
}

// setupWith is setup with the given configuration.
func setupWith(tb testing.TB, open dbtest.Opener, cfg Config) *env {
	tb.Helper()
	e := newEnv(tb, open(tb), cfg)
	dbtest.CreateUser(tb, e.db, "alice")
	dbtest.CreateUser(tb, e.db, "bob")
	return e
}

// call sends one request through the real server; token "" sends no credentials. Extra headers come
// as name, value pairs.
func (e *env) call(tb testing.TB, method, path, token, body string, headers ...string) (int, http.Header, string) {
	tb.Helper()
	code, hdr, b, err := e.try(method, path, token, body, headers...)
	require.NoError(tb, err)
	return code, hdr, b
}

// try is call returning its error instead of failing, so goroutines may use it.
func (e *env) try(method, path, token, body string, headers ...string) (int, http.Header, string, error) {
	req := httptest.NewRequestWithContext(context.Background(), method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "text/plain")
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

func (e *env) upload(tb testing.TB, userID, number string) int {
	tb.Helper()
	code, _, _ := e.call(tb, http.MethodPost, "/api/user/orders", webtest.Token(userID), number)
	return code
}

// uploadAsync is upload for goroutines: it reports a transport failure as code 0.
func (e *env) uploadAsync(userID, number string) int {
	code, _, _, err := e.try(http.MethodPost, "/api/user/orders", webtest.Token(userID), number)
	if err != nil {
		return 0
	}
	return code
}

func (e *env) row(tb testing.TB, number string) orderRow {
	tb.Helper()
	var r orderRow
	require.NoError(tb, e.db.Conn(context.Background()).Where("number = ?", number).Take(&r).Error)
	return r
}

// pending counts the orders of userID that are NEW or PROCESSING.
func (e *env) pending(tb testing.TB, userID string) int64 {
	tb.Helper()
	var n int64
	require.NoError(tb, e.db.Conn(context.Background()).Model(&orderRow{}).
		Where("user_id = ? AND status IN ?", userID, []string{StatusNew, StatusProcessing}).Count(&n).Error)
	return n
}

// finish makes order n final (PROCESSED without an accrual), as the accrual worker would.
func (e *env) finish(tb testing.TB, n string) {
	tb.Helper()
	require.NoError(tb, e.db.Conn(context.Background()).Exec(
		"UPDATE gm_orders SET status = ?, next_poll_at = NULL WHERE number = ?", StatusProcessed, n).Error)
}

func (e *env) count(tb testing.TB) int64 {
	tb.Helper()
	var n int64
	require.NoError(tb, e.db.Conn(context.Background()).Model(&orderRow{}).Count(&n).Error)
	return n
}
