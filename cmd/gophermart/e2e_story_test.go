//go:build e2e

package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
)

type orderItem struct {
	Number     string       `json:"number"`
	Status     string       `json:"status"`
	Accrual    *json.Number `json:"accrual"`
	UploadedAt time.Time    `json:"uploaded_at"`
}

// waitProcessed polls the order list until number is final, failing after a deadline.
func (a *apiClient) waitFinal(token, number string, within time.Duration) orderItem {
	a.t.Helper()
	deadline := time.Now().Add(within)
	for {
		r := a.do(http.MethodGet, "/api/user/orders", token, nil)
		if r.status == http.StatusOK {
			var items []orderItem
			r.json(a.t, &items)
			for _, it := range items {
				if it.Number == number && (it.Status == "PROCESSED" || it.Status == "INVALID") {
					return it
				}
			}
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("order %s not final within %s: %s", number, within, r.body)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// story walks the whole user story against a running gophermart (api) whose accrual system is
// reached by accrual, with its API under accrualPrefix.
func story(t *testing.T, api *apiClient, accrual *apiClient, accrualPrefix string) {
	t.Helper()
	// The accrual system learns a mechanic and a purchase (the SPEC's 5% of 14599.50 = 729.98).
	r := accrual.do(http.MethodPost, accrualPrefix+"/api/goods", "", map[string]any{"match": "Bork", "reward": 5, "reward_type": "%"})
	require.Equal(t, http.StatusOK, r.status, string(r.body))
	r = accrual.do(http.MethodPost, accrualPrefix+"/api/orders", "", map[string]any{
		"order": "12345678903", "goods": []map[string]any{{"description": "Чайник Bork", "price": 14599.50}},
	})
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))

	tok := api.register("story-user", "story password")
	r = api.do(http.MethodGet, "/api/user/orders", tok, nil)
	assert.Equal(t, http.StatusNoContent, r.status)

	uploaded := time.Now()
	r = api.do(http.MethodPost, "/api/user/orders", tok, "12345678903")
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	r = api.do(http.MethodPost, "/api/user/orders", tok, "12345678903")
	assert.Equal(t, http.StatusOK, r.status, "already uploaded by this user")

	it := api.waitFinal(tok, "12345678903", 15*time.Second)
	t.Logf("PROCESSED %s after upload", time.Since(uploaded).Round(time.Millisecond))
	require.Equal(t, "PROCESSED", it.Status)
	require.NotNil(t, it.Accrual)
	assert.Equal(t, "729.98", it.Accrual.String(), "exact accrual, printed exactly")

	r = api.do(http.MethodGet, "/api/user/balance", tok, nil)
	require.Equal(t, http.StatusOK, r.status)
	assert.JSONEq(t, `{"current":729.98,"withdrawn":0}`, string(r.body))

	r = api.do(http.MethodPost, "/api/user/balance/withdraw", tok, map[string]any{"order": "2377225624", "sum": 729.97998046875})
	require.Equal(t, http.StatusOK, r.status, "a float32 client's 729.98: %s", r.body)
	r = api.do(http.MethodPost, "/api/user/balance/withdraw", tok, map[string]any{"order": "2377225624", "sum": 729.98})
	assert.Equal(t, http.StatusOK, r.status, "identical retry")
	r = api.do(http.MethodPost, "/api/user/balance/withdraw", tok, map[string]any{"order": "4561261212345467", "sum": 0.01})
	assert.Equal(t, http.StatusPaymentRequired, r.status, "nothing left")

	r = api.do(http.MethodGet, "/api/user/balance", tok, nil)
	assert.JSONEq(t, `{"current":0,"withdrawn":729.98}`, string(r.body))
	r = api.do(http.MethodGet, "/api/user/withdrawals", tok, nil)
	require.Equal(t, http.StatusOK, r.status)
	var ws []struct {
		Order       string      `json:"order"`
		Sum         json.Number `json:"sum"`
		ProcessedAt time.Time   `json:"processed_at"`
	}
	r.json(t, &ws)
	require.Len(t, ws, 1)
	assert.Equal(t, "2377225624", ws[0].Order)
	assert.Equal(t, "729.98", ws[0].Sum.String())
	assert.False(t, ws[0].ProcessedAt.IsZero())

	// A partial withdrawal on a second order, and the unknown-order case.
	r = accrual.do(http.MethodPost, accrualPrefix+"/api/orders", "", map[string]any{
		"order": "79927398713", "goods": []map[string]any{{"description": "Bork kettle", "price": 1000}},
	})
	require.Equal(t, http.StatusAccepted, r.status, string(r.body))
	r = api.do(http.MethodPost, "/api/user/orders", tok, "79927398713")
	require.Equal(t, http.StatusAccepted, r.status)
	it = api.waitFinal(tok, "79927398713", 15*time.Second)
	assert.Equal(t, "50", it.Accrual.String())
	r = api.do(http.MethodPost, "/api/user/balance/withdraw", tok, map[string]any{"order": "49927398716", "sum": 20.5})
	require.Equal(t, http.StatusOK, r.status)
	r = api.do(http.MethodGet, "/api/user/balance", tok, nil)
	assert.JSONEq(t, `{"current":29.5,"withdrawn":750.48}`, string(r.body))

	other := api.register("story-other", "story password")
	r = api.do(http.MethodPost, "/api/user/orders", other, "12345678903")
	assert.Equal(t, http.StatusConflict, r.status, "another user's order")
	r = api.do(http.MethodGet, "/api/user/orders", other, nil)
	assert.Equal(t, http.StatusNoContent, r.status, "never sees another user's orders")
}

// The full user story with both binaries as separate processes sharing one database, started as the
// public acceptance tests start them: no arguments, env only.
func TestE2EUserStory(t *testing.T) {
	gm, acc := binary(t, "gophermart"), binary(t, "accrual")
	for _, engine := range dbtest.EngineNames(t) {
		t.Run(engine, func(t *testing.T) {
			uri := dbtest.URI(t, engine)
			accAddr, gmAddr := freeAddr(t), freeAddr(t)
			pa := start(t, acc, t.TempDir(), map[string]string{"RUN_ADDRESS": accAddr, "DATABASE_URI": uri})
			pa.WaitHTTP("/api/orders/0")
			pg := start(t, gm, t.TempDir(), map[string]string{
				"RUN_ADDRESS": gmAddr, "DATABASE_URI": uri, "ACCRUAL_SYSTEM_ADDRESS": "http://" + accAddr,
			})
			pg.WaitHTTP("/readyz")

			story(t, newAPI(t, gmAddr), newAccrualAPI(t, accAddr, ""), "")

			code, out := run(t, gm, t.TempDir(), map[string]string{"DATABASE_URI": uri}, "ledger", "check")
			assert.Equal(t, 0, code, out)
			assert.Equal(t, 0, pg.Stop(syscall.SIGTERM))
			assert.Equal(t, 0, pa.Stop(syscall.SIGINT))
		})
	}
}

// Without ACCRUAL_SYSTEM_ADDRESS the bare binary runs the whole flow alone: the built-in accrual
// service listens on a free loopback port of its own, whose URL the start log gives.
func TestE2EBuiltinAccrual(t *testing.T) {
	gm := binary(t, "gophermart")
	addr := freeAddr(t)
	p := start(t, gm, t.TempDir(), map[string]string{"RUN_ADDRESS": addr})
	p.WaitHTTP("/readyz")
	accAddr := builtinAccrualAddr(t, p)
	assert.True(t, strings.HasPrefix(accAddr, "127.0.0.1:"), accAddr)
	assert.NotEqual(t, addr, accAddr)
	api := newAPI(t, addr)
	story(t, api, newAccrualAPI(t, accAddr, ""), "")
	assert.True(t, containsLine(p.Output(), "a local stand-in"), "the log warns it is a local stand-in")

	r := api.do(http.MethodGet, "/metrics", "", nil)
	require.Equal(t, http.StatusOK, r.status)
	m := string(r.body)
	assert.Regexp(t, `gophermart_accrual_responses_total\{outcome="processed"\} [1-9]`, m)
	assert.Contains(t, m, "gophermart_orders_pending 0")
	assert.Contains(t, m, "gophermart_accrual_pause_seconds 0")
	assert.Regexp(t, `gophermart_http_requests_total\{method="POST",route="/api/user/orders",status="202"\} 2`, m)
	assert.Regexp(t, `gophermart_http_requests_total\{method="POST",route="/api/user/orders",status="409"\} 1`, m)
	assert.Contains(t, m, `go_sql_open_connections{db_name="gophermart"}`, "database pool metrics")
	assert.NotRegexp(t, `method="(GETT|POSTT)`, m)
	for _, secret := range []string{"story password", "Bearer"} {
		assert.NotContains(t, p.Output(), secret, "logs never carry passwords or tokens")
	}
	assert.Equal(t, 0, p.Stop(syscall.SIGTERM))
}
