package balance

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/points"
	"github.com/gophermart/gophermart/modules/platform/web/webtest"
)

// clock makes the service's clock tick one second per call, from a fixed start.
func clock(e *env, start time.Time) {
	var ticks atomic.Int64
	e.svc.now = func() time.Time { return start.Add(time.Duration(ticks.Add(1)-1) * time.Second) }
}

func TestCredit(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, open)
			ctx := context.Background()
			a := num(1, 1)
			e.credit(t, "alice", a, 10000)
			assert.Equal(t, Balance{Current: 10000}, e.balance(t, "alice"))

			e.credit(t, "alice", a, 10000)
			e.credit(t, "alice", a, 5000)
			e.credit(t, "bob", a, 10000)
			assert.Equal(t, Balance{Current: 10000}, e.balance(t, "alice"), "a second credit for the order is a no-op")
			assert.Equal(t, Balance{}, e.balance(t, "bob"))

			// A zero amount records the credit (idempotent) and creates no balance row.
			e.credit(t, "bob", num(1, 2), 0)
			var credits, balances int64
			require.NoError(t, e.db.Conn(ctx).Model(&creditRow{}).Where("order_number = ?", num(1, 2)).Count(&credits).Error)
			require.NoError(t, e.db.Conn(ctx).Model(&balanceRow{}).Where("user_id = ?", "bob").Count(&balances).Error)
			assert.Equal(t, int64(1), credits)
			assert.Equal(t, int64(0), balances)
			e.credit(t, "bob", num(1, 2), 700)
			assert.Equal(t, Balance{}, e.balance(t, "bob"), "the zero credit counted as the order's credit")

			err := e.svc.Credit(ctx, "alice", ordernum.Number(num(1, 3)), -1)
			require.ErrorIs(t, err, errNegativeCredit)

			// Credit joins the caller's transaction: a rollback takes the credit back.
			errRollback := errors.New("rollback")
			err = e.db.InTx(ctx, func(ctx context.Context) error {
				if err := e.svc.Credit(ctx, "alice", ordernum.Number(num(1, 4)), 500); err != nil {
					return err
				}
				return errRollback
			})
			require.ErrorIs(t, err, errRollback)
			assert.Equal(t, Balance{Current: 10000}, e.balance(t, "alice"))
			e.credit(t, "alice", num(1, 4), 500)
			assert.Equal(t, Balance{Current: 10500}, e.balance(t, "alice"), "a rolled back credit can happen later")

			// Concurrent credits of one order, each in its own transaction: exactly one counts.
			var wg sync.WaitGroup
			errs := make([]error, 20)
			for i := range errs {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errs[i] = e.db.InTx(ctx, func(ctx context.Context) error {
						return e.svc.Credit(ctx, "alice", ordernum.Number(num(1, 5)), 1000)
					})
				}()
			}
			wg.Wait()
			for _, err := range errs {
				require.NoError(t, err)
			}
			assert.Equal(t, Balance{Current: 11500}, e.balance(t, "alice"))
			e.healthy(t)
		})
	}
}

func TestWithdrawConcurrent(t *testing.T) {
	const total = 100000 // 1000.00 points
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, open)
			e.credit(t, "alice", num(2, 0), total)
			codes := make([]int, 100)
			errs := make([]error, len(codes))
			var wg sync.WaitGroup
			for i := range codes {
				wg.Add(1)
				go func() {
					defer wg.Done()
					codes[i], errs[i] = e.withdraw("alice", num(2, 1000+i), "100")
				}()
			}
			wg.Wait()
			ok := 0
			for i, c := range codes {
				require.NoError(t, errs[i])
				if c == http.StatusOK {
					ok++
				} else {
					assert.Equal(t, http.StatusPaymentRequired, c)
				}
			}
			assert.Equal(t, 10, ok, "exactly B / (B/10) withdrawals succeed")
			assert.Equal(t, Balance{Current: 0, Withdrawn: total}, e.balance(t, "alice"))
			assert.Equal(t, int64(10), e.withdrawalCount(t), "a refused withdrawal leaves no row")
			e.healthy(t)
		})
	}
}

func TestWithdrawCrossUserRace(t *testing.T) {
	const total = 100000
	const numbers = 50
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, open)
			e.credit(t, "alice", num(3, 0), total)
			e.credit(t, "bob", num(3, 1), total)
			users := []string{"alice", "bob"}
			codes := make([][2]int, numbers)
			errs := make([][2]error, numbers)
			var wg sync.WaitGroup
			for i := range numbers {
				for u := range users {
					wg.Add(1)
					go func() {
						defer wg.Done()
						codes[i][u], errs[i][u] = e.withdraw(users[u], num(3, 1000+i), "100")
					}()
				}
			}
			wg.Wait()
			wins := map[string]int{}
			for i := range numbers {
				for u := range users {
					require.NoError(t, errs[i][u])
					other := codes[i][1-u]
					switch codes[i][u] {
					case http.StatusOK:
						wins[users[u]]++
						assert.NotEqual(t, http.StatusOK, other, "number %d withdrawn twice", i)
						w, err := e.svc.store.Withdrawal(context.Background(), ordernum.Number(num(3, 1000+i)))
						require.NoError(t, err)
						assert.Equal(t, users[u], w.UserID)
					case http.StatusUnprocessableEntity:
						assert.Equal(t, http.StatusOK, other, "422 only when the other user holds number %d", i)
					default:
						assert.Equal(t, http.StatusPaymentRequired, codes[i][u])
					}
				}
			}
			assert.Equal(t, map[string]int{"alice": 10, "bob": 10}, wins)
			for _, u := range users {
				assert.Equal(t, Balance{Current: 0, Withdrawn: total}, e.balance(t, u), u)
			}
			assert.Equal(t, int64(20), e.withdrawalCount(t))
			e.healthy(t)
		})
	}
}

func TestWithdrawIdempotent(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, open)
			e.credit(t, "alice", num(4, 0), 10000)
			e.credit(t, "bob", num(4, 1), 10000)
			n := num(4, 100)
			withdraw := func(user, order, sum string) int {
				code, err := e.withdraw(user, order, sum)
				require.NoError(t, err)
				return code
			}
			assert.Equal(t, http.StatusOK, withdraw("alice", n, "30"))
			assert.Equal(t, http.StatusOK, withdraw("alice", n, "30"), "retry")
			assert.Equal(t, http.StatusOK, withdraw("alice", n, "30.000"), "the same sum written otherwise")
			assert.Equal(t, Balance{Current: 7000, Withdrawn: 3000}, e.balance(t, "alice"), "debited once")

			assert.Equal(t, http.StatusUnprocessableEntity, withdraw("alice", n, "31"), "same order, another sum")
			assert.Equal(t, http.StatusUnprocessableEntity, withdraw("bob", n, "30"), "another user's withdrawal")
			assert.Equal(t, Balance{Current: 7000, Withdrawn: 3000}, e.balance(t, "alice"))
			assert.Equal(t, Balance{Current: 10000}, e.balance(t, "bob"))

			// A refused withdrawal leaves its number free.
			m := num(4, 101)
			assert.Equal(t, http.StatusPaymentRequired, withdraw("alice", m, "70.01"))
			dbtest.CreateUser(t, e.db, "carol")
			assert.Equal(t, http.StatusPaymentRequired, withdraw("carol", m, "1"), "no balance row is 0 points")
			_, err := e.svc.store.Withdrawal(context.Background(), ordernum.Number(m))
			require.ErrorIs(t, err, ErrNotFound)
			assert.Equal(t, http.StatusOK, withdraw("bob", m, "70.01"))

			// Concurrent retries of one withdrawal: all succeed, one debit.
			k := num(4, 102)
			codes := make([]int, 10)
			errs := make([]error, len(codes))
			var wg sync.WaitGroup
			for i := range codes {
				wg.Add(1)
				go func() { defer wg.Done(); codes[i], errs[i] = e.withdraw("alice", k, "0.5") }()
			}
			wg.Wait()
			for i, c := range codes {
				require.NoError(t, errs[i])
				assert.Equal(t, http.StatusOK, c)
			}
			assert.Equal(t, Balance{Current: 6950, Withdrawn: 3050}, e.balance(t, "alice"))
			assert.Equal(t, int64(3), e.withdrawalCount(t))
			e.healthy(t)
		})
	}
}

func TestWithdrawBadInput(t *testing.T) {
	order := num(5, 1)
	body := func(sum string) string { return `{"order":"` + order + `","sum":` + sum + `}` }
	tests := []struct {
		name string
		body string
		want int
	}{
		{name: "sum -1", body: body("-1"), want: http.StatusUnprocessableEntity},
		{name: "sum -0.001", body: body("-0.001"), want: http.StatusUnprocessableEntity},
		{name: "sum 0", body: body("0"), want: http.StatusUnprocessableEntity},
		{name: "sum 0.001", body: body("0.001"), want: http.StatusUnprocessableEntity},
		{name: "sum 0.004999", body: body("0.004999"), want: http.StatusUnprocessableEntity},
		{name: "sum 1e308", body: body("1e308"), want: http.StatusUnprocessableEntity},
		{name: "sum 1e-400", body: body("1e-400"), want: http.StatusUnprocessableEntity},
		{name: "sum over max", body: body("1000000000000.01"), want: http.StatusUnprocessableEntity},
		{name: "sum string", body: body(`"12"`), want: http.StatusUnprocessableEntity},
		{name: "sum null", body: body("null"), want: http.StatusUnprocessableEntity},
		{name: "sum bool", body: body("true"), want: http.StatusUnprocessableEntity},
		{name: "sum object", body: body("{}"), want: http.StatusUnprocessableEntity},
		{name: "sum missing", body: `{"order":"` + order + `"}`, want: http.StatusUnprocessableEntity},
		{name: "sum NaN", body: body("NaN"), want: http.StatusBadRequest},
		{name: "sum Infinity", body: body("Infinity"), want: http.StatusBadRequest},
		{name: "order luhn invalid", body: `{"order":"79927398710","sum":1}`, want: http.StatusUnprocessableEntity},
		{name: "order letters", body: `{"order":"12ab","sum":1}`, want: http.StatusUnprocessableEntity},
		{name: "order negative", body: `{"order":"-` + order + `","sum":1}`, want: http.StatusUnprocessableEntity},
		{name: "order empty", body: `{"order":"","sum":1}`, want: http.StatusUnprocessableEntity},
		{name: "order 10000 digits", body: `{"order":"` + luhn(strings.Repeat("3", 9999)) + `","sum":1}`, want: http.StatusUnprocessableEntity},
		{name: "order missing", body: `{"sum":1}`, want: http.StatusUnprocessableEntity},
		{name: "order as number", body: `{"order":` + order + `,"sum":1}`, want: http.StatusBadRequest},
		{name: "empty body", body: "", want: http.StatusBadRequest},
		{name: "array", body: `[]`, want: http.StatusBadRequest},
		{name: "string", body: `"x"`, want: http.StatusBadRequest},
		{name: "form", body: `order=1&sum=2`, want: http.StatusBadRequest},
		{name: "unknown field", body: `{"order":"` + order + `","sum":1,"to":"bob"}`, want: http.StatusBadRequest},
		{name: "trailing data", body: body("1") + `{}`, want: http.StatusBadRequest},
		{name: "truncated", body: `{"order":"` + order + `","sum":1`, want: http.StatusBadRequest},
		{name: "100 KiB", body: `{"order":"` + order + `","sum":1,"x":"` + strings.Repeat("x", 100<<10) + `"}`, want: http.StatusBadRequest},
		{name: "sum array", body: body("[1]"), want: http.StatusUnprocessableEntity},
		{name: "not enough points", body: body("100.01"), want: http.StatusPaymentRequired},
	}
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, open)
			e.credit(t, "alice", num(5, 0), 10000)
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					code, hdr, resp := e.mustCall(t, http.MethodPost, "/api/user/balance/withdraw", webtest.Token("alice"), tt.body)
					assert.Equal(t, tt.want, code, resp)
					assert.Equal(t, "application/problem+json", hdr.Get("Content-Type"))
					var p struct {
						Status int    `json:"status"`
						Detail string `json:"detail"`
					}
					require.NoError(t, json.Unmarshal([]byte(resp), &p))
					assert.Equal(t, tt.want, p.Status)
					assert.NotEmpty(t, p.Detail)
					assert.NotContains(t, p.Detail, "internal")
				})
			}
			assert.Equal(t, Balance{Current: 10000}, e.balance(t, "alice"), "balance untouched")
			assert.Equal(t, int64(0), e.withdrawalCount(t))
			e.healthy(t)
		})
	}
}

func TestWithdrawServiceSum(t *testing.T) {
	e := newEnv(t, dbtest.Engines(t)["sqlite"](t))
	for _, sum := range []points.Amount{0, -1, points.Max + 1} {
		err := e.svc.Withdraw(context.Background(), "alice", ordernum.Number(num(6, 1)), sum)
		require.ErrorIs(t, err, ErrInvalidSum, "sum %d", sum)
	}
}

func TestMoneyRoundTrip(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, open)
			assert.JSONEq(t, `{"current":0,"withdrawn":0}`, e.balanceJSON(t, "alice"), "no balance row is 0 / 0")

			e.credit(t, "alice", num(7, 0), 72998)
			assert.Equal(t, `{"current":729.98,"withdrawn":0}`, e.balanceJSON(t, "alice"))
			e.credit(t, "alice", num(7, 1), 2725)
			assert.Equal(t, `{"current":757.23,"withdrawn":0}`, e.balanceJSON(t, "alice"))

			withdraw := func(user, order, sum string) {
				code, err := e.withdraw(user, order, sum)
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, code, sum)
			}
			withdraw("alice", num(7, 10), "0.01")
			assert.Equal(t, `{"current":757.22,"withdrawn":0.01}`, e.balanceJSON(t, "alice"))
			withdraw("alice", num(7, 11), "729.97998046875") // a float32 client's 729.98
			assert.Equal(t, `{"current":27.24,"withdrawn":729.99}`, e.balanceJSON(t, "alice"))
			withdraw("alice", num(7, 12), "19.989999771118164")
			withdraw("alice", num(7, 13), "7.245") // half-up
			assert.Equal(t, `{"current":0,"withdrawn":757.23}`, e.balanceJSON(t, "alice"))

			_, _, list := e.mustCall(t, http.MethodGet, "/api/user/withdrawals", webtest.Token("alice"), "")
			var items []item
			require.NoError(t, json.Unmarshal([]byte(list), &items))
			sums := map[string]string{}
			for _, it := range items {
				sums[it.Order] = string(it.Sum)
			}
			assert.Equal(t, map[string]string{
				num(7, 10): "0.01", num(7, 11): "729.98", num(7, 12): "19.99", num(7, 13): "7.25",
			}, sums)

			e.credit(t, "bob", num(7, 2), 999_999_999_999) // 9 999 999 999.99 points
			assert.Equal(t, `{"current":9999999999.99,"withdrawn":0}`, e.balanceJSON(t, "bob"))
			withdraw("bob", num(7, 20), "1234567.89")
			assert.Equal(t, `{"current":9998765432.1,"withdrawn":1234567.89}`, e.balanceJSON(t, "bob"))
			withdraw("bob", num(7, 21), "9998765432.10"+strings.Repeat("0", 45)) // scale is not size
			assert.Equal(t, `{"current":0,"withdrawn":9999999999.99}`, e.balanceJSON(t, "bob"))
			e.healthy(t)
		})
	}
}

func TestWithdrawals(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, open)
			token := webtest.Token("alice")
			code, _, body := e.mustCall(t, http.MethodGet, "/api/user/withdrawals", token, "")
			assert.Equal(t, http.StatusNoContent, code)
			assert.Empty(t, body)

			e.credit(t, "alice", num(8, 0), 100000)
			e.credit(t, "bob", num(8, 1), 100000)
			start := time.Date(2024, 3, 4, 5, 6, 7, 0, time.UTC)
			clock(e, start)
			for i := range 6 {
				code, err := e.withdraw("alice", num(8, 100+i), "1.5")
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, code)
			}
			code, err := e.withdraw("bob", num(8, 200), "2")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, code)

			code, hdr, body := e.mustCall(t, http.MethodGet, "/api/user/withdrawals", token, "")
			require.Equal(t, http.StatusOK, code)
			assert.Equal(t, "application/json", hdr.Get("Content-Type"))
			assert.Empty(t, hdr.Get("Content-Encoding"), "no gzip unless asked")
			var items []item
			require.NoError(t, json.Unmarshal([]byte(body), &items))
			require.Len(t, items, 6, "alice sees only hers")
			for i, it := range items {
				idx := 5 - i // newest first
				assert.Equal(t, num(8, 100+idx), it.Order)
				assert.Equal(t, "1.5", string(it.Sum))
				at, err := time.Parse(time.RFC3339, it.ProcessedAt)
				require.NoError(t, err)
				assert.True(t, at.Equal(start.Add(time.Duration(idx)*time.Second)), it.ProcessedAt)
			}
			assert.Equal(t, "2024-03-04T05:06:12Z", items[0].ProcessedAt)

			for _, path := range []string{"/api/user/withdrawals", "/api/user/withdrawals/page?limit=6"} {
				code, hdr, zipped := e.mustCall(t, http.MethodGet, path, token, "", "Accept-Encoding", "gzip")
				require.Equal(t, http.StatusOK, code)
				assert.Equal(t, "gzip", hdr.Get("Content-Encoding"), path)
				zr, err := gzip.NewReader(bytes.NewReader([]byte(zipped)))
				require.NoError(t, err)
				raw, err := io.ReadAll(zr)
				require.NoError(t, err)
				if path == "/api/user/withdrawals" {
					assert.JSONEq(t, body, string(raw))
				} else {
					assert.Contains(t, string(raw), `"items":[`)
				}
			}
			// Neither the balance nor a withdrawal is ever compressed.
			_, hdr, _ = e.mustCall(t, http.MethodGet, "/api/user/balance", token, "", "Accept-Encoding", "gzip")
			assert.Empty(t, hdr.Get("Content-Encoding"))
			code, hdr, _ = e.mustCall(t, http.MethodPost, "/api/user/balance/withdraw", token,
				`{"order":"`+num(8, 100)+`","sum":1.5}`, "Accept-Encoding", "gzip")
			assert.Equal(t, http.StatusOK, code)
			assert.Empty(t, hdr.Get("Content-Encoding"))
			code, hdr, _ = e.mustCall(t, http.MethodPost, "/api/user/balance/withdraw", token,
				`{"order":"`+num(8, 100)+`","sum":1000000}`, "Accept-Encoding", "gzip")
			assert.Equal(t, http.StatusUnprocessableEntity, code)
			assert.Empty(t, hdr.Get("Content-Encoding"))
		})
	}
}

type pageBody struct {
	Items      []item  `json:"items"`
	NextCursor *string `json:"next_cursor"`
}

func TestWithdrawalsPage(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, open)
			token := webtest.Token("alice")
			code, _, body := e.mustCall(t, http.MethodGet, "/api/user/withdrawals/page", token, "")
			assert.Equal(t, http.StatusOK, code)
			assert.JSONEq(t, `{"items":[]}`, body, "an empty page is 200, not 204")

			e.credit(t, "alice", num(9, 0), 100000)
			// Three withdrawals in one microsecond: the order number breaks the tie.
			at := time.Date(2024, 6, 7, 8, 9, 10, 654321000, time.UTC)
			clock(e, at)
			for i := range 4 {
				code, err := e.withdraw("alice", num(9, 100+i), "1")
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, code)
			}
			e.svc.now = func() time.Time { return at.Add(time.Hour) }
			for i := 4; i < 7; i++ {
				code, err := e.withdraw("alice", num(9, 100+i), "1")
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, code)
			}
			_, _, full := e.mustCall(t, http.MethodGet, "/api/user/withdrawals", token, "")
			var all []item
			require.NoError(t, json.Unmarshal([]byte(full), &all))
			require.Len(t, all, 7)

			var got []item
			cursor, pages := "", 0
			for {
				path := "/api/user/withdrawals/page?limit=2"
				if cursor != "" {
					path += "&cursor=" + cursor
				}
				code, _, body := e.mustCall(t, http.MethodGet, path, token, "")
				require.Equal(t, http.StatusOK, code, body)
				var p pageBody
				require.NoError(t, json.Unmarshal([]byte(body), &p))
				pages++
				got = append(got, p.Items...)
				if p.NextCursor == nil {
					break
				}
				assert.Len(t, p.Items, 2)
				cursor = *p.NextCursor
				require.LessOrEqual(t, pages, 4)
			}
			assert.Equal(t, 4, pages)
			assert.Equal(t, all, got, "the pages, in order, are the list")

			for _, q := range []string{"limit=0", "limit=501", "limit=ten", "cursor=***", "cursor=MTI6YWJj"} {
				code, _, body := e.mustCall(t, http.MethodGet, "/api/user/withdrawals/page?"+q, token, "")
				assert.Equal(t, http.StatusBadRequest, code, "%s: %s", q, body)
			}
		})
	}
}

func TestUnauthorized(t *testing.T) {
	e := newEnv(t, dbtest.Engines(t)["sqlite"](t))
	dbtest.CreateUser(t, e.db, "alice")
	e.credit(t, "alice", num(10, 0), 10000)
	endpoints := []struct{ method, path, body string }{
		{http.MethodGet, "/api/user/balance", ""},
		{http.MethodPost, "/api/user/balance/withdraw", `{"order":"` + num(10, 1) + `","sum":1}`},
		{http.MethodGet, "/api/user/withdrawals", ""},
		{http.MethodGet, "/api/user/withdrawals/page", ""},
	}
	for _, ep := range endpoints {
		for name, auth := range map[string]string{"none": "", "forged": "Bearer user", "not bearer": "Token " + webtest.Token("alice")} {
			t.Run(ep.method+" "+ep.path+" "+name, func(t *testing.T) {
				var hdr []string
				if auth != "" {
					hdr = []string{"Authorization", auth}
				}
				code, _, _ := e.mustCall(t, ep.method, ep.path, "", ep.body, hdr...)
				assert.Equal(t, http.StatusUnauthorized, code)
			})
		}
	}
	assert.Equal(t, Balance{Current: 10000}, e.balance(t, "alice"))
	assert.Equal(t, int64(0), e.withdrawalCount(t))
}

func TestCheckLedger(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, open)
			ctx := context.Background()
			e.healthy(t)
			dbtest.CreateUser(t, e.db, "carol")
			e.credit(t, "alice", num(11, 0), 1000)
			code, err := e.withdraw("alice", num(11, 1), "3")
			require.NoError(t, err)
			require.Equal(t, http.StatusOK, code)
			e.credit(t, "bob", num(11, 2), 0)
			e.healthy(t)

			exec := func(sql string, args ...any) { require.NoError(t, e.db.Conn(ctx).Exec(sql, args...).Error) }
			exec("UPDATE gm_balances SET current = current + 1 WHERE user_id = ?", "alice")
			exec("INSERT INTO gm_credits (order_number, user_id, amount, credited_at) VALUES (?, ?, ?, ?)",
				num(11, 3), "bob", 500, time.Now().UTC())
			exec("INSERT INTO gm_balances (user_id, current, withdrawn) VALUES (?, ?, ?)", "carol", 0, 200)

			v, err := e.svc.CheckLedger(ctx)
			require.NoError(t, err)
			require.Len(t, v, 3)
			assert.Equal(t, Violation{UserID: "alice", HasBalance: true, Current: 701, Withdrawn: 300, Credited: 1000, Spent: 300}, v[0])
			assert.Equal(t, "user alice: current 7.01 != credited 10.00 - spent 3.00", v[0].String())
			assert.Equal(t, Violation{UserID: "bob", Credited: 500}, v[1])
			assert.Equal(t, "user bob: current 0.00 != credited 5.00 - spent 0.00; no balance row", v[1].String())
			assert.Equal(t, Violation{UserID: "carol", HasBalance: true, Withdrawn: 200}, v[2])
			assert.Equal(t, "user carol: withdrawn 2.00 != spent 0.00", v[2].String())
		})
	}
}

// A credit that would take a balance past MaxBalance is refused whole, on both engines: without the
// guard PostgreSQL fails on bigint overflow and SQLite silently turns the balance into a float.
func TestCreditOverflowRefused(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, open)
			ctx := context.Background()
			big := points.Max // the largest credit an accrual answer can carry
			for i := range 1000 {
				e.credit(t, "alice", num(7, i), big)
			}
			assert.Equal(t, Balance{Current: MaxBalance}, e.balance(t, "alice"))
			err := e.db.InTx(ctx, func(ctx context.Context) error {
				return e.svc.Credit(ctx, "alice", ordernum.Number(num(7, 1000)), 1)
			})
			require.ErrorIs(t, err, ErrBalanceOverflow)
			assert.Equal(t, Balance{Current: MaxBalance}, e.balance(t, "alice"), "nothing changed")
			var credits int64
			require.NoError(t, e.db.Conn(ctx).Model(&creditRow{}).Where("order_number = ?", num(7, 1000)).Count(&credits).Error)
			assert.Zero(t, credits, "the refused credit left no row: it can be credited once fixed")
			require.ErrorIs(t, e.svc.Credit(ctx, "bob", ordernum.Number(num(7, 1001)), MaxBalance+1), ErrBalanceOverflow)
			e.healthy(t)
		})
	}
}

// A valid token whose user the database does not hold is answered 401, not a foreign-key 500.
func TestWithdrawUnknownUser(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, open)
			code, err := e.withdraw("ghost", num(9, 1), "1")
			require.NoError(t, err)
			assert.Equal(t, http.StatusUnauthorized, code)
			assert.Equal(t, int64(0), e.withdrawalCount(t))
		})
	}
}

// getList sends GET path as alice over a real connection, asking for gzip or not, with a client that
// leaves Content-Encoding alone, and returns the answer with its body inflated.
func getList(t *testing.T, base, path string, gzipped bool) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, base+path, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+webtest.Token("alice"))
	if gzipped {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	if gzipped {
		require.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
		zr, err := gzip.NewReader(bytes.NewReader(body))
		require.NoError(t, err)
		body, err = io.ReadAll(zr)
		require.NoError(t, err)
	} else {
		require.Empty(t, resp.Header.Get("Content-Encoding"))
	}
	return resp, body
}

// A list longer than one chunk is streamed, complete and in order, compressed or not, and is byte for
// byte the JSON of the whole list.
func TestWithdrawalsLongIsStreamedWhole(t *testing.T) {
	const count = 2*listChunk + 34
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setup(t, open)
			seedWithdrawals(t, e.db, "alice", 26, count)
			seedWithdrawals(t, e.db, "bob", 27, 3)
			all, err := NewStore(e.db).WithdrawalsPage(context.Background(), "alice", nil, count+1)
			require.NoError(t, err)
			require.Len(t, all, count)
			want, err := json.Marshal(toItems(all))
			require.NoError(t, err)

			base := webtest.Serve(t, e.app)
			for _, gzipped := range []bool{false, true} {
				resp, body := getList(t, base, "/api/user/withdrawals", gzipped)
				require.Equal(t, http.StatusOK, resp.StatusCode)
				assert.Equal(t, []string{"chunked"}, resp.TransferEncoding, "streamed")
				assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
				assert.Equal(t, string(want), string(body), "gzip=%v", gzipped)
			}
			var items []item
			require.NoError(t, json.Unmarshal(want, &items))
			assert.Equal(t, num(26, count-1), items[0].Order, "newest first")
			assert.Equal(t, num(26, 0), items[count-1].Order)
			assert.Equal(t, "0.01", string(items[count-1].Sum), "exact amounts")
			assert.Equal(t, "13.01", string(items[count-1-100].Sum))
		})
	}
}
