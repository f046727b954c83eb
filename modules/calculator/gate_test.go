package calculator

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/gophermart/gophermart/modules/platform/fakeclock"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGateWindow(t *testing.T) {
	g, err := NewGate(Config{RateLimit: 3})
	require.NoError(t, err)
	clock := fakeclock.New(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	g.now = clock.Now
	admit := func(n int) []Verdict {
		out := make([]Verdict, n)
		for i := range out {
			out[i] = g.Admit()
		}
		return out
	}
	assert.Equal(t, DefaultRetryAfter, g.RetryAfter())
	// The window opens at the first request (12:00:00) and lasts a minute.
	assert.Equal(t, []Verdict{Pass, Pass, Pass, RateLimited, RateLimited}, admit(5))
	clock.Advance(59*time.Second + 999*time.Millisecond)
	assert.Equal(t, []Verdict{RateLimited}, admit(1), "still the first window")
	clock.Advance(time.Millisecond) // 12:01:00: a new window
	assert.Equal(t, []Verdict{Pass, Pass, Pass, RateLimited}, admit(4))
	clock.Advance(10 * time.Minute) // idle: the next window opens at the next request
	assert.Equal(t, []Verdict{Pass}, admit(1))
	clock.Advance(30 * time.Second)
	assert.Equal(t, []Verdict{Pass, Pass, RateLimited}, admit(3))
	clock.Advance(30 * time.Second)
	assert.Equal(t, []Verdict{Pass}, admit(1))
}

func TestGateOff(t *testing.T) {
	g, err := NewGate(DefaultConfig())
	require.NoError(t, err)
	for range 1000 {
		require.Equal(t, Pass, g.Admit())
	}
}

func TestGateRecordsRing(t *testing.T) {
	g, err := NewGate(DefaultConfig())
	require.NoError(t, err)
	for i := range maxRecords + 5 {
		require.NoError(t, g.Record(RequestRecord{Order: "n", Status: i}))
	}
	recs := g.Requests()
	require.Len(t, recs, maxRecords)
	assert.Equal(t, 5, recs[0].Status, "the oldest records were dropped")
	assert.Equal(t, maxRecords+4, recs[len(recs)-1].Status)
}

func TestRateLimitHTTP(t *testing.T) {
	cfg := testConfig()
	cfg.RateLimit = 2
	cfg.RetryAfter = 7
	ts := newTestService(t, engines(t)["sqlite"](t), cfg)
	clock := fakeclock.New(time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC))
	ts.gate.now = clock.Now
	path := "/api/orders/" + luhn("4000000001")

	for range 2 {
		assert.Equal(t, http.StatusNoContent, ts.do(t, http.MethodGet, path, "").status)
	}
	for range 3 {
		r := ts.do(t, http.MethodGet, path, "")
		require.Equal(t, http.StatusTooManyRequests, r.status)
		assert.Equal(t, "7", r.header.Get("Retry-After"))
		assert.Equal(t, "text/plain; charset=utf-8", r.header.Get("Content-Type"))
		assert.Equal(t, "No more than 2 requests per minute allowed", r.body)
	}
	// Only GET /api/orders/{number} is limited.
	assert.Equal(t, http.StatusOK, ts.do(t, http.MethodPost, "/api/goods", `{"match":"m","reward":1,"reward_type":"pt"}`).status)
	clock.Advance(time.Minute)
	assert.Equal(t, http.StatusNoContent, ts.do(t, http.MethodGet, path, "").status, "the limit resets each minute")
	assert.Equal(t, http.StatusNoContent, ts.do(t, http.MethodGet, path, "").status)
	assert.Equal(t, http.StatusTooManyRequests, ts.do(t, http.MethodGet, path, "").status)

	var statuses []int
	for _, r := range ts.gate.Requests() {
		statuses = append(statuses, r.Status)
	}
	assert.Equal(t, []int{204, 204, 429, 429, 429, 204, 204, 429}, statuses)
}

func TestFailRateHTTP(t *testing.T) {
	cfg := testConfig()
	cfg.FailRate = 1
	ts := newTestService(t, engines(t)["sqlite"](t), cfg)
	n := luhn("5000000001")
	require.Equal(t, http.StatusAccepted, ts.do(t, http.MethodPost, "/api/orders", `{"order":"`+n+`","goods":[]}`).status,
		"only GETs fail")
	for range 50 {
		r := ts.do(t, http.MethodGet, "/api/orders/"+n, "")
		require.Equal(t, http.StatusInternalServerError, r.status)
		assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	}
	recs := ts.gate.Requests()
	require.Len(t, recs, 50)
	for _, r := range recs {
		assert.Equal(t, http.StatusInternalServerError, r.Status)
	}

	// A fraction fails: the random source decides.
	g, err := NewGate(Config{FailRate: 0.5})
	require.NoError(t, err)
	coin := []float64{0.49, 0.5, 0.1, 0.9}
	i := 0
	g.random = func() float64 { i++; return coin[i-1] }
	assert.Equal(t, []Verdict{Fail, Pass, Fail, Pass}, []Verdict{g.Admit(), g.Admit(), g.Admit(), g.Admit()})
}

func TestRequestLog(t *testing.T) {
	cfg := testConfig()
	cfg.RequestLog = filepath.Join(t.TempDir(), "requests.jsonl")
	cfg.Latency = 20 * time.Millisecond
	cfg.RateLimit = 30
	ts := newTestService(t, engines(t)["sqlite"](t), cfg)
	known := luhn("6000000001")
	require.Equal(t, http.StatusAccepted, ts.do(t, http.MethodPost, "/api/orders", `{"order":"`+known+`","goods":[]}`).status)

	var wg sync.WaitGroup
	for i := range 40 {
		wg.Go(func() {
			n := luhn("6000000002")
			if i%2 == 0 {
				n = known
			}
			req := httptest.NewRequest(http.MethodGet, "/api/orders/"+n, nil) // with a Host, as every HTTP/1.1 client sends
			resp, err := ts.app.Test(req, -1)
			if err == nil {
				_ = resp.Body.Close()
			}
		})
	}
	wg.Wait()

	f, err := os.Open(cfg.RequestLog)
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	var lines []RequestRecord
	count := map[int]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var raw map[string]any
		require.NoError(t, json.Unmarshal(sc.Bytes(), &raw), sc.Text())
		assert.Len(t, raw, 4, "order, start, end, status")
		var rec RequestRecord
		require.NoError(t, json.Unmarshal(sc.Bytes(), &rec))
		_, err := time.Parse(time.RFC3339Nano, raw["start"].(string))
		require.NoError(t, err)
		assert.False(t, rec.End.Before(rec.Start.Add(cfg.Latency)), "the latency lies between start and end")
		if rec.Order == known {
			assert.Contains(t, []int{http.StatusOK, http.StatusTooManyRequests}, rec.Status)
		} else {
			assert.Equal(t, luhn("6000000002"), rec.Order)
			assert.Contains(t, []int{http.StatusNoContent, http.StatusTooManyRequests}, rec.Status)
		}
		lines = append(lines, rec)
		count[rec.Status]++
	}
	require.NoError(t, sc.Err())
	assert.Len(t, lines, 40)
	assert.Equal(t, 10, count[http.StatusTooManyRequests], "40 requests, 30 allowed per minute")
	assert.Equal(t, 30, count[http.StatusOK]+count[http.StatusNoContent])
	assert.ElementsMatch(t, lines, ts.gate.Requests(), "the same records in process")

	// The file is appended to, not truncated, by the next run.
	g, err := NewGate(cfg)
	require.NoError(t, err)
	require.NoError(t, g.Record(RequestRecord{Order: "1", Status: 200}))
	require.NoError(t, g.Close())
	b, err := os.ReadFile(cfg.RequestLog)
	require.NoError(t, err)
	assert.Equal(t, 41, bytesCount(b, '\n'))
}

func bytesCount(b []byte, c byte) int {
	n := 0
	for _, x := range b {
		if x == c {
			n++
		}
	}
	return n
}

// The in-process request log keeps each request's own order number: fiber reuses the buffer behind
// c.Params, so a number kept without copying turns into a later request's.
func TestRequestLogKeepsEachNumber(t *testing.T) {
	ts := newTestService(t, engines(t)["sqlite"](t), testConfig())
	var want []string
	for i := range 20 {
		n := luhn(fmt.Sprintf("40000000%02d", i))
		want = append(want, n)
		require.Equal(t, http.StatusNoContent, ts.do(t, http.MethodGet, "/api/orders/"+n, "").status)
	}
	var got []string
	for _, r := range ts.gate.Requests() {
		got = append(got, r.Order)
	}
	assert.Equal(t, want, got)
}
