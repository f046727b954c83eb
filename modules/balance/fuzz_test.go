package balance

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/points"
	"github.com/gophermart/gophermart/modules/platform/web"
	"github.com/gophermart/gophermart/modules/platform/web/webtest"
)

// FuzzWithdraw sends arbitrary withdrawal bodies through the real routes and server (SQLite): every
// answer is one the contract allows (never a 5xx), a body the strict decoder refuses debits nothing,
// and the ledger holds after each.
func FuzzWithdraw(f *testing.F) {
	for _, s := range []string{
		`{"order":"2377225624","sum":751}`,
		`{"order":"2377225624","sum":1,"sum":999999}`,
		`{"order":"2377225624","SUM":1,"sum":2}`,
		`{"order":"2377225624","order":"12345678903","sum":1}`,
		`{"order":"0","sum":1}`,
		`{"order":"000","sum":1}`,
		`{"order":"2377225624","sum":729.97998046875}`,
		`{"order":"2377225624","sum":"1"}`,
		`{"order":"2377225624","sum":1e400}`,
		`{"order":"2377225624","sum":-1}`,
		`{"order":"2377225624","sum":0.001}`,
		`{"order":"2377225624","sum":null}`,
		`{"order":"2377225624","sum":{"a":1}}`,
		`{"order":"2377225624","sum":1} {}`,
		`[]`, `null`, ``,
	} {
		f.Add(s)
	}
	e := setup(f, dbtest.Engines(f)["sqlite"])
	e.credit(f, "alice", num(90, 0), points.Amount(100_000_00))
	f.Fuzz(func(t *testing.T, body string) {
		var req withdrawRequest
		strictErr := web.Unmarshal([]byte(body), &req)
		before := e.balance(t, "alice")
		code, _, reply, err := e.call(http.MethodPost, "/api/user/balance/withdraw", webtest.Token("alice"), body)
		require.NoError(t, err)
		require.Contains(t, []int{http.StatusOK, http.StatusBadRequest, http.StatusPaymentRequired, http.StatusUnprocessableEntity},
			code, "%q: %s", body, reply)
		after := e.balance(t, "alice")
		if code != http.StatusOK || strictErr != nil {
			require.Equal(t, before, after, "%q answered %d moved points", body, code)
		}
		if code == http.StatusOK {
			require.NoError(t, strictErr, "%q was accepted", body)
		}
		require.GreaterOrEqual(t, int64(after.Current), int64(0))
		e.healthy(t)
	})
}
