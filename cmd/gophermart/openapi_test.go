package main

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/gophermart/gophermart/modules/platform/ordernum"

	"github.com/gofiber/fiber/v2"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/gophermart/gophermart/config"
	"github.com/gophermart/gophermart/docs/openapi"
	"github.com/gophermart/gophermart/docs/openapi/openapitest"
	"github.com/gophermart/gophermart/modules/calculator"
	"github.com/gophermart/gophermart/modules/platform/apidoc"
	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/web"
)

// These tests hold the composition root to docs/openapi/gophermart.yaml: the routes the real server
// registers (serveOptions, every module) are exactly the documented operations, and every answer of
// a real flow, errors included, is one the document describes.

// specApp is the started service's public server and, in built-in mode (no accrual address), the
// built-in accrual service's own server (nil otherwise).
type specApp struct {
	fx.In
	Server  *web.Server
	Accrual *calculator.Server `optional:"true"`
}

// specServers builds the whole service as `gophermart serve` does, with args as its command line
// (a later flag overrides an earlier one), on a fresh database of the engine, and starts it
// (listening on free loopback ports).
func specServers(t *testing.T, engine string, args ...string) specApp {
	t.Helper()
	fs := pflag.NewFlagSet("gophermart", pflag.ContinueOnError)
	config.AddFlags(fs)
	args = append([]string{"--run-address=127.0.0.1:0", "--database-uri=" + dbtest.URI(t, engine), "--log-level=error"}, args...)
	require.NoError(t, fs.Parse(args))
	cfg, err := config.Load(fs)
	require.NoError(t, err)
	var got specApp
	app := fxtest.New(t, serveOptions(cfg), fx.Populate(&got))
	app.RequireStart()
	t.Cleanup(app.RequireStop)
	return got
}

// specLuhn appends the Luhn check digit to digits.
func specLuhn(digits string) string { return string(ordernum.WithCheckDigit(digits)) }

// specCall is one request of the flow.
type specCall struct {
	method, path string
	body         string
	contentType  string
	token        string // bearer token; "" sends none
	cookie       string // gophermart_token cookie; "" sends none
	header       map[string]string
}

func (c specCall) request() *http.Request {
	req := httptest.NewRequest(c.method, c.path, strings.NewReader(c.body))
	if c.contentType != "" {
		req.Header.Set("Content-Type", c.contentType)
	}
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	if c.cookie != "" {
		req.AddCookie(&http.Cookie{Name: web.CookieName, Value: c.cookie})
	}
	for k, v := range c.header {
		req.Header.Set(k, v)
	}
	return req
}

func specGzip(t *testing.T, b []byte) string {
	t.Helper()
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, err := zw.Write(b)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	return buf.String()
}

// TestOpenAPIRoutesAreDocumented: the routes of the whole service, as serveOptions composes it in
// built-in mode (no accrual address), are exactly gophermart.yaml's operations; the built-in accrual
// service's own server has exactly accrual.yaml's /api operations, and nothing undocumented.
func TestOpenAPIRoutesAreDocumented(t *testing.T) {
	app := specServers(t, "sqlite")
	openapitest.AssertSameRoutes(t, openapitest.New(t, openapi.Gophermart).Operations(), openapitest.Routes(t, app.Server.App()))

	require.NotNil(t, app.Accrual, "built-in mode runs the accrual service")
	accrualOps := openapitest.New(t, openapi.Accrual).Operations()
	var accrualAPI, builtinAPI []string
	for _, op := range accrualOps {
		if strings.Contains(op, " /api/") {
			accrualAPI = append(accrualAPI, op)
		}
	}
	for _, r := range openapitest.Routes(t, app.Accrual.App()) {
		if strings.Contains(r, " /api/") {
			builtinAPI = append(builtinAPI, r)
			continue
		}
		assert.Contains(t, accrualOps, r, "the built-in accrual server's routes are documented")
	}
	openapitest.AssertSameRoutes(t, accrualAPI, builtinAPI)
}

// TestOpenAPIAnswersMatchTheDocument walks the whole API of the real service, on each database
// engine, in built-in mode (the in-process accrual service really computes the points): register, login, upload, list,
// balance, withdraw, withdrawals and their pages, and the error answers (400, 401, 402, 409, 413,
// 415, 422, 429). Every answer is checked against gophermart.yaml (the built-in accrual service's
// against accrual.yaml), and every documented operation of gophermart.yaml must be reached.
func TestOpenAPIAnswersMatchTheDocument(t *testing.T) {
	for _, engine := range dbtest.EngineNames(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			specFlow(t, engine)
		})
	}
}

func specFlow(t *testing.T, engine string) {
	t.Helper()
	// Built-in mode (no accrual address): the accrual service runs in-process on its own listener.
	app := specServers(t, engine, "--login-max-failures=2", "--max-pending-orders=3")
	gm := app.Server.App()
	doc := openapitest.New(t, openapi.Gophermart)
	accDoc := openapitest.New(t, openapi.Accrual)

	const jsonCT = fiber.MIMEApplicationJSON
	do := func(c specCall) openapitest.Response { t.Helper(); return doc.Do(t, gm, c.request()) }
	valid := func(c specCall) openapitest.Response { t.Helper(); return doc.DoValid(t, gm, c.request()) }
	status := func(want int, r openapitest.Response, what string) {
		t.Helper()
		assert.Equal(t, want, r.Status, "%s: %s", what, r.Body)
	}

	for _, path := range []string{"/healthz", "/readyz", "/metrics", apidoc.SpecPath, apidoc.DocsPath, apidoc.AssetsPath + "docs.js"} {
		status(http.StatusOK, valid(specCall{method: http.MethodGet, path: path}), path)
	}
	status(http.StatusFound, valid(specCall{method: http.MethodGet, path: apidoc.RootPath}), "/ leads to the docs")
	status(http.StatusNotFound, do(specCall{method: http.MethodGet, path: apidoc.AssetsPath + "index.html"}), "no such asset")

	// Accounts.
	alice := `{"login":"alice","password":"correct horse"}`
	r := valid(specCall{method: http.MethodPost, path: "/api/user/register", body: alice, contentType: jsonCT})
	status(http.StatusOK, r, "register")
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	require.True(t, ok, "register answers the token")
	r = valid(specCall{method: http.MethodPost, path: "/api/user/register", body: `{"login":"bob","password":"bob's secret"}`, contentType: jsonCT})
	status(http.StatusOK, r, "register bob")
	bob := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
	status(http.StatusConflict, valid(specCall{method: http.MethodPost, path: "/api/user/register", body: `{"login":"ALICE","password":"another one"}`, contentType: jsonCT}), "login taken")
	for _, body := range []string{`{"login":"","password":"long enough"}`, `{"login":"carol","password":"short"}`, `{"login":"carol"}`, `{"login":`, ``} {
		status(http.StatusBadRequest, do(specCall{method: http.MethodPost, path: "/api/user/register", body: body, contentType: jsonCT}), body)
	}
	status(http.StatusUnsupportedMediaType, do(specCall{method: http.MethodPost, path: "/api/user/register", body: alice, contentType: jsonCT, header: map[string]string{"Content-Encoding": "br"}}), "br body")
	bomb := specGzip(t, make([]byte, 2<<20))
	status(http.StatusRequestEntityTooLarge, do(specCall{method: http.MethodPost, path: "/api/user/register", body: bomb, contentType: jsonCT, header: map[string]string{"Content-Encoding": "gzip"}}), "inflated over the cap")

	r = valid(specCall{method: http.MethodPost, path: "/api/user/login", body: alice, contentType: jsonCT})
	status(http.StatusOK, r, "login")
	cookie := ""
	for _, c := range (&http.Response{Header: r.Header}).Cookies() {
		if c.Name == web.CookieName {
			cookie = c.Value
		}
	}
	require.NotEmpty(t, cookie, "login sets the cookie")
	status(http.StatusBadRequest, do(specCall{method: http.MethodPost, path: "/api/user/login", body: `{"login":"alice"}`, contentType: jsonCT}), "login without password")
	wrong := `{"login":"bob","password":"not bob's"}`
	status(http.StatusUnauthorized, valid(specCall{method: http.MethodPost, path: "/api/user/login", body: wrong, contentType: jsonCT}), "wrong password")
	status(http.StatusUnauthorized, valid(specCall{method: http.MethodPost, path: "/api/user/login", body: wrong, contentType: jsonCT}), "wrong password again")
	r = valid(specCall{method: http.MethodPost, path: "/api/user/login", body: wrong, contentType: jsonCT})
	status(http.StatusTooManyRequests, r, "throttled")
	assert.NotEmpty(t, r.Header.Get("Retry-After"))

	// Credentials.
	status(http.StatusUnauthorized, do(specCall{method: http.MethodGet, path: "/api/user/orders"}), "no credentials")
	status(http.StatusUnauthorized, do(specCall{method: http.MethodGet, path: "/api/user/balance", token: "forged.token.here"}), "forged token")
	status(http.StatusUnauthorized, do(specCall{method: http.MethodGet, path: "/api/user/withdrawals", cookie: "forged"}), "forged cookie")

	// Nothing yet.
	status(http.StatusNoContent, valid(specCall{method: http.MethodGet, path: "/api/user/orders", token: token}), "no orders")
	status(http.StatusNoContent, valid(specCall{method: http.MethodGet, path: "/api/user/withdrawals", token: token}), "no withdrawals")
	status(http.StatusOK, valid(specCall{method: http.MethodGet, path: "/api/user/orders/page", token: token}), "empty orders page")
	status(http.StatusOK, valid(specCall{method: http.MethodGet, path: "/api/user/withdrawals/page", token: token}), "empty withdrawals page")
	r = valid(specCall{method: http.MethodGet, path: "/api/user/balance", cookie: cookie})
	status(http.StatusOK, r, "balance by cookie")
	assert.JSONEq(t, `{"current":0,"withdrawn":0}`, string(r.Body))

	// Orders: the accrual service learns about the purchases, gophermart about the numbers.
	orders := []string{specLuhn("7352001"), specLuhn("7352002"), specLuhn("7352003")}
	accCall := func(path, body string, want int) {
		t.Helper()
		req := httptest.NewRequest(http.MethodPost, path, strings.NewReader(body))
		req.Header.Set("Content-Type", jsonCT)
		// Over loopback TCP, at the built-in accrual service's own address.
		assert.Equal(t, want, accDoc.DoValid(t, openapitest.Over(app.Accrual.Addr()), req).Status, path)
	}
	accCall("/api/goods", `{"match":"Bork","reward":5,"reward_type":"%"}`, http.StatusOK)
	accCall("/api/orders", `{"order":"`+orders[0]+`","goods":[{"description":"Чайник Bork","price":14599.50}]}`, http.StatusAccepted)
	accCall("/api/orders", `{"order":"`+orders[1]+`","goods":[{"description":"Утюг Bork","price":200}]}`, http.StatusAccepted)
	for _, n := range orders {
		status(http.StatusAccepted, valid(specCall{method: http.MethodPost, path: "/api/user/orders", body: n, contentType: fiber.MIMETextPlain, token: token}), "upload "+n)
	}
	status(http.StatusOK, valid(specCall{method: http.MethodPost, path: "/api/user/orders", body: " " + orders[0] + "\n", contentType: fiber.MIMETextPlain, token: token}), "upload again")
	status(http.StatusConflict, valid(specCall{method: http.MethodPost, path: "/api/user/orders", body: orders[0], contentType: fiber.MIMETextPlain, token: bob}), "another user's order")
	// Bob's numbers are unknown to the accrual system, so they stay NEW: the fourth is over his cap.
	for i := range 3 {
		status(http.StatusAccepted, valid(specCall{method: http.MethodPost, path: "/api/user/orders", body: specLuhn(fmt.Sprint(7353001 + i)), contentType: fiber.MIMETextPlain, token: bob}), "bob's upload")
	}
	r = valid(specCall{method: http.MethodPost, path: "/api/user/orders", body: specLuhn("7353004"), contentType: fiber.MIMETextPlain, token: bob})
	status(http.StatusTooManyRequests, r, "over the pending cap")
	assert.Equal(t, "60", r.Header.Get("Retry-After"))
	status(http.StatusOK, valid(specCall{method: http.MethodPost, path: "/api/user/orders", body: specLuhn("7353001"), contentType: fiber.MIMETextPlain, token: bob}), "his own again, at the cap")
	status(http.StatusConflict, valid(specCall{method: http.MethodPost, path: "/api/user/orders", body: orders[1], contentType: fiber.MIMETextPlain, token: bob}), "alice's, at the cap")
	status(http.StatusUnprocessableEntity, do(specCall{method: http.MethodPost, path: "/api/user/orders", body: "12345678901", contentType: fiber.MIMETextPlain, token: token}), "fails Luhn")
	status(http.StatusUnprocessableEntity, do(specCall{method: http.MethodPost, path: "/api/user/orders", body: "12ab", contentType: fiber.MIMETextPlain, token: token}), "not digits")
	status(http.StatusBadRequest, do(specCall{method: http.MethodPost, path: "/api/user/orders", body: " ", contentType: fiber.MIMETextPlain, token: token}), "empty")

	// Every state the list shows on the way is checked; the wait ends when both purchases are credited.
	var list []struct {
		Number  string   `json:"number"`
		Status  string   `json:"status"`
		Accrual *float64 `json:"accrual"`
	}
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		r = valid(specCall{method: http.MethodGet, path: "/api/user/orders", token: token})
		require.Equal(t, http.StatusOK, r.Status)
		require.NoError(t, json.Unmarshal(r.Body, &list))
		if len(list) == 3 && list[2].Status == "PROCESSED" && list[1].Status == "PROCESSED" {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	require.Len(t, list, 3)
	require.Equal(t, "PROCESSED", list[2].Status, "the first upload is credited: %s", r.Body)
	require.NotNil(t, list[2].Accrual)
	assert.InDelta(t, 729.98, *list[2].Accrual, 1e-9)

	r = valid(specCall{method: http.MethodGet, path: "/api/user/balance", token: token})
	status(http.StatusOK, r, "balance")
	assert.JSONEq(t, `{"current":739.98,"withdrawn":0}`, string(r.Body))

	// Withdrawals.
	w1, w2, w3 := specLuhn("9901"), specLuhn("9902"), specLuhn("9903")
	withdraw := func(body string) specCall {
		return specCall{method: http.MethodPost, path: "/api/user/balance/withdraw", body: body, contentType: jsonCT, token: token}
	}
	status(http.StatusOK, valid(withdraw(`{"order":"`+w1+`","sum":729.97998046875}`)), "withdraw a float32-widened sum")
	status(http.StatusOK, valid(withdraw(`{"order":"`+w1+`","sum":729.98}`)), "the same withdrawal again")
	status(http.StatusUnprocessableEntity, valid(withdraw(`{"order":"`+w1+`","sum":1}`)), "the same order with another sum")
	status(http.StatusPaymentRequired, valid(withdraw(`{"order":"`+w2+`","sum":10.01}`)), "more than the balance")
	status(http.StatusOK, valid(withdraw(`{"order":"`+w2+`","sum":4}`)), "withdraw")
	status(http.StatusOK, valid(withdraw(`{"order":"`+w3+`","sum":1.5}`)), "withdraw")
	status(http.StatusUnprocessableEntity, do(withdraw(`{"order":"12345678901","sum":1}`)), "order fails Luhn")
	status(http.StatusUnprocessableEntity, do(withdraw(`{"order":"`+specLuhn("9904")+`","sum":0.001}`)), "zero after rounding")
	status(http.StatusUnprocessableEntity, do(withdraw(`{"order":"`+specLuhn("9904")+`","sum":"1"}`)), "sum as a string")
	status(http.StatusBadRequest, do(withdraw(`{"order":"`+specLuhn("9904")+`","sum":1,"extra":1}`)), "unknown field")
	r = valid(specCall{method: http.MethodGet, path: "/api/user/balance", token: token})
	assert.JSONEq(t, `{"current":4.5,"withdrawn":735.48}`, string(r.Body))
	r = valid(specCall{method: http.MethodGet, path: "/api/user/withdrawals", token: token})
	status(http.StatusOK, r, "withdrawals")

	// Pages, followed to the end; bad limits and cursors.
	for _, list := range []string{"/api/user/orders/page", "/api/user/withdrawals/page"} {
		seen, cursor := 0, ""
		for range 5 {
			r = valid(specCall{method: http.MethodGet, path: list + "?limit=2&cursor=" + url.QueryEscape(cursor), token: token})
			require.Equal(t, http.StatusOK, r.Status, "%s: %s", list, r.Body)
			var page struct {
				Items      []json.RawMessage `json:"items"`
				NextCursor string            `json:"next_cursor"`
			}
			require.NoError(t, json.Unmarshal(r.Body, &page))
			seen += len(page.Items)
			if cursor = page.NextCursor; cursor == "" {
				break
			}
		}
		assert.Equal(t, 3, seen, list)
		for _, query := range []string{"?limit=0", "?limit=501", "?limit=ten", "?cursor=not-a-cursor!"} {
			status(http.StatusBadRequest, do(specCall{method: http.MethodGet, path: list + query, token: token}), list+query)
		}
	}

	doc.AssertAllExercised(t)
}
