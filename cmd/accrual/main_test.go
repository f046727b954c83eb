package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/proctest"
)

// binary builds cmd/accrual once per test run and returns its path.
func binary(t *testing.T) string {
	t.Helper()
	return proctest.Build(t, "accrual", false)
}

func TestMain(m *testing.M) {
	code := m.Run()
	proctest.Cleanup()
	os.Exit(code)
}

// proc is the accrual binary running with env only.
type proc struct {
	*proctest.Proc
	base string
}

// start runs the binary with no arguments and only env (and a free RUN_ADDRESS), and waits until it
// accepts connections.
func start(t *testing.T, env map[string]string) *proc {
	t.Helper()
	addr := proctest.FreeAddr(t)
	full := map[string]string{"RUN_ADDRESS": addr}
	for k, v := range env {
		full[k] = v
	}
	p := proctest.Start(t, binary(t), t.TempDir(), full)
	p.WaitListening()
	return &proc{Proc: p, base: "http://" + addr}
}

// stop sends SIGINT and returns the exit code.
func (p *proc) stop(t *testing.T) int {
	t.Helper()
	return p.Stop(syscall.SIGINT)
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (p *proc) do(t *testing.T, method, path, body string) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, p.base+path, strings.NewReader(body))
	require.NoError(t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return answer{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// final polls an order until it is final and returns the last body.
func (p *proc) final(t *testing.T, n string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		a := p.do(t, http.MethodGet, "/api/orders/"+n, "")
		require.Equal(t, http.StatusOK, a.status, a.body)
		if strings.Contains(a.body, `"PROCESSED"`) || strings.Contains(a.body, `"INVALID"`) {
			return a.body
		}
		require.True(t, time.Now().Before(deadline), "order %s not final after 15s: %s", n, a.body)
		time.Sleep(20 * time.Millisecond)
	}
}

// TestBinary starts the built binary with env only on every storage backend and drives the SPEC's
// examples through it, then stops it with SIGINT.
func TestBinary(t *testing.T) {
	uris := map[string]func(t *testing.T) string{"memory (default)": func(*testing.T) string { return "" }}
	for _, engine := range dbtest.EngineNames(t) {
		uris[engine] = func(t *testing.T) string { t.Helper(); return dbtest.URI(t, engine) }
	}
	for name, uri := range uris {
		t.Run(name, func(t *testing.T) {
			env := map[string]string{}
			if u := uri(t); u != "" {
				env["DATABASE_URI"] = u
			}
			p := start(t, env)
			for _, m := range []string{
				`{"match":"Bork","reward":5,"reward_type":"%"}`,
				`{"match":"Pringles","reward":10,"reward_type":"%"}`,
				`{"match":"Coca-Cola","reward":12.5,"reward_type":"pt"}`,
			} {
				a := p.do(t, http.MethodPost, "/api/goods", m)
				require.Equal(t, http.StatusOK, a.status, a.body)
			}
			assert.Equal(t, http.StatusConflict, p.do(t, http.MethodPost, "/api/goods", `{"match":"Bork","reward":1,"reward_type":"pt"}`).status)
			assert.Equal(t, http.StatusBadRequest, p.do(t, http.MethodPost, "/api/goods", `{"match":"X","reward":0,"reward_type":"pt"}`).status)

			orders := map[string]string{
				"12345678903": `[{"description":"Чайник Bork","price":14599.50}]`,
				"2377225624":  `[{"description":"Чипсы Pringles бекон","price":147.5},{"description":"Напиток Coca-Cola Zero 0.5л","price":55}]`,
				"79927398713": `[{"description":"Стул IKEA","price":1000}]`,
			}
			for n, goods := range orders {
				a := p.do(t, http.MethodPost, "/api/orders", `{"order":"`+n+`","goods":`+goods+`}`)
				require.Equal(t, http.StatusAccepted, a.status, a.body)
			}
			assert.Equal(t, http.StatusConflict, p.do(t, http.MethodPost, "/api/orders", `{"order":"12345678903","goods":[]}`).status)
			assert.Equal(t, http.StatusBadRequest, p.do(t, http.MethodPost, "/api/orders", `{"order":"12345678901","goods":[]}`).status)
			assert.Equal(t, http.StatusNoContent, p.do(t, http.MethodGet, "/api/orders/4561261212345467", "").status)

			assert.JSONEq(t, `{"order":"12345678903","status":"PROCESSED","accrual":729.98}`, p.final(t, "12345678903"))
			assert.JSONEq(t, `{"order":"2377225624","status":"PROCESSED","accrual":27.25}`, p.final(t, "2377225624"))
			assert.JSONEq(t, `{"order":"79927398713","status":"PROCESSED"}`, p.final(t, "79927398713"))

			assert.Equal(t, 0, p.stop(t), "SIGINT: graceful stop, exit 0")
		})
	}
}

// TestBinaryKnobs checks the rate limit and the request log as a client sees them.
func TestBinaryKnobs(t *testing.T) {
	logPath := filepath.Join(t.TempDir(), "requests.jsonl")
	p := start(t, map[string]string{
		"ACCRUAL_RATE_LIMIT":  "3",
		"ACCRUAL_RETRY_AFTER": "9",
		"ACCRUAL_REQUEST_LOG": logPath,
	})
	var statuses []int
	for range 5 {
		a := p.do(t, http.MethodGet, "/api/orders/12345678903", "")
		statuses = append(statuses, a.status)
		if a.status == http.StatusTooManyRequests {
			assert.Equal(t, "9", a.header.Get("Retry-After"))
			assert.Equal(t, "No more than 3 requests per minute allowed", a.body)
			assert.True(t, strings.HasPrefix(a.header.Get("Content-Type"), "text/plain"), a.header.Get("Content-Type"))
		}
	}
	assert.Equal(t, []int{204, 204, 204, 429, 429}, statuses)
	require.Equal(t, 0, p.stop(t))

	f, err := os.Open(logPath)
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	var logged []int
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec struct {
			Order  string    `json:"order"`
			Start  time.Time `json:"start"`
			End    time.Time `json:"end"`
			Status int       `json:"status"`
		}
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rec), sc.Text())
		assert.Equal(t, "12345678903", rec.Order)
		assert.False(t, rec.End.Before(rec.Start))
		logged = append(logged, rec.Status)
	}
	require.NoError(t, sc.Err())
	assert.Equal(t, statuses, logged)
}

// TestBinaryRestart stops the binary before it processed an order (its delay is an hour); the next
// run on the same database, with a short delay, finishes it.
func TestBinaryRestart(t *testing.T) {
	uri := dbtest.URI(t, "sqlite")
	p := start(t, map[string]string{"DATABASE_URI": uri, "ACCRUAL_PROCESSING_DELAY": "1h"})
	require.Equal(t, http.StatusOK, p.do(t, http.MethodPost, "/api/goods", `{"match":"Bork","reward":5,"reward_type":"%"}`).status)
	require.Equal(t, http.StatusAccepted, p.do(t, http.MethodPost, "/api/orders",
		`{"order":"12345678903","goods":[{"description":"Чайник Bork","price":14599.50}]}`).status)
	assert.JSONEq(t, `{"order":"12345678903","status":"REGISTERED"}`, p.do(t, http.MethodGet, "/api/orders/12345678903", "").body)
	require.Equal(t, 0, p.stop(t))

	p = start(t, map[string]string{"DATABASE_URI": uri, "ACCRUAL_PROCESSING_DELAY": "10ms"})
	assert.JSONEq(t, `{"order":"12345678903","status":"PROCESSED","accrual":729.98}`, p.final(t, "12345678903"))
	require.Equal(t, 0, p.stop(t))
}

// TestBinaryInvalidConfig: a bad value is one line naming the setting, and exit code 2.
func TestBinaryInvalidConfig(t *testing.T) {
	code, out := proctest.Run(t, binary(t), t.TempDir(), map[string]string{"ACCRUAL_FAIL_RATE": "2", "RUN_ADDRESS": "127.0.0.1:0"})
	assert.Equal(t, 2, code)
	assert.Equal(t, "accrual: invalid configuration: ACCRUAL_FAIL_RATE (--fail-rate): must be between 0 and 1\n", out)
}

// Every start-up failure is one line on stderr naming the cause, and the setting at fault where
// one is, with the exit code README documents (the same as gophermart's).
func TestBinaryFailuresAreOneLineWithTheirExitCode(t *testing.T) {
	taken, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer func() { _ = taken.Close() }()
	tests := []struct {
		name     string
		env      map[string]string
		args     []string
		wantCode int
		want     string // the start of the one line
	}{
		{
			name: "port in use", env: map[string]string{"RUN_ADDRESS": taken.Addr().String()}, wantCode: 4,
			want: "accrual: RUN_ADDRESS (-a): listen tcp " + taken.Addr().String() + ": bind: address already in use",
		},
		{
			name: "no database server", env: map[string]string{"DATABASE_URI": "postgres://acc@127.0.0.1:1/acc?sslmode=disable"}, wantCode: 3,
			want: "accrual: DATABASE_URI (-d): database unreachable: failed to connect to `user=acc database=acc`: 127.0.0.1:1",
		},
		{
			name: "database URI the driver refuses", env: map[string]string{"DATABASE_URI": "postgres://u@h:port/x"}, wantCode: 2,
			want: "accrual: invalid configuration: DATABASE_URI (-d): unsupported database URI",
		},
		{
			name: "invalid value", env: map[string]string{"ACCRUAL_RATE_LIMIT": "-1"}, wantCode: 2,
			want: "accrual: invalid configuration: ACCRUAL_RATE_LIMIT (--rate-limit): must not be negative",
		},
		{
			name: "unknown flag", args: []string{"--rate-limt=5"}, wantCode: 2,
			want: "accrual: usage: unknown flag: --rate-limt (see --help)",
		},
		{
			name: "stray argument", args: []string{"serve"}, wantCode: 2,
			want: `accrual: usage: unexpected argument "serve" (see --help)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{"RUN_ADDRESS": "127.0.0.1:0", "ACCRUAL_LOG_LEVEL": "error"}
			for k, v := range tt.env {
				env[k] = v
			}
			code, out := proctest.Run(t, binary(t), t.TempDir(), env, tt.args...)
			assert.Equal(t, tt.wantCode, code, out)
			require.True(t, strings.HasSuffix(out, "\n"), "output %q", out)
			line := strings.TrimSuffix(out, "\n")
			assert.NotContains(t, line, "\n", "one line: %q", out)
			assert.True(t, strings.HasPrefix(line, tt.want), "got %q, want it to start with %q", line, tt.want)
		})
	}
}
