package calculator

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/gophermart/gophermart/modules/platform/ordernum"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// luhn appends the Luhn check digit to digits.
func luhn(digits string) string { return string(ordernum.WithCheckDigit(digits)) }

func TestLuhnHelper(t *testing.T) {
	assert.Equal(t, "12345678903", luhn("1234567890"))
	assert.Equal(t, "2377225624", luhn("237722562"))
}

func TestAPI(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ts := newTestService(t, open(t), testConfig())
			t.Run("goods", testGoods(ts))
			t.Run("orders", testOrders(ts))
			t.Run("spec examples", func(t *testing.T) {
				specExamples(t, newTestService(t, open(t), testConfig()), "") // no mechanics but the SPEC's
			})
			t.Run("concurrent registration", testConcurrentRegistration(ts))
		})
	}
}

func testGoods(ts *testService) func(t *testing.T) {
	return func(t *testing.T) {
		tests := []struct {
			name       string
			body       string
			wantStatus int
			wantDetail string
		}{
			{"percent", `{"match":"Bork","reward":10,"reward_type":"%"}`, http.StatusOK, ""},
			{"points with decimals", `{"match":"Coca-Cola","reward":12.5,"reward_type":"pt"}`, http.StatusOK, ""},
			{"exact many decimals", `{"match":"Many","reward":0.1234567890123,"reward_type":"%"}`, http.StatusOK, ""},
			{"match exists", `{"match":"Bork","reward":5,"reward_type":"pt"}`, http.StatusConflict, ErrMatchExists.Error()},
			{"empty match", `{"match":"","reward":10,"reward_type":"%"}`, http.StatusBadRequest, "match"},
			{"missing match", `{"reward":10,"reward_type":"%"}`, http.StatusBadRequest, "match"},
			{"reward zero", `{"match":"Zero","reward":0,"reward_type":"%"}`, http.StatusBadRequest, "reward"},
			{"reward negative", `{"match":"Neg","reward":-1,"reward_type":"pt"}`, http.StatusBadRequest, "reward"},
			{"reward missing", `{"match":"NoReward","reward_type":"pt"}`, http.StatusBadRequest, "reward"},
			{"reward as string", `{"match":"Str","reward":"10","reward_type":"%"}`, http.StatusBadRequest, "reward"},
			{"reward null", `{"match":"Null","reward":null,"reward_type":"%"}`, http.StatusBadRequest, "reward"},
			{"reward_type unknown", `{"match":"Type","reward":10,"reward_type":"points"}`, http.StatusBadRequest, "reward_type"},
			{"reward_type missing", `{"match":"Type","reward":10}`, http.StatusBadRequest, "reward_type"},
			{"bad JSON", `{"match":"Bork",`, http.StatusBadRequest, "malformed JSON"},
			{"unknown field", `{"match":"X","reward":1,"reward_type":"%","extra":1}`, http.StatusBadRequest, "unknown field"},
			{"trailing data", `{"match":"X","reward":1,"reward_type":"%"} {}`, http.StatusBadRequest, "trailing"},
			{"not an object", `[1]`, http.StatusBadRequest, "JSON object"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := ts.do(t, http.MethodPost, "/api/goods", tt.body)
				require.Equal(t, tt.wantStatus, r.status, r.body)
				if tt.wantStatus >= 400 {
					assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
					assert.Contains(t, r.body, tt.wantDetail)
				}
			})
		}
		r := ts.do(t, http.MethodPost, "/api/goods", "")
		assert.Equal(t, http.StatusBadRequest, r.status, "empty body")
	}
}

func testOrders(ts *testService) func(t *testing.T) {
	return func(t *testing.T) {
		n := luhn("1000000001")
		tests := []struct {
			name       string
			body       string
			wantStatus int
			wantDetail string
		}{
			{"accepted", `{"order":"` + n + `","goods":[{"description":"Bork kettle","price":7000}]}`, http.StatusAccepted, ""},
			{"already registered", `{"order":"` + n + `","goods":[]}`, http.StatusConflict, ErrOrderExists.Error()},
			{"already registered, surrounding space", `{"order":" ` + n + ` ","goods":[]}`, http.StatusConflict, ErrOrderExists.Error()},
			{"empty goods", `{"order":"` + luhn("1000000002") + `","goods":[]}`, http.StatusAccepted, ""},
			{"no goods field", `{"order":"` + luhn("1000000003") + `"}`, http.StatusAccepted, ""},
			{"price zero", `{"order":"` + luhn("1000000004") + `","goods":[{"description":"x","price":0}]}`, http.StatusAccepted, ""},
			{"fails Luhn", `{"order":"12345678901","goods":[]}`, http.StatusBadRequest, "Luhn"},
			{"not digits", `{"order":"12a45","goods":[]}`, http.StatusBadRequest, "order"},
			{"empty order", `{"order":"","goods":[]}`, http.StatusBadRequest, "order"},
			{"order as a number", `{"order":12345678903,"goods":[]}`, http.StatusBadRequest, "order"},
			{"negative price", `{"order":"` + luhn("1000000005") + `","goods":[{"description":"x","price":-1}]}`, http.StatusBadRequest, "goods[0].price"},
			{"missing price", `{"order":"` + luhn("1000000005") + `","goods":[{"description":"x"}]}`, http.StatusBadRequest, "goods[0].price"},
			{"price as string", `{"order":"` + luhn("1000000005") + `","goods":[{"description":"x","price":"7"}]}`, http.StatusBadRequest, "goods[0].price"},
			{"missing description", `{"order":"` + luhn("1000000005") + `","goods":[{"description":"a","price":1},{"price":1}]}`, http.StatusBadRequest, "goods[1].description"},
			{"null good", `{"order":"` + luhn("1000000005") + `","goods":[null]}`, http.StatusBadRequest, "goods[0]"},
			{"unknown field", `{"order":"` + luhn("1000000005") + `","goods":[],"user":1}`, http.StatusBadRequest, "unknown field"},
			{"unknown good field", `{"order":"` + luhn("1000000005") + `","goods":[{"description":"x","price":1,"qty":2}]}`, http.StatusBadRequest, "unknown field"},
			{"bad JSON", `{"order":`, http.StatusBadRequest, "malformed JSON"},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				r := ts.do(t, http.MethodPost, "/api/orders", tt.body)
				require.Equal(t, tt.wantStatus, r.status, r.body)
				if tt.wantStatus >= 400 {
					assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
					assert.Contains(t, r.body, tt.wantDetail)
				}
			})
		}
		// The rejected number was never registered.
		assert.Equal(t, http.StatusNoContent, ts.do(t, http.MethodGet, "/api/orders/"+luhn("1000000005"), "").status)

		t.Run("GET codes", func(t *testing.T) {
			r := ts.do(t, http.MethodGet, "/api/orders/"+n, "")
			require.Equal(t, http.StatusOK, r.status)
			assert.Equal(t, "application/json", r.header.Get("Content-Type"))
			assert.Regexp(t, `^\{"order":"`+n+`","status":"(REGISTERED|PROCESSING|PROCESSED)"`, r.body)

			for _, unknown := range []string{luhn("99999999"), "12345678901", "abc"} {
				r := ts.do(t, http.MethodGet, "/api/orders/"+unknown, "")
				assert.Equal(t, http.StatusNoContent, r.status, unknown)
				assert.Empty(t, r.body)
			}
		})

		t.Run("empty goods: PROCESSED without accrual", func(t *testing.T) {
			for _, n := range []string{luhn("1000000002"), luhn("1000000003")} {
				got := ts.waitFinal(t, "", n)
				assert.Equal(t, map[string]any{"order": n, "status": StatusProcessed}, got)
			}
		})

		t.Run("gzip request body", func(t *testing.T) {
			var buf bytes.Buffer
			zw := gzip.NewWriter(&buf)
			_, _ = zw.Write([]byte(`{"order":"` + luhn("1000000006") + `","goods":[]}`))
			require.NoError(t, zw.Close())
			req := httptest.NewRequest(http.MethodPost, "/api/orders", &buf)
			req.Header.Set("Content-Encoding", "gzip")
			resp, err := ts.app.Test(req, -1)
			require.NoError(t, err)
			_ = resp.Body.Close()
			assert.Equal(t, http.StatusAccepted, resp.StatusCode)
		})
	}
}

// specExamples runs the SPEC's calculation examples through the API (under prefix).
func specExamples(tb testing.TB, ts *testService, prefix string) {
	tb.Helper()
	for _, m := range []string{
		`{"match":"Bork","reward":5,"reward_type":"%"}`,
		`{"match":"Pringles","reward":10,"reward_type":"%"}`,
		`{"match":"Coca-Cola","reward":12.5,"reward_type":"pt"}`,
	} {
		r := ts.do(tb, http.MethodPost, prefix+"/api/goods", m)
		require.Equal(tb, http.StatusOK, r.status, r.body)
	}
	kettle, snacks, chair := luhn("2000000001"), luhn("2000000002"), luhn("2000000003")
	for _, body := range []string{
		`{"order":"` + kettle + `","goods":[{"description":"Чайник Bork","price":14599.50}]}`,
		`{"order":"` + snacks + `","goods":[{"description":"Чипсы Pringles бекон","price":147.5},` +
			`{"description":"Напиток Coca-Cola Zero 0.5л","price":55}]}`,
		`{"order":"` + chair + `","goods":[{"description":"Стул IKEA","price":1000}]}`,
	} {
		r := ts.do(tb, http.MethodPost, prefix+"/api/orders", body)
		require.Equal(tb, http.StatusAccepted, r.status, r.body)
	}
	assert.Equal(tb, map[string]any{"order": kettle, "status": StatusProcessed, "accrual": 729.98}, ts.waitFinal(tb, prefix, kettle))
	assert.Equal(tb, map[string]any{"order": snacks, "status": StatusProcessed, "accrual": 27.25}, ts.waitFinal(tb, prefix, snacks))
	assert.Equal(tb, map[string]any{"order": chair, "status": StatusProcessed}, ts.waitFinal(tb, prefix, chair))
	// The accrual is an exact JSON number, never a string or float noise.
	r := ts.do(tb, http.MethodGet, prefix+"/api/orders/"+kettle, "")
	assert.JSONEq(tb, `{"order":"`+kettle+`","status":"PROCESSED","accrual":729.98}`, r.body)
	assert.Contains(tb, r.body, `"accrual":729.98}`)
}

func testConcurrentRegistration(ts *testService) func(t *testing.T) {
	return func(t *testing.T) {
		n := luhn("3000000001")
		const clients = 16
		statuses := make([]int, clients)
		var wg sync.WaitGroup
		for i := range clients {
			wg.Go(func() {
				req := httptest.NewRequest(http.MethodPost, "/api/orders",
					strings.NewReader(`{"order":"`+n+`","goods":[{"description":"x","price":`+fmt.Sprint(i)+`}]}`))
				resp, err := ts.app.Test(req, -1)
				if err != nil {
					statuses[i] = -1
					return
				}
				_ = resp.Body.Close()
				statuses[i] = resp.StatusCode
			})
		}
		wg.Wait()
		count := map[int]int{}
		for _, s := range statuses {
			count[s]++
		}
		assert.Equal(t, map[int]int{http.StatusAccepted: 1, http.StatusConflict: clients - 1}, count)
	}
}
