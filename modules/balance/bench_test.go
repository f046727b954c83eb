package balance

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/web"
	"github.com/gophermart/gophermart/modules/platform/web/webtest"
)

// benchEnv is the balance module on PostgreSQL when GOPHERMART_TEST_DSN is set, else SQLite, served
// by the real server together with a trivial protected route for the baseline; alice has 10^10
// points.
func benchEnv(b *testing.B) *env {
	b.Helper()
	engines := dbtest.Engines(b)
	open, ok := engines["postgres"]
	if !ok {
		open = engines["sqlite"]
	}
	e := setup(b, open)
	e.app = webtest.New(NewRoutes(e.svc), web.Routes{Protected: func(r fiber.Router) {
		r.Get("/bench/ok", func(c *fiber.Ctx) error { return c.SendString("ok") })
	}})
	e.credit(b, "alice", num(80, 0), 1_000_000_000_000)
	return e
}

func benchDo(b *testing.B, app *fiber.App, method, path, body string, want int) {
	b.Helper()
	if err := benchTry(app, method, path, body, want); err != nil {
		b.Fatal(err)
	}
}

// benchTry is one request; it returns an error rather than failing, for RunParallel bodies.
func benchTry(app *fiber.App, method, path, body string, want int) error {
	req := httptest.NewRequestWithContext(context.Background(), method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+webtest.Token("alice"))
	resp, err := app.Test(req, -1)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != want {
		return &statusError{method: method, path: path, got: resp.StatusCode, want: want}
	}
	return nil
}

type statusError struct {
	method, path string
	got, want    int
}

func (e *statusError) Error() string {
	return e.method + " " + e.path + ": " + http.StatusText(e.got) + ", want " + http.StatusText(e.want)
}

var benchSeq atomic.Int64

func withdrawBody() string {
	return `{"order":"` + num(81, int(benchSeq.Add(1))) + `","sum":0.01}`
}

func BenchmarkBaseline(b *testing.B) {
	e := benchEnv(b)
	b.ResetTimer()
	for range b.N {
		benchDo(b, e.app, http.MethodGet, "/api/user/bench/ok", "", http.StatusOK)
	}
}

func BenchmarkBalance(b *testing.B) {
	e := benchEnv(b)
	b.ResetTimer()
	for range b.N {
		benchDo(b, e.app, http.MethodGet, "/api/user/balance", "", http.StatusOK)
	}
}

func BenchmarkWithdrawUncontended(b *testing.B) {
	e := benchEnv(b)
	b.ResetTimer()
	for range b.N {
		benchDo(b, e.app, http.MethodPost, "/api/user/balance/withdraw", withdrawBody(), http.StatusOK)
	}
}

// BenchmarkWithdrawContended withdraws from one user's balance in parallel goroutines.
func BenchmarkWithdrawContended(b *testing.B) {
	e := benchEnv(b)
	var failed atomic.Pointer[error]
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if err := benchTry(e.app, http.MethodPost, "/api/user/balance/withdraw", withdrawBody(), http.StatusOK); err != nil {
				failed.CompareAndSwap(nil, &err)
				return
			}
		}
	})
	b.StopTimer()
	if err := failed.Load(); err != nil {
		b.Fatal(*err)
	}
	e.healthy(b)
}

// seedWithdrawals stores count withdrawals of userID straight in the table (series picks the
// numbers), one microsecond apart; the balance is left alone, so only the list is meaningful.
func seedWithdrawals(tb testing.TB, d *db.DB, userID string, series, count int) {
	tb.Helper()
	base := time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)
	rows := make([]withdrawalRow, count)
	for i := range rows {
		rows[i] = withdrawalRow{
			OrderNumber: num(series, i), UserID: userID, Amount: int64(i*13 + 1),
			ProcessedAt: base.Add(time.Duration(i) * time.Microsecond),
		}
	}
	require.NoError(tb, d.Conn(context.Background()).CreateInBatches(rows, 500).Error)
}

// benchList gets GET /api/user/withdrawals, count withdrawals long, from a real listener and reports
// the bytes allocated per request in the whole process (server and client) and, as peak-live-B, the
// peak of the live heap over the run (webtest.SampleHeap: sampled, and at GOGC=10, so ns/op is
// pessimistic); gzip asks for a compressed answer.
func benchList(b *testing.B, count int, gzip bool) {
	b.Helper()
	e := benchEnv(b)
	seedWithdrawals(b, e.db, "alice", 82, count)
	base := webtest.Serve(b, e.app)
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	peak := webtest.SampleHeap(b)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, base+"/api/user/withdrawals", nil)
		require.NoError(b, err)
		req.Header.Set("Authorization", "Bearer "+webtest.Token("alice"))
		if gzip {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := client.Do(req)
		require.NoError(b, err)
		n, err := io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		require.NoError(b, err)
		require.Equal(b, http.StatusOK, resp.StatusCode)
		b.SetBytes(n)
	}
	b.StopTimer()
	b.ReportMetric(float64(peak()), "peak-live-B")
}

func BenchmarkListWithdrawals2000(b *testing.B)      { benchList(b, 2_000, false) }
func BenchmarkListWithdrawals20000(b *testing.B)     { benchList(b, 20_000, false) }
func BenchmarkListWithdrawals20000Gzip(b *testing.B) { benchList(b, 20_000, true) }
