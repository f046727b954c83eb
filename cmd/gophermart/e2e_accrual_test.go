//go:build e2e

package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/proctest"
)

// End-to-end runs of both binaries, configured by environment only: the real accrual service (with
// its test knobs) and gophermart pointed at it with ACCRUAL_SYSTEM_ADDRESS.

// accrualService is a running accrual binary with its request log.
type accrualService struct {
	p   *proctest.Proc
	api *apiClient
	log string
}

func startAccrualService(t *testing.T, knobs map[string]string) *accrualService {
	t.Helper()
	dir := t.TempDir()
	addr := freeAddr(t)
	env := map[string]string{"RUN_ADDRESS": addr, "ACCRUAL_REQUEST_LOG": filepath.Join(dir, "requests.jsonl")}
	for k, v := range knobs {
		env[k] = v
	}
	p := start(t, binary(t, "accrual"), dir, env)
	p.WaitHTTP("/") // 404, and not a GET /api/orders/{number}: the limiter never sees it
	a := &accrualService{p: p, api: newAccrualAPI(t, addr, ""), log: env["ACCRUAL_REQUEST_LOG"]}
	r := a.api.do(http.MethodPost, "/api/goods", "", map[string]any{"match": "Bork", "reward": 10, "reward_type": "%"})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	return a
}

// register registers each order as a 7000 purchase (700 points) and waits until the accrual service
// has processed them all (its processing delay), so that gophermart's first ask gets PROCESSED.
func (a *accrualService) register(t *testing.T, numbers []string) {
	t.Helper()
	for _, n := range numbers {
		r := a.api.do(http.MethodPost, "/api/orders", "", map[string]any{
			"order": n, "goods": []map[string]any{{"description": "Чайник Bork", "price": 7000}},
		})
		require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	}
	time.Sleep(time.Second) // REGISTERED -> PROCESSING -> PROCESSED takes 2 x 100 ms by default
}

type accrualRequest struct {
	Order  string    `json:"order"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Status int       `json:"status"`
}

// requests reads the accrual service's request log: every GET /api/orders/{number} it answered.
func (a *accrualService) requests(t *testing.T) []accrualRequest {
	t.Helper()
	f, err := os.Open(a.log)
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	var out []accrualRequest
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var r accrualRequest
		require.NoError(t, json.Unmarshal(sc.Bytes(), &r), sc.Text())
		out = append(out, r)
	}
	require.NoError(t, sc.Err())
	sort.Slice(out, func(i, j int) bool { return out[i].Start.Before(out[j].Start) })
	return out
}

func startGophermart(t *testing.T, dir, uri, accrualAddr string, extra map[string]string) *proctest.Proc {
	t.Helper()
	env := map[string]string{
		"RUN_ADDRESS": freeAddr(t), "DATABASE_URI": uri, "ACCRUAL_SYSTEM_ADDRESS": accrualAddr,
		"GOPHERMART_LOG_LEVEL": "warn",
	}
	for k, v := range extra {
		env[k] = v
	}
	p := start(t, binary(t, "gophermart"), dir, env)
	p.WaitHTTP("/readyz")
	return p
}

type shopper struct {
	token  string
	orders []string
}

// uploadAll registers users and uploads numbers round-robin through the given instances, requiring
// 202 for each.
func uploadAll(t *testing.T, numbers []string, users int, instances ...*apiClient) []*shopper {
	t.Helper()
	shoppers := make([]*shopper, users)
	for u := range shoppers {
		shoppers[u] = &shopper{token: instances[u%len(instances)].register(fmt.Sprintf("shopper%d", u), "password1")}
	}
	for i, n := range numbers {
		s := shoppers[i%users]
		r := instances[i%len(instances)].do(http.MethodPost, "/api/user/orders", s.token, n)
		require.Equal(t, http.StatusAccepted, r.status, string(r.body))
		s.orders = append(s.orders, n)
	}
	return shoppers
}

type listedOrder struct {
	Number  string   `json:"number"`
	Status  string   `json:"status"`
	Accrual *float64 `json:"accrual"`
}

// waitAllProcessed polls every shopper's order list until each order is PROCESSED with 700 points,
// and then checks each balance.
func waitAllProcessed(t *testing.T, api *apiClient, shoppers []*shopper, limit time.Duration) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for _, s := range shoppers {
		for {
			r := api.do(http.MethodGet, "/api/user/orders", s.token, nil)
			require.Equal(t, http.StatusOK, r.status, string(r.body))
			var list []listedOrder
			r.json(t, &list)
			done := 0
			for _, o := range list {
				if o.Status == "PROCESSED" {
					require.NotNil(t, o.Accrual, o.Number)
					assert.InDelta(t, 700.0, *o.Accrual, 1e-9, o.Number)
					done++
				}
			}
			require.Len(t, list, len(s.orders))
			if done == len(s.orders) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after %s, %d of %d orders are PROCESSED: %+v", limit, done, len(s.orders), list)
			}
			time.Sleep(100 * time.Millisecond)
		}
		r := api.do(http.MethodGet, "/api/user/balance", s.token, nil)
		require.Equal(t, http.StatusOK, r.status)
		var b struct{ Current, Withdrawn float64 }
		r.json(t, &b)
		assert.InDelta(t, 700.0*float64(len(s.orders)), b.Current, 1e-6, "credited exactly once each")
	}
}

// ledgerOK runs `gophermart ledger check` on the database.
func ledgerOK(t *testing.T, uri string) {
	t.Helper()
	code, out := run(t, binary(t, "gophermart"), t.TempDir(), map[string]string{"DATABASE_URI": uri}, "ledger", "check")
	assert.Equal(t, 0, code, out)
	assert.Contains(t, out, "ledger ok")
}

func e2eNumbers(series, count int) []string {
	out := make([]string, count)
	for i := range out {
		out[i] = orderNumber(series, i)
	}
	return out
}

// An uploaded order is PROCESSED with the right accrual and balance without waiting for a poll tick
// (the tick is an hour here).
func TestE2EAccrualUploadProcessedWithoutTick(t *testing.T) {
	t.Parallel()
	acc := startAccrualService(t, nil)
	numbers := e2eNumbers(301, 1)
	acc.register(t, numbers)
	gm := startGophermart(t, t.TempDir(), dbtest.URI(t, "sqlite"), "http://"+acc.p.Addr,
		map[string]string{"GOPHERMART_POLL_INTERVAL": "1h"})
	api := newAPI(t, gm.Addr)
	shoppers := uploadAll(t, numbers, 1, api)
	waitAllProcessed(t, api, shoppers, 10*time.Second)
	assert.Equal(t, 0, gm.Stop(syscall.SIGTERM))
}

// kill -9 in the middle of the work, restart: every accepted order is processed, none is credited
// twice (the killed instance's leases expire; the lease is 4 s here, for requests of at most 1 s).
func TestE2EAccrualKill9AndRestart(t *testing.T) {
	for _, engine := range dbtest.EngineNames(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			acc := startAccrualService(t, map[string]string{"ACCRUAL_LATENCY": "40ms"})
			numbers := e2eNumbers(302, 80)
			acc.register(t, numbers)
			uri := dbtest.URI(t, engine)
			dir := t.TempDir()
			knobs := map[string]string{
				"GOPHERMART_ACCRUAL_LEASE": "4s", "GOPHERMART_ACCRUAL_TIMEOUT": "1s", "GOPHERMART_ACCRUAL_WORKERS": "2",
			}
			first := startGophermart(t, dir, uri, "http://"+acc.p.Addr, knobs)
			shoppers := uploadAll(t, numbers, 4, newAPI(t, first.Addr))
			first.Signal(syscall.SIGKILL) // mid-flight: 80 orders at ~2 per 40 ms
			<-first.Exited()
			asked := len(acc.requests(t))
			t.Logf("requests before the kill: %d of %d orders", asked, len(numbers))

			second := startGophermart(t, dir, uri, "http://"+acc.p.Addr, knobs)
			waitAllProcessed(t, newAPI(t, second.Addr), shoppers, 60*time.Second)
			assert.Equal(t, 0, second.Stop(syscall.SIGTERM))
			ledgerOK(t, uri)
		})
	}
}

// 30 % of the accrual service's answers are 500s: every order still ends PROCESSED, credited once.
func TestE2EAccrualFailing30Percent(t *testing.T) {
	t.Parallel()
	acc := startAccrualService(t, map[string]string{"ACCRUAL_FAIL_RATE": "0.3"})
	numbers := e2eNumbers(303, 40)
	acc.register(t, numbers)
	uri := dbtest.URI(t, "sqlite")
	gm := startGophermart(t, t.TempDir(), uri, "http://"+acc.p.Addr,
		map[string]string{"GOPHERMART_ACCRUAL_RETRY_BACKOFF": "10ms", "GOPHERMART_ACCRUAL_MIN_BACKOFF": "100ms"})
	api := newAPI(t, gm.Addr)
	shoppers := uploadAll(t, numbers, 4, api)
	waitAllProcessed(t, api, shoppers, 60*time.Second)
	failed := 0
	for _, r := range acc.requests(t) {
		if r.Status == http.StatusInternalServerError {
			failed++
		}
	}
	assert.Positive(t, failed, "the accrual service did fail")
	assert.Equal(t, 0, gm.Stop(syscall.SIGTERM))
	ledgerOK(t, uri)
}

// Two instances on one PostgreSQL, 200 orders uploaded to both: each is credited once, and the
// accrual service never sees one order asked by two requests at once (its own request log).
func TestE2EAccrualTwoInstances200Orders(t *testing.T) {
	if !hasEngine(t, "postgres") {
		t.Skip("PostgreSQL not configured (GOPHERMART_TEST_DSN)")
	}
	t.Parallel()
	acc := startAccrualService(t, map[string]string{"ACCRUAL_LATENCY": "5ms"})
	numbers := e2eNumbers(304, 200)
	acc.register(t, numbers)
	uri := dbtest.URI(t, "postgres")
	a := startGophermart(t, t.TempDir(), uri, "http://"+acc.p.Addr, nil)
	b := startGophermart(t, t.TempDir(), uri, "http://"+acc.p.Addr, nil)
	apiA, apiB := newAPI(t, a.Addr), newAPI(t, b.Addr)
	shoppers := uploadAll(t, numbers, 10, apiA, apiB)
	waitAllProcessed(t, apiB, shoppers, 60*time.Second)

	byOrder := map[string][]accrualRequest{}
	for _, r := range acc.requests(t) {
		byOrder[r.Order] = append(byOrder[r.Order], r)
	}
	for _, n := range numbers {
		rs := byOrder[n]
		assert.Len(t, rs, 1, "order %s asked once", n)
		for i := 1; i < len(rs); i++ {
			assert.False(t, rs[i].Start.Before(rs[i-1].End), "order %s asked twice at once", n)
		}
	}
	assert.Equal(t, 0, a.Stop(syscall.SIGTERM))
	assert.Equal(t, 0, b.Stop(syscall.SIGTERM))
	ledgerOK(t, uri)
}

// The accrual service allows 5 requests per minute (a fixed window from its first request) and
// answers 429 Retry-After: 2 beyond: after the requests in flight, nothing reaches it during the
// pause, the requests after it are paced so that no further 429 comes back, and every order ends
// PROCESSED.
func TestE2EAccrualRateLimited(t *testing.T) {
	t.Parallel()
	acc := startAccrualService(t, map[string]string{"ACCRUAL_RATE_LIMIT": "5", "ACCRUAL_RETRY_AFTER": "2"})
	numbers := e2eNumbers(305, 9)
	acc.register(t, numbers)
	gm := startGophermart(t, t.TempDir(), dbtest.URI(t, "sqlite"), "http://"+acc.p.Addr, nil)
	api := newAPI(t, gm.Addr)
	shoppers := uploadAll(t, numbers, 1, api)
	waitAllProcessed(t, api, shoppers, 3*time.Minute)
	assert.Equal(t, 0, gm.Stop(syscall.SIGTERM))

	reqs := acc.requests(t)
	first := -1
	for i, r := range reqs {
		if r.Status == http.StatusTooManyRequests {
			first = i
			break
		}
	}
	require.GreaterOrEqual(t, first, 0, "the limit was hit")
	// Once the first 429 is back, the gate is closed for every worker: only requests already in
	// flight can still get one (at most one per worker and slow-lane place), and the pacing after the
	// pause, which counts the burst, sends nothing the accrual service refuses. So every 429 comes
	// before the first request the accrual service accepts again, and there are few of them. (Order,
	// not time: on a loaded machine a request in flight may be logged long after it was sent.)
	refused, resumed := 0, false
	for _, r := range reqs[first:] {
		switch r.Status {
		case http.StatusTooManyRequests:
			refused++
			assert.False(t, resumed, "a 429 after requests were accepted again: the client does not pace itself")
		case http.StatusOK:
			resumed = true
		}
	}
	const workers, lane = 4, 4 // GOPHERMART_ACCRUAL_WORKERS default, slow-lane places per worker
	assert.LessOrEqual(t, refused, workers*(1+lane), "429s beyond what can have been in flight")
	last := reqs[len(reqs)-1].Start.Sub(reqs[first].Start)
	t.Logf("%d requests; last one %s after the first 429", len(reqs), last)
}
