package openapi_test

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/docs/openapi"
	"github.com/gophermart/gophermart/docs/openapi/openapitest"
	"github.com/gophermart/gophermart/modules/calculator"
	"github.com/gophermart/gophermart/modules/platform/apidoc"
	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/web/webtest"
)

// accrualApp is the accrual service's real HTTP edge (web.Server with the calculator's routes and
// the document's own routes) on a fresh SQLite database, with the processing loop running.
func accrualApp(t *testing.T, cfg calculator.Config) *fiber.App {
	t.Helper()
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	d := dbtest.Open(t, "sqlite")
	require.NoError(t, calculator.Migrate(context.Background(), d, log))
	store := calculator.NewStore(d)
	proc := calculator.NewProcessor(cfg, store, log)
	gate, err := calculator.NewGate(cfg)
	require.NoError(t, err)
	proc.Start()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, proc.Stop(ctx))
		assert.NoError(t, gate.Close())
	})
	docs, err := apidoc.Routes(openapi.Accrual)
	require.NoError(t, err)
	return webtest.New(calculator.NewRoutes(calculator.NewService(store, proc), gate, log), docs)
}

func request(method, target, contentType, body string) *http.Request {
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := httptest.NewRequest(method, target, r)
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	return req
}

// TestAccrualAnswersMatchTheDocument walks the accrual API with real requests, the wrong ones
// included, and checks every answer against accrual.yaml; it must reach every operation.
func TestAccrualAnswersMatchTheDocument(t *testing.T) {
	c := openapitest.New(t, openapi.Accrual)
	cfg := calculator.DefaultConfig()
	cfg.ProcessingDelay = 5 * time.Millisecond
	app := accrualApp(t, cfg)
	const jsonCT = fiber.MIMEApplicationJSON

	t.Run("goods", func(t *testing.T) {
		r := c.DoValid(t, app, request(http.MethodPost, "/api/goods", jsonCT, `{"match":"Bork","reward":10,"reward_type":"%"}`))
		assert.Equal(t, http.StatusOK, r.Status)
		r = c.DoValid(t, app, request(http.MethodPost, "/api/goods", jsonCT, `{"match":"Pringles","reward":12.5,"reward_type":"pt"}`))
		assert.Equal(t, http.StatusOK, r.Status)
		r = c.DoValid(t, app, request(http.MethodPost, "/api/goods", jsonCT, `{"match":"Bork","reward":5,"reward_type":"pt"}`))
		assert.Equal(t, http.StatusConflict, r.Status)
		for _, body := range []string{
			`{"match":"","reward":10,"reward_type":"%"}`,
			`{"match":"X","reward":0,"reward_type":"%"}`,
			`{"match":"X","reward":10,"reward_type":"points"}`,
			`{"match":"X","reward":"10","reward_type":"%"}`,
			`{"match":"X"`,
			``,
		} {
			r = c.Do(t, app, request(http.MethodPost, "/api/goods", jsonCT, body))
			assert.Equal(t, http.StatusBadRequest, r.Status, body)
		}
		req := request(http.MethodPost, "/api/goods", jsonCT, `{"match":"Y","reward":1,"reward_type":"pt"}`)
		req.Header.Set("Content-Encoding", "br")
		assert.Equal(t, http.StatusUnsupportedMediaType, c.Do(t, app, req).Status)
	})

	const order = "12345678903"
	t.Run("orders", func(t *testing.T) {
		r := c.DoValid(t, app, request(http.MethodGet, "/api/orders/"+order, "", ""))
		assert.Equal(t, http.StatusNoContent, r.Status, "not registered yet")
		body := `{"order":"` + order + `","goods":[{"description":"Чайник Bork","price":7000},{"description":"Pringles","price":3}]}`
		r = c.DoValid(t, app, request(http.MethodPost, "/api/orders", jsonCT, body))
		assert.Equal(t, http.StatusAccepted, r.Status)
		r = c.DoValid(t, app, request(http.MethodPost, "/api/orders", jsonCT, body))
		assert.Equal(t, http.StatusConflict, r.Status)
		r = c.DoValid(t, app, request(http.MethodPost, "/api/orders", jsonCT, `{"order":"79927398713"}`))
		assert.Equal(t, http.StatusAccepted, r.Status, "an order without goods is accepted")
		for _, body := range []string{
			`{"order":"12345678901","goods":[]}`, // fails Luhn
			`{"order":"abc","goods":[]}`,
			`{"order":"` + order + `","goods":[{"description":"x","price":-1}]}`,
			`{"order":12345678903}`,
		} {
			r = c.Do(t, app, request(http.MethodPost, "/api/orders", jsonCT, body))
			assert.Equal(t, http.StatusBadRequest, r.Status, body)
		}

		// Every state the order passes through is answered as documented, up to PROCESSED.
		var got struct {
			Status  string   `json:"status"`
			Accrual *float64 `json:"accrual"`
		}
		deadline := time.Now().Add(10 * time.Second)
		for got.Status != calculator.StatusProcessed && time.Now().Before(deadline) {
			r = c.DoValid(t, app, request(http.MethodGet, "/api/orders/"+order, "", ""))
			require.Equal(t, http.StatusOK, r.Status)
			require.NoError(t, json.Unmarshal(r.Body, &got))
			time.Sleep(2 * time.Millisecond)
		}
		require.Equal(t, calculator.StatusProcessed, got.Status)
		require.NotNil(t, got.Accrual)
		assert.InDelta(t, 712.5, *got.Accrual, 1e-9, "10%% of 7000 plus 12.5 points")
	})

	t.Run("rate limit", func(t *testing.T) {
		limited := calculator.DefaultConfig()
		limited.RateLimit, limited.RetryAfter = 1, 7
		app := accrualApp(t, limited)
		assert.Equal(t, http.StatusNoContent, c.DoValid(t, app, request(http.MethodGet, "/api/orders/"+order, "", "")).Status)
		r := c.DoValid(t, app, request(http.MethodGet, "/api/orders/"+order, "", ""))
		require.Equal(t, http.StatusTooManyRequests, r.Status)
		assert.Equal(t, "7", r.Header.Get("Retry-After"))
		assert.Equal(t, "No more than 1 requests per minute allowed", string(r.Body))
	})

	t.Run("injected failure", func(t *testing.T) {
		failing := calculator.DefaultConfig()
		failing.FailRate = 1
		r := c.DoValid(t, accrualApp(t, failing), request(http.MethodGet, "/api/orders/"+order, "", ""))
		assert.Equal(t, http.StatusInternalServerError, r.Status)
	})

	t.Run("service", func(t *testing.T) {
		for _, path := range []string{"/healthz", "/readyz", apidoc.SpecPath, apidoc.DocsPath} {
			assert.Equal(t, http.StatusOK, c.DoValid(t, app, request(http.MethodGet, path, "", "")).Status, path)
		}
		assert.Equal(t, http.StatusFound, c.DoValid(t, app, request(http.MethodGet, apidoc.RootPath, "", "")).Status)
		for _, file := range docsAssets(t, openapi.Accrual) {
			r := c.DoValid(t, app, request(http.MethodGet, apidoc.AssetsPath+file, "", ""))
			require.Equal(t, http.StatusOK, r.Status, file)
			req := request(http.MethodGet, apidoc.AssetsPath+file, "", "")
			req.Header.Set("If-None-Match", r.Header.Get("ETag"))
			assert.Equal(t, http.StatusNotModified, c.DoValid(t, app, req).Status, file)
		}
		assert.Equal(t, http.StatusNotFound, c.Do(t, app, request(http.MethodGet, apidoc.AssetsPath+"index.html", "", "")).Status)
	})

	c.AssertAllExercised(t, "GET /metrics") // the accrual binary's own test reads its metrics
}

// docsAssets lists the files the document says /docs/assets/{file} serves.
func docsAssets(t *testing.T, spec []byte) []string {
	t.Helper()
	op := load(t, spec).Paths.Find("/docs/assets/{file}").Get
	require.NotNil(t, op)
	var files []string
	for _, v := range op.Parameters.GetByInAndName("path", "file").Schema.Value.Enum {
		files = append(files, v.(string))
	}
	require.NotEmpty(t, files)
	return files
}
