//go:build e2e

package main

import (
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
)

// A reverse proxy on the same machine in front of gophermart's public listener (every client it
// forwards is loopback there) gives no way to the built-in accrual service's POST endpoints: they
// are not on that listener at all, under any path. Two instances on one machine, both with the
// default built-in address, start side by side.
func TestE2EBuiltinAccrualBehindReverseProxy(t *testing.T) {
	gm := binary(t, "gophermart")
	addr, other := freeAddr(t), freeAddr(t)
	p := start(t, gm, t.TempDir(), map[string]string{"RUN_ADDRESS": addr})
	q := start(t, gm, t.TempDir(), map[string]string{"RUN_ADDRESS": other})
	p.WaitHTTP("/readyz")
	q.WaitHTTP("/readyz")
	accAddr, otherAcc := builtinAccrualAddr(t, p), builtinAccrualAddr(t, q)
	assert.NotEqual(t, accAddr, otherAcc, "each instance has its own built-in accrual port")

	target, err := url.Parse("http://" + addr)
	require.NoError(t, err)
	proxy := httptest.NewServer(httputil.NewSingleHostReverseProxy(target))
	t.Cleanup(proxy.Close)
	viaProxy := newAPI(t, strings.TrimPrefix(proxy.URL, "http://"))
	viaProxy.doc = nil // probing undocumented paths

	tok := viaProxy.register("mallory", "mallory password")
	number := "12345678903"
	mechanic := map[string]any{"match": "Free", "reward": 1000000, "reward_type": "pt"}
	purchase := map[string]any{"order": number, "goods": []map[string]any{{"description": "Free points", "price": 1}}}
	for _, prefix := range []string{"", "/accrual", "/api/user", "/api/user/accrual"} {
		// With a valid token, so that the guard of /api/user lets the probe through to the router.
		assert.Equal(t, http.StatusNotFound, viaProxy.do(http.MethodPost, prefix+"/api/goods", tok, mechanic).status, prefix)
		assert.Equal(t, http.StatusNotFound, viaProxy.do(http.MethodPost, prefix+"/api/orders", tok, purchase).status, prefix)
		assert.Equal(t, http.StatusNotFound, viaProxy.do(http.MethodGet, prefix+"/api/orders/"+number, tok, nil).status, prefix)
	}
	require.Equal(t, http.StatusAccepted, viaProxy.do(http.MethodPost, "/api/user/orders", tok, number).status)

	// The built-in service itself never heard of the purchase; on its own loopback address it answers.
	acc := newAccrualAPI(t, accAddr, "")
	assert.Equal(t, http.StatusNoContent, acc.do(http.MethodGet, "/api/orders/"+number, "", nil).status)
	r := viaProxy.do(http.MethodGet, "/api/user/balance", tok, nil)
	require.Equal(t, http.StatusOK, r.status)
	assert.JSONEq(t, `{"current":0,"withdrawn":0}`, string(r.body), "no point from nowhere")

	assert.Equal(t, 0, p.Stop(syscall.SIGTERM))
	assert.Equal(t, 0, q.Stop(syscall.SIGTERM))
}

// Two instances on one database share the failed-login count: alternating between them gives a
// guesser GOPHERMART_LOGIN_MAX_FAILURES wrong passwords in all, not that many per instance; the
// owner, from another address, still logs in.
func TestE2ELoginGuessingAcrossInstances(t *testing.T) {
	gm := binary(t, "gophermart")
	for _, engine := range dbtest.EngineNames(t) {
		t.Run(engine, func(t *testing.T) {
			uri := dbtest.URI(t, engine)
			a, b := freeAddr(t), freeAddr(t)
			env := func(addr string) map[string]string {
				return map[string]string{
					"RUN_ADDRESS": addr, "DATABASE_URI": uri, "ACCRUAL_SYSTEM_ADDRESS": "http://127.0.0.1:9",
					"GOPHERMART_LOGIN_MAX_FAILURES": "4", "GOPHERMART_JWT_SECRET": "e2e-secret-e2e-secret-e2e-secret-e2e",
				}
			}
			pa := start(t, gm, t.TempDir(), env(a))
			pa.WaitHTTP("/readyz") // one migrates first: SQLite files take one migrator at a time anyway
			pb := start(t, gm, t.TempDir(), env(b))
			pb.WaitHTTP("/readyz")
			apis := []*apiClient{newAPI(t, a), newAPI(t, b)}
			apis[0].register("victim", "the right password")

			wrong := map[string]string{"login": "victim", "password": "a wrong guess"}
			for i := range 4 {
				r := apis[i%2].do(http.MethodPost, "/api/user/login", "", wrong)
				require.Equal(t, http.StatusUnauthorized, r.status, "guess %d: %s", i, r.body)
			}
			for i, api := range apis {
				r := api.do(http.MethodPost, "/api/user/login", "", wrong)
				assert.Equal(t, http.StatusTooManyRequests, r.status, "instance %d: %s", i, r.body)
				assert.NotEmpty(t, r.header.Get("Retry-After"))
				right := map[string]string{"login": "victim", "password": "the right password"}
				r = api.do(http.MethodPost, "/api/user/login", "", right)
				assert.Equal(t, http.StatusTooManyRequests, r.status, "instance %d: the pair is locked, whatever the password", i)
				r = newAPIFrom(t, []string{a, b}[i], "127.0.0.2").do(http.MethodPost, "/api/user/login", "", right)
				assert.Equal(t, http.StatusOK, r.status, "instance %d: the owner, at another address, is not locked out", i)
			}
			assert.Equal(t, 0, pa.Stop(syscall.SIGTERM))
			assert.Equal(t, 0, pb.Stop(syscall.SIGTERM))
		})
	}
}
