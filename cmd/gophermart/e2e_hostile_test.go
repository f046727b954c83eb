//go:build e2e

package main

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
)

// hostileAccrual is an accrual system out to mislead gophermart: it redirects to a server that
// offers a million points, writes an amount with 45 trailing zeros, drips answers a byte a second,
// and asks for a day's pause. Everything else it answers PROCESSED with 10 points.
type hostileAccrual struct {
	srv, elsewhere *httptest.Server
	redirect       string
	zeros          string
	drip           map[string]bool
	pauseFor       string // the next ask about this order gets 429 Retry-After: 86400

	mu         sync.Mutex
	elsewhereN int
	calls      map[string]int
}

func newHostileAccrual(t *testing.T) *hostileAccrual {
	t.Helper()
	h := &hostileAccrual{drip: map[string]bool{}, calls: map[string]int{}}
	h.elsewhere = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.mu.Lock()
		h.elsewhereN++
		h.mu.Unlock()
		n := strings.TrimPrefix(r.URL.Path, "/api/orders/")
		_, _ = fmt.Fprintf(w, `{"order":%q,"status":"PROCESSED","accrual":1000000}`, n)
	}))
	t.Cleanup(h.elsewhere.Close)
	h.srv = httptest.NewServer(http.HandlerFunc(h.serve))
	t.Cleanup(h.srv.Close)
	return h
}

func (h *hostileAccrual) serve(w http.ResponseWriter, r *http.Request) {
	n := strings.TrimPrefix(r.URL.Path, "/api/orders/")
	h.mu.Lock()
	h.calls[n]++
	pause := n == h.pauseFor && h.calls[n] == 1
	h.mu.Unlock()
	switch {
	case pause:
		w.Header().Set("Retry-After", "86400")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = io.WriteString(w, "No more than 100 requests per minute allowed")
	case n == h.redirect:
		http.Redirect(w, r, h.elsewhere.URL+r.URL.Path, http.StatusMovedPermanently)
	case n == h.zeros:
		_, _ = fmt.Fprintf(w, `{"order":%q,"status":"PROCESSED","accrual":729.98%s}`, n, strings.Repeat("0", 45))
	case h.drip[n]:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		body := fmt.Sprintf(`{"order":%q,"status":"PROCESSED","accrual":1000}`, n)
		for i := range len(body) {
			if _, err := io.WriteString(w, body[i:i+1]); err != nil {
				return
			}
			w.(http.Flusher).Flush()
			select {
			case <-r.Context().Done():
				return
			case <-time.After(time.Second):
			}
		}
	default:
		_, _ = fmt.Fprintf(w, `{"order":%q,"status":"PROCESSED","accrual":10}`, n)
	}
}

func (h *hostileAccrual) askedElsewhere() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.elsewhereN
}

// orderStatus returns the status and accrual of number in the caller's list.
func orderStatus(t *testing.T, api *apiClient, token, number string) (string, *float64) {
	t.Helper()
	r := api.do(http.MethodGet, "/api/user/orders", token, nil)
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	var list []listedOrder
	r.json(t, &list)
	for _, o := range list {
		if o.Number == number {
			return o.Status, o.Accrual
		}
	}
	t.Fatalf("order %s is not in the list", number)
	return "", nil
}

// The real binary against a hostile accrual system: a redirect is never followed (the million
// points elsewhere are never asked for, let alone credited), an amount with 45 trailing zeros is
// credited exactly, eight answers dripping a byte a second hold up nobody else, a day's Retry-After
// is capped, and `gophermart resync` clears the stored pause and says so.
func TestE2EHostileAccrualSystem(t *testing.T) {
	t.Parallel()
	h := newHostileAccrual(t)
	numbers := e2eNumbers(310, 13)
	h.redirect, h.zeros = numbers[0], numbers[1]
	for _, n := range numbers[2:10] {
		h.drip[n] = true
	}
	normal, paused := numbers[10:12], numbers[12]
	uri := dbtest.URI(t, "sqlite")
	dir := t.TempDir()
	gm := startGophermart(t, dir, uri, h.srv.URL, map[string]string{
		"GOPHERMART_ACCRUAL_TIMEOUT": "3s", "GOPHERMART_POLL_INTERVAL": "1h",
	})
	api := newAPI(t, gm.Addr)
	hostile := api.register("hostile", "password1")
	for _, n := range numbers[:10] {
		require.Equal(t, http.StatusAccepted, api.do(http.MethodPost, "/api/user/orders", hostile, n).status)
	}
	user := api.register("bystander", "password1")
	uploaded := time.Now()
	for _, n := range normal {
		require.Equal(t, http.StatusAccepted, api.do(http.MethodPost, "/api/user/orders", user, n).status)
	}
	for _, n := range normal {
		deadline := time.Now().Add(30 * time.Second)
		for {
			status, _ := orderStatus(t, api, user, n)
			if status == "PROCESSED" {
				break
			}
			require.True(t, time.Now().Before(deadline), "order %s still %s behind dripping answers", n, status)
			time.Sleep(50 * time.Millisecond)
		}
	}
	t.Logf("orders behind 8 dripping answers PROCESSED %s after upload", time.Since(uploaded))

	deadline := time.Now().Add(30 * time.Second)
	for {
		status, accrual := orderStatus(t, api, hostile, h.zeros)
		if status == "PROCESSED" {
			require.NotNil(t, accrual)
			assert.InDelta(t, 729.98, *accrual, 1e-9, "trailing zeros never change a value")
			break
		}
		require.True(t, time.Now().Before(deadline), "the 45-zero order is still %s", status)
		time.Sleep(50 * time.Millisecond)
	}
	status, _ := orderStatus(t, api, hostile, h.redirect)
	assert.NotEqual(t, "PROCESSED", status, "a redirect's answer is never credited")
	assert.Zero(t, h.askedElsewhere(), "the redirect was never followed")

	// A day's Retry-After: the pause is capped, and resync clears it.
	h.mu.Lock()
	h.pauseFor = paused
	h.mu.Unlock()
	require.Equal(t, http.StatusAccepted, api.do(http.MethodPost, "/api/user/orders", user, paused).status)
	deadline = time.Now().Add(30 * time.Second)
	var pause float64
	for {
		r := api.do(http.MethodGet, "/metrics", "", nil)
		require.Equal(t, http.StatusOK, r.status)
		if _, err := fmt.Sscanf(metricLine(string(r.body), "gophermart_accrual_pause_seconds"), "%g", &pause); err == nil && pause > 0 {
			break
		}
		require.True(t, time.Now().Before(deadline), "no pause after the 429")
		time.Sleep(50 * time.Millisecond)
	}
	assert.LessOrEqual(t, pause, 120.0, "Retry-After: 86400 is capped at the default 2 minutes")

	code, out := run(t, binary(t, "gophermart"), dir, map[string]string{"DATABASE_URI": uri}, "resync")
	require.Equal(t, 0, code, out)
	assert.Contains(t, out, "cleared the accrual system's rate-limit pause")
	deadline = time.Now().Add(30 * time.Second)
	for {
		status, _ := orderStatus(t, api, user, paused)
		if status == "PROCESSED" {
			break
		}
		require.True(t, time.Now().Before(deadline), "after resync the order is still %s", status)
		time.Sleep(50 * time.Millisecond)
	}
	b := api.do(http.MethodGet, "/api/user/balance", user, nil)
	var bal struct{ Current float64 }
	b.json(t, &bal)
	assert.InDelta(t, 30.0, bal.Current, 1e-9, "three orders of 10 points")
	b = api.do(http.MethodGet, "/api/user/balance", hostile, nil)
	b.json(t, &bal)
	assert.InDelta(t, 729.98, bal.Current, 1e-9, "the 45-zero order only: never the redirect's million, never a dripped answer")
	assert.Equal(t, 0, gm.Stop(syscall.SIGTERM))
	ledgerOK(t, uri)
}

// metricLine returns the value part of the first sample of the named metric in a Prometheus text
// exposition, or "" when there is none.
func metricLine(exposition, name string) string {
	for _, l := range strings.Split(exposition, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			return v
		}
	}
	return ""
}
