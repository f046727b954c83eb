package orders

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

// benchEnv is the orders module on PostgreSQL when GOPHERMART_TEST_DSN is set, else SQLite, served
// by the real server together with a trivial protected route for the baseline.
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
	return e
}

func benchDo(b *testing.B, app *fiber.App, method, path, body string, want int) {
	b.Helper()
	req := httptest.NewRequestWithContext(context.Background(), method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+webtest.Token("alice"))
	resp, err := app.Test(req, -1)
	if err != nil {
		b.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != want {
		b.Fatalf("%s %s: %d, want %d", method, path, resp.StatusCode, want)
	}
}

func BenchmarkBaseline(b *testing.B) {
	e := benchEnv(b)
	b.ResetTimer()
	for range b.N {
		benchDo(b, e.app, http.MethodGet, "/api/user/bench/ok", "", http.StatusOK)
	}
}

var benchSeq atomic.Int64

func BenchmarkUpload(b *testing.B) {
	e := benchEnv(b)
	b.ResetTimer()
	for range b.N {
		benchDo(b, e.app, http.MethodPost, "/api/user/orders", num(90, int(benchSeq.Add(1))), http.StatusAccepted)
	}
}

func BenchmarkListOrders100(b *testing.B) {
	e := benchEnv(b)
	for i := range 100 {
		benchDo(b, e.app, http.MethodPost, "/api/user/orders", num(91, i), http.StatusAccepted)
	}
	b.ResetTimer()
	for range b.N {
		benchDo(b, e.app, http.MethodGet, "/api/user/orders", "", http.StatusOK)
	}
}

// seedOrders stores count orders of userID straight in the table (series picks the numbers), one
// microsecond apart, a third of them PROCESSED with an accrual, a third INVALID, the rest NEW.
func seedOrders(tb testing.TB, d *db.DB, userID string, series, count int) {
	tb.Helper()
	base := time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)
	rows := make([]orderRow, count)
	for i := range rows {
		at := base.Add(time.Duration(i) * time.Microsecond)
		rows[i] = orderRow{Number: num(series, i), UserID: userID, Status: StatusNew, UploadedAt: at, NextPollAt: &at}
		switch i % 3 {
		case 0:
			a := int64(i*7 + 1)
			rows[i].Status, rows[i].Accrual, rows[i].NextPollAt = StatusProcessed, &a, nil
		case 1:
			rows[i].Status, rows[i].NextPollAt = StatusInvalid, nil
		}
	}
	require.NoError(tb, d.Conn(context.Background()).CreateInBatches(rows, 500).Error)
}

// benchList gets GET /api/user/orders, count orders long, from a real listener and reports the bytes
// allocated per request in the whole process (server and client) and, as peak-live-B, the peak of
// the live heap over the run (webtest.SampleHeap: sampled, and at GOGC=10, so ns/op is pessimistic);
// gzip asks for a compressed answer.
func benchList(b *testing.B, count int, gzip bool) {
	b.Helper()
	e := benchEnv(b)
	seedOrders(b, e.db, "alice", 92, count)
	base := webtest.Serve(b, e.app)
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}}
	peak := webtest.SampleHeap(b)
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, base+"/api/user/orders", nil)
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

func BenchmarkListOrders2000(b *testing.B)      { benchList(b, 2_000, false) }
func BenchmarkListOrders20000(b *testing.B)     { benchList(b, 20_000, false) }
func BenchmarkListOrders20000Gzip(b *testing.B) { benchList(b, 20_000, true) }
