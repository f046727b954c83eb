package calculator

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/web/webtest"
)

// engines returns an opener per storage backend: a fresh SQLite file, a fresh PostgreSQL database
// (when GOPHERMART_TEST_DSN is set) and the standalone in-memory default, each with the acc_ schema.
func engines(tb testing.TB) map[string]func(tb testing.TB) *db.DB {
	tb.Helper()
	out := map[string]func(tb testing.TB) *db.DB{
		"memory": func(tb testing.TB) *db.DB {
			tb.Helper()
			d, closeDB, err := OpenDB("")
			require.NoError(tb, err)
			tb.Cleanup(func() { require.NoError(tb, closeDB()) })
			require.NoError(tb, Migrate(context.Background(), d, nil))
			return d
		},
	}
	for _, name := range dbtest.EngineNames(tb) {
		out[name] = func(tb testing.TB) *db.DB {
			tb.Helper()
			d := dbtest.Open(tb, name)
			require.NoError(tb, Migrate(context.Background(), d, nil))
			return d
		}
	}
	return out
}

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// testService is the service on one database, built as the module builds it, with the loop running.
type testService struct {
	app   *fiber.App
	svc   *Service
	gate  *Gate
	proc  *Processor
	store *Store
}

func newTestService(tb testing.TB, d *db.DB, cfg Config) *testService {
	tb.Helper()
	store := NewStore(d)
	proc := NewProcessor(cfg, store, discardLog())
	svc := NewService(store, proc)
	gate, err := NewGate(cfg)
	require.NoError(tb, err)
	proc.Start()
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		require.NoError(tb, proc.Stop(ctx))
		require.NoError(tb, gate.Close())
	})
	app := webtest.New(NewRoutes(svc, gate, discardLog()))
	return &testService{app: app, svc: svc, gate: gate, proc: proc, store: store}
}

// testConfig is the default configuration with a short processing delay.
func testConfig() Config {
	cfg := DefaultConfig()
	cfg.ProcessingDelay = 5 * time.Millisecond
	return cfg
}

type reply struct {
	status int
	header http.Header
	body   string
}

func (ts *testService) do(tb testing.TB, method, path, body string) reply {
	tb.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, path, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := ts.app.Test(req, -1)
	require.NoError(tb, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(tb, err)
	return reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
}

// waitFinal polls GET /api/orders/{n} until the order is final and returns its last answer.
func (ts *testService) waitFinal(tb testing.TB, prefix, n string) map[string]any {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		r := ts.do(tb, http.MethodGet, prefix+"/api/orders/"+n, "")
		require.Equal(tb, http.StatusOK, r.status, r.body)
		var got map[string]any
		require.NoError(tb, json.Unmarshal([]byte(r.body), &got))
		if got["status"] == StatusProcessed || got["status"] == StatusInvalid {
			return got
		}
		if time.Now().After(deadline) {
			tb.Fatalf("order %s not final after 10s: %s", n, r.body)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
