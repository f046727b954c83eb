//go:build e2e

package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
)

// The bare binary, no arguments, no database server: SQLite in the working directory.
func TestE2EDefaultsServeAccounts(t *testing.T) {
	gm := binary(t, "gophermart")
	dir := t.TempDir()
	addr := freeAddr(t)
	p := start(t, gm, dir, map[string]string{"RUN_ADDRESS": addr})
	p.WaitHTTP("/readyz")
	api := newAPI(t, addr)

	tok := api.register("alice", "correct horse")
	r := api.do(http.MethodPost, "/api/user/login", "", map[string]string{"login": "ALICE", "password": "correct horse"})
	require.Equal(t, http.StatusOK, r.status)
	assert.NotEmpty(t, bearer(t, r))
	assert.Contains(t, r.header.Get("Set-Cookie"), "HttpOnly")

	tests := []struct {
		name       string
		path       string
		body       any
		wantStatus int
	}{
		{name: "taken ignoring case", path: "/api/user/register", body: map[string]string{"login": "Alice", "password": "another one"}, wantStatus: 409},
		{name: "short password", path: "/api/user/register", body: map[string]string{"login": "bob", "password": "short"}, wantStatus: 400},
		{name: "unicode login", path: "/api/user/register", body: map[string]string{"login": "алиса", "password": "long enough"}, wantStatus: 400},
		{name: "control character", path: "/api/user/register", body: map[string]string{"login": "a\u0007b", "password": "long enough"}, wantStatus: 400},
		{name: "malformed JSON", path: "/api/user/register", body: `{"login":`, wantStatus: 400},
		{name: "unknown field", path: "/api/user/register", body: `{"login":"x","password":"yyyyyyyy","admin":true}`, wantStatus: 400},
		{name: "wrong type", path: "/api/user/register", body: `{"login":1,"password":"yyyyyyyy"}`, wantStatus: 400},
		{name: "wrong password", path: "/api/user/login", body: map[string]string{"login": "alice", "password": "wrong horse"}, wantStatus: 401},
		{name: "unknown user", path: "/api/user/login", body: map[string]string{"login": "nobody", "password": "whatever1"}, wantStatus: 401},
		{name: "login bad body", path: "/api/user/login", body: `[]`, wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := api.do(http.MethodPost, tt.path, "", tt.body)
			require.Equal(t, tt.wantStatus, r.status, string(r.body))
			assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
		})
	}

	for _, tok := range []string{"", "garbage", "eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiJ4In0."} {
		r := api.do(http.MethodGet, "/api/user/balance", tok, nil)
		assert.Equal(t, http.StatusUnauthorized, r.status, "token %q", tok)
	}
	r = api.do(http.MethodGet, "/api/user/balance", tok, nil)
	assert.Equal(t, http.StatusOK, r.status, string(r.body))

	assert.Equal(t, 0, p.Stop(syscall.SIGTERM), "SIGTERM exits 0")
	assert.False(t, containsLine(p.Output(), "correct horse"), "passwords never reach the log")
}

// SIGTERM stops accepting connections but lets the requests already being received finish. Each
// request sends its headers with "Expect: 100-continue" and waits for the server's "100 Continue",
// so the server is inside the request when the signal comes; the bodies go out only once new
// connections are refused (the shutdown is under way). Every request is answered, and the exit code
// is 0. No sleep decides anything: the read timeout, which would cut a request waiting for its body,
// is an hour, and the 20 s stop deadline is far more than the few milliseconds the bodies take.
func TestE2EGracefulShutdownFinishesInFlight(t *testing.T) {
	gm := binary(t, "gophermart")
	addr := freeAddr(t)
	p := start(t, gm, t.TempDir(), map[string]string{"RUN_ADDRESS": addr, "GOPHERMART_READ_TIMEOUT": "1h"})
	p.WaitHTTP("/readyz")
	tok := newAPI(t, addr).register("alice", "password1")

	const n = 4
	type inFlight struct {
		conn   net.Conn
		r      *bufio.Reader
		number string
	}
	reqs := make([]inFlight, n)
	for i := range reqs {
		conn, err := (&net.Dialer{Timeout: 10 * time.Second}).DialContext(context.Background(), "tcp", addr)
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close() })
		require.NoError(t, conn.SetDeadline(time.Now().Add(time.Minute)))
		number := orderNumber(77, i)
		_, err = fmt.Fprintf(conn, "POST /api/user/orders HTTP/1.1\r\nHost: %s\r\nAuthorization: Bearer %s\r\n"+
			"Content-Type: text/plain\r\nContent-Length: %d\r\nExpect: 100-continue\r\n\r\n", addr, tok, len(number))
		require.NoError(t, err)
		r := bufio.NewReader(conn)
		resp, err := http.ReadResponse(r, nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusContinue, resp.StatusCode, "the server reads the request")
		reqs[i] = inFlight{conn: conn, r: r, number: number}
	}

	p.Signal(syscall.SIGTERM)
	waitFor(t, time.Minute, "new connections to be refused", func() bool {
		c, err := (&net.Dialer{Timeout: time.Second}).DialContext(context.Background(), "tcp", addr)
		if err != nil {
			return true
		}
		_ = c.Close()
		return false
	})
	for i, req := range reqs {
		_, err := io.WriteString(req.conn, req.number)
		require.NoError(t, err)
		resp, err := http.ReadResponse(req.r, nil)
		require.NoError(t, err, "request %d", i)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusAccepted, resp.StatusCode, "request %d: %s", i, body)
	}
	assert.Equal(t, 0, p.Wait(time.Minute), "exit code")
	assert.Contains(t, p.Output(), `"msg":"shutting down"`)
	assert.Contains(t, p.Output(), `"msg":"stopped"`)
}

func TestE2EInvalidConfigExitsTwo(t *testing.T) {
	gm := binary(t, "gophermart")
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{name: "bad address", env: map[string]string{"RUN_ADDRESS": "nope"}, want: "RUN_ADDRESS"},
		{name: "bad database scheme", env: map[string]string{"DATABASE_URI": "mysql://x"}, want: "DATABASE_URI"},
		{name: "bad accrual url", args: []string{"-r", "ftp://x"}, want: "ACCRUAL_SYSTEM_ADDRESS"},
		{name: "built-in accrual on all interfaces", env: map[string]string{"GOPHERMART_BUILTIN_ACCRUAL_ADDRESS": "0.0.0.0:8081"}, want: "GOPHERMART_BUILTIN_ACCRUAL_ADDRESS"},
		{name: "built-in accrual on a public address", args: []string{"--builtin-accrual-address", "203.0.113.7:8081"}, want: "loopback"},
		{name: "unknown flag", args: []string{"--frobnicate"}, want: "unknown flag"},
		{name: "unknown migrate action", args: []string{"migrate", "sideways"}, want: "sideways"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, out := run(t, gm, t.TempDir(), tt.env, tt.args...)
			assert.Equal(t, 2, code, out)
			assert.Contains(t, out, tt.want)
			assert.Equal(t, 1, strings.Count(strings.TrimSpace(out), "\n")+1, "one line: %q", out)
		})
	}
}

// pendingRow matches a row of `migrate status` for a migration not applied (a file name may say
// "pending" too: 00004_orders_user_pending.sql).
var pendingRow = regexp.MustCompile(`(?m)^\d+\s+pending\s`)

func TestE2EMigrateCommand(t *testing.T) {
	gm := binary(t, "gophermart")
	for _, engine := range dbtest.EngineNames(t) {
		t.Run(engine, func(t *testing.T) {
			env := map[string]string{"DATABASE_URI": dbtest.URI(t, engine)}
			dir := t.TempDir()
			code, out := run(t, gm, dir, env, "migrate", "status")
			if engine == "sqlite" { // no database file yet: status creates none and says what to do
				require.Equal(t, 3, code, out)
				assert.Contains(t, out, "does not exist; run `gophermart migrate up`")
				assert.NoFileExists(t, strings.TrimPrefix(env["DATABASE_URI"], "sqlite://"))
			} else { // an empty database: every migration pending, and no table created
				require.Equal(t, 0, code, out)
				assert.Regexp(t, pendingRow, out)
			}
			code, out = run(t, gm, dir, env, "migrate", "up")
			require.Equal(t, 0, code, out)
			assert.Contains(t, out, "applied")
			code, out = run(t, gm, dir, env, "migrate", "status")
			require.Equal(t, 0, code, out)
			assert.NotRegexp(t, pendingRow, out)
			code, out = run(t, gm, dir, env, "migrate", "down")
			require.Equal(t, 0, code, out)
			code, out = run(t, gm, dir, env, "migrate", "status")
			require.Equal(t, 0, code, out)
			assert.Regexp(t, pendingRow, out)
		})
	}
}

// Two instances started at once on one fresh PostgreSQL database both come up (the migration lock
// serialises them), share the generated JWT secret, and each accepts the other's tokens.
func TestE2ETwoInstancesOnePostgres(t *testing.T) {
	gm := binary(t, "gophermart")
	if !hasEngine(t, "postgres") {
		t.Skip("PostgreSQL not configured (GOPHERMART_TEST_DSN)")
	}
	uri := dbtest.URI(t, "postgres")
	a, b := freeAddr(t), freeAddr(t)
	pa := start(t, gm, t.TempDir(), map[string]string{"RUN_ADDRESS": a, "DATABASE_URI": uri})
	pb := start(t, gm, t.TempDir(), map[string]string{"RUN_ADDRESS": b, "DATABASE_URI": uri})
	pa.WaitHTTP("/readyz")
	pb.WaitHTTP("/readyz")

	tok := newAPI(t, a).register("shared", "password1")
	r := newAPI(t, b).do(http.MethodGet, "/api/user/balance", tok, nil)
	assert.Equal(t, http.StatusOK, r.status, "instance B accepts A's token: %s", r.body)
	r = newAPI(t, b).do(http.MethodPost, "/api/user/register", "", map[string]string{"login": "SHARED", "password": "password1"})
	assert.Equal(t, http.StatusConflict, r.status)
	assert.Equal(t, 0, pa.Stop(syscall.SIGINT))
	assert.Equal(t, 0, pb.Stop(syscall.SIGTERM))
}

func hasEngine(t *testing.T, name string) bool {
	t.Helper()
	for _, e := range dbtest.EngineNames(t) {
		if e == name {
			return true
		}
	}
	return false
}
