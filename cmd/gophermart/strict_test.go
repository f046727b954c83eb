package main

import (
	"bufio"
	"context"
	"encoding/base64"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/docs/openapi/openapitest"
	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/keyset"
)

const strictSecret = "strict-test-secret-strict-test-secret"

// strictCall is one request to the app; body "" sends none.
func strictCall(t *testing.T, app *fiber.App, method, path, token, body string) (int, string) {
	t.Helper()
	req := httptest.NewRequestWithContext(context.Background(), method, path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := app.Test(req, -1)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// signClaims signs a hand-written claims object with the service's secret, as only the service
// could.
func signClaims(t *testing.T, payload string) string {
	t.Helper()
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(payload))
	sig, err := jwt.SigningMethodHS256.Sign(head, []byte(strictSecret))
	require.NoError(t, err)
	return head + "." + enc.EncodeToString(sig)
}

// rawStatus sends raw bytes to addr and returns the status line of the answer.
func rawStatus(t *testing.T, addr, req string) string {
	t.Helper()
	conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(context.Background(), "tcp", addr)
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = io.WriteString(conn, req)
	require.NoError(t, err)
	line, err := bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err)
	return strings.TrimSpace(line)
}

// TestStrictInput runs the bad-input and forged-token matrix against the whole service, on each
// engine: every request is refused with its 4xx and changes nothing.
func TestStrictInput(t *testing.T) {
	for _, engine := range dbtest.EngineNames(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			strictMatrix(t, engine)
		})
	}
}

func strictMatrix(t *testing.T, engine string) {
	t.Helper()
	app := specServers(t, engine, "--jwt-secret="+strictSecret, "--login-max-failures=100")
	gm := app.Server.App()
	status := func(method, path, token, body string) int {
		t.Helper()
		code, _ := strictCall(t, gm, method, path, token, body)
		return code
	}

	// Alice has a withdrawal, so that a page cursor means something.
	code, _ := strictCall(t, gm, http.MethodPost, "/api/user/register", "", `{"login":"alice","password":"alice password"}`)
	require.Equal(t, http.StatusOK, code)
	req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, "/api/user/login", strings.NewReader(`{"login":"alice","password":"alice password"}`))
	resp, err := gm.Test(req, -1)
	require.NoError(t, err)
	_ = resp.Body.Close()
	alice := strings.TrimPrefix(resp.Header.Get("Authorization"), "Bearer ")
	require.NotEmpty(t, alice)

	order := specLuhn("424242")
	bad := []struct {
		name         string
		method, path string
		body         string
		want         int
	}{
		{"register, login twice", http.MethodPost, "/api/user/register", `{"login":"mallory","login":"bob","password":"password1"}`, http.StatusBadRequest},
		{"register, password twice", http.MethodPost, "/api/user/register", `{"login":"mallory","password":"password1","password":"password2"}`, http.StatusBadRequest},
		{"register, login in two cases", http.MethodPost, "/api/user/register", `{"login":"mallory","LOGIN":"bob","password":"password1"}`, http.StatusBadRequest},
		{"register, trailing object", http.MethodPost, "/api/user/register", `{"login":"mallory","password":"password1"}{}`, http.StatusBadRequest},
		{"login, login twice", http.MethodPost, "/api/user/login", `{"login":"nobody","login":"alice","password":"alice password"}`, http.StatusBadRequest},
		{"login, password twice", http.MethodPost, "/api/user/login", `{"login":"alice","password":"wrong","password":"alice password"}`, http.StatusBadRequest},
		{"withdraw, sum twice", http.MethodPost, "/api/user/balance/withdraw", `{"order":"` + order + `","sum":1,"sum":999999}`, http.StatusBadRequest},
		{"withdraw, order twice", http.MethodPost, "/api/user/balance/withdraw", `{"order":"` + order + `","order":"` + specLuhn("434343") + `","sum":1}`, http.StatusBadRequest},
		{"upload zero", http.MethodPost, "/api/user/orders", "0", http.StatusUnprocessableEntity},
		{"upload zeros", http.MethodPost, "/api/user/orders", " 0000000000 ", http.StatusUnprocessableEntity},
		{"withdraw to order zero", http.MethodPost, "/api/user/balance/withdraw", `{"order":"000","sum":1}`, http.StatusUnprocessableEntity},
	}
	for _, tt := range bad {
		assert.Equal(t, tt.want, status(tt.method, tt.path, alice, tt.body), tt.name)
	}
	// Cursors the service could not have written: the same 400 on both engines.
	for name, at := range map[string]time.Time{
		"year 10000":     time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		"two days ahead": time.Now().Add(48 * time.Hour),
		"1999":           time.Date(1999, 12, 31, 0, 0, 0, 0, time.UTC),
	} {
		cur := keyset.Cursor{At: at, Key: order}.Encode()
		for _, path := range []string{"/api/user/orders/page", "/api/user/withdrawals/page"} {
			assert.Equal(t, http.StatusBadRequest, status(http.MethodGet, path+"?cursor="+cur, alice, ""), "%s %s", path, name)
		}
	}
	cur := keyset.Cursor{At: time.Now(), Key: order}.Encode()
	assert.Equal(t, http.StatusOK, status(http.MethodGet, "/api/user/withdrawals/page?cursor="+cur, alice, ""), "a cursor of now")

	// The built-in accrual service reads its JSON just as strictly.
	acc := openapitest.Over(app.Accrual.Addr())
	for name, tt := range map[string]struct{ path, body string }{
		"mechanic, reward twice": {"/api/goods", `{"match":"Bork","reward":1,"reward":1000000,"reward_type":"pt"}`},
		"mechanic, match twice":  {"/api/goods", `{"match":"Bork","match":"","reward":1,"reward_type":"pt"}`},
		"purchase, order twice":  {"/api/orders", `{"order":"` + order + `","order":"` + specLuhn("434343") + `","goods":[]}`},
		"purchase, price twice":  {"/api/orders", `{"order":"` + order + `","goods":[{"description":"Bork","price":1,"price":100000}]}`},
		"purchase of zeros":      {"/api/orders", `{"order":"00","goods":[]}`},
	} {
		req := httptest.NewRequestWithContext(context.Background(), http.MethodPost, tt.path, strings.NewReader(tt.body))
		resp, err := acc.Test(req, -1)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusBadRequest, resp.StatusCode, name)
	}

	// Tokens that verify but must not authenticate: for a user who does not exist, and with claims of
	// the wrong type. Every authenticated endpoint answers 401 to each.
	now := time.Now().Unix()
	iat, exp := strconv.FormatInt(now, 10), strconv.FormatInt(now+3600, 10)
	aliceID := userIDOf(t, alice)
	forged := map[string]string{
		"unknown user": signClaims(t, `{"iss":"gophermart","sub":"`+uuid.Must(uuid.NewV7()).String()+`","iat":`+iat+`,"exp":`+exp+`}`),
		"exp a string": signClaims(t, `{"iss":"gophermart","sub":"`+aliceID+`","iat":`+iat+`,"exp":"`+exp+`"}`),
		"sub twice":    signClaims(t, `{"iss":"gophermart","sub":"`+uuid.Must(uuid.NewV7()).String()+`","sub":"`+aliceID+`","iat":`+iat+`,"exp":`+exp+`}`),
	}
	require.Equal(t, http.StatusOK, status(http.MethodGet, "/api/user/balance",
		signClaims(t, `{"iss":"gophermart","sub":"`+aliceID+`","iat":`+iat+`,"exp":`+exp+`}`), ""), "the hand-signed baseline is valid")
	endpoints := 0
	for _, r := range openapitest.Routes(t, gm) {
		method, path, _ := strings.Cut(r, " ")
		if !strings.HasPrefix(path, "/api/user/") || path == "/api/user/register" || path == "/api/user/login" {
			continue
		}
		endpoints++
		body := ""
		switch path {
		case "/api/user/orders":
			body = specLuhn("515151")
		case "/api/user/balance/withdraw":
			body = `{"order":"` + specLuhn("525252") + `","sum":1}`
		}
		for name, token := range forged {
			assert.Equal(t, http.StatusUnauthorized, status(method, path, token, body), "%s %s: %s", method, path, name)
		}
	}
	assert.GreaterOrEqual(t, endpoints, 7, "every authenticated endpoint was tried")

	// HTTP/1.1 without Host, on both listeners.
	for _, addr := range []string{app.Server.Addr(), app.Accrual.Addr()} {
		assert.Equal(t, "HTTP/1.1 400 Bad Request", rawStatus(t, addr, "GET /healthz HTTP/1.1\r\n\r\n"), addr)
		assert.Equal(t, "HTTP/1.1 200 OK", rawStatus(t, addr, "GET /healthz HTTP/1.1\r\nHost: shop\r\n\r\n"), addr)
	}

	// Nothing changed: no user was registered, no order or withdrawal stored, no point moved.
	code, body := strictCall(t, gm, http.MethodGet, "/api/user/balance", alice, "")
	require.Equal(t, http.StatusOK, code)
	assert.JSONEq(t, `{"current":0,"withdrawn":0}`, body)
	assert.Equal(t, http.StatusNoContent, status(http.MethodGet, "/api/user/orders", alice, ""))
	assert.Equal(t, http.StatusNoContent, status(http.MethodGet, "/api/user/withdrawals", alice, ""))
	for _, login := range []string{"mallory", "bob"} {
		assert.Equal(t, http.StatusUnauthorized, status(http.MethodPost, "/api/user/login", "", `{"login":"`+login+`","password":"password1"}`), login)
	}
}

// userIDOf is the subject of one of the service's tokens.
func userIDOf(t *testing.T, token string) string {
	t.Helper()
	var c jwt.RegisteredClaims
	_, _, err := jwt.NewParser().ParseUnverified(token, &c)
	require.NoError(t, err)
	return c.Subject
}

// Two instances on one database, as serve composes them, throttle a guesser together: failed logins
// alternating between them lock the (login, address) pair at both after the limit in all.
func TestLoginThrottleAcrossInstances(t *testing.T) {
	for _, engine := range dbtest.EngineNames(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			uri := dbtest.URI(t, engine)
			args := []string{"--database-uri=" + uri, "--login-max-failures=3", "--accrual-address=http://127.0.0.1:9"}
			a := specServers(t, engine, args...).Server.App()
			b := specServers(t, engine, args...).Server.App()
			code, _ := strictCall(t, a, http.MethodPost, "/api/user/register", "", `{"login":"victim","password":"the right one"}`)
			require.Equal(t, http.StatusOK, code)
			instances := []*fiber.App{a, b}
			wrong := `{"login":"victim","password":"a wrong guess"}`
			for i := range 3 {
				code, body := strictCall(t, instances[i%2], http.MethodPost, "/api/user/login", "", wrong)
				require.Equal(t, http.StatusUnauthorized, code, "guess %d: %s", i, body)
			}
			for i, gm := range instances {
				code, body := strictCall(t, gm, http.MethodPost, "/api/user/login", "", wrong)
				assert.Equal(t, http.StatusTooManyRequests, code, "instance %d: %s", i, body)
			}
		})
	}
}
