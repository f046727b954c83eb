//go:build e2e

package main

import (
	"fmt"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gophermart/gophermart/modules/platform/ordernum"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
)

// luhn appends the check digit that makes prefix a valid order number.
func luhn(prefix string) string { return string(ordernum.WithCheckDigit(prefix)) }

// A concurrent double-spend probe against the running binary: a user holding 100 points fires 60
// withdrawals of 10 at once, on distinct order numbers, plus each one again (a retry racing its own
// first attempt). Exactly 10 distinct withdrawals succeed, every retry is answered like its first
// attempt without a second debit, the balance ends at 0 and the ledger holds.
func TestE2EConcurrentDoubleSpendProbe(t *testing.T) {
	gm := binary(t, "gophermart")
	for _, engine := range dbtest.EngineNames(t) {
		t.Run(engine, func(t *testing.T) {
			uri := dbtest.URI(t, engine)
			addr, accAddr := freeAddr(t), freeAddr(t)
			p := start(t, gm, t.TempDir(), map[string]string{
				"RUN_ADDRESS": addr, "DATABASE_URI": uri, "GOPHERMART_BUILTIN_ACCRUAL_ADDRESS": accAddr,
			})
			p.WaitHTTP("/readyz")
			api, acc := newAPI(t, addr), newAccrualAPI(t, accAddr, "")

			// 100 points through the built-in accrual service, on the fixed port it was given: 100 pt for one good.
			r := acc.do(http.MethodPost, "/api/goods", "", map[string]any{"match": "Probe", "reward": 100, "reward_type": "pt"})
			require.Equal(t, http.StatusOK, r.status, string(r.body))
			r = acc.do(http.MethodPost, "/api/orders", "", map[string]any{
				"order": "12345678903", "goods": []map[string]any{{"description": "Probe item", "price": 1}},
			})
			require.Equal(t, http.StatusAccepted, r.status, string(r.body))
			tok := api.register("spender", "spender password")
			require.Equal(t, http.StatusAccepted, api.do(http.MethodPost, "/api/user/orders", tok, "12345678903").status)
			api.waitFinal(tok, "12345678903", 15*time.Second)
			r = api.do(http.MethodGet, "/api/user/balance", tok, nil)
			require.JSONEq(t, `{"current":100,"withdrawn":0}`, string(r.body))

			const n = 60
			codes := make([][2]int, n)
			var wg sync.WaitGroup
			for i := range n {
				number := luhn(fmt.Sprintf("7000%04d", i))
				for k := range 2 {
					wg.Add(1)
					go func() {
						defer wg.Done()
						codes[i][k] = api.do(http.MethodPost, "/api/user/balance/withdraw", tok,
							map[string]any{"order": number, "sum": 10}).status
					}()
				}
			}
			wg.Wait()
			won := 0
			for i, c := range codes {
				assert.Equal(t, c[0], c[1], "order %d: a retry is answered like its twin", i)
				switch c[0] {
				case http.StatusOK:
					won++
				case http.StatusPaymentRequired:
				default:
					t.Errorf("order %d: unexpected %d", i, c[0])
				}
			}
			assert.Equal(t, 10, won, "exactly the balance's worth of withdrawals")
			r = api.do(http.MethodGet, "/api/user/balance", tok, nil)
			assert.JSONEq(t, `{"current":0,"withdrawn":100}`, string(r.body))
			assert.Equal(t, 0, p.Stop(syscall.SIGTERM))
			code, out := run(t, gm, t.TempDir(), map[string]string{"DATABASE_URI": uri}, "ledger", "check")
			assert.Equal(t, 0, code, out)
		})
	}
}
