package accrual

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/points"
)

const testOrder ordernum.Number = "12345678903"

func fixedBase(u string) BaseURL { return func() string { return u } }

func TestHTTPClientAnswers(t *testing.T) {
	amt := points.Amount(72998)
	tests := []struct {
		name    string
		handler http.HandlerFunc
		want    Result
		wantErr error
		check   func(t *testing.T, err error)
	}{
		{
			name: "processed with an exact accrual",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				_, _ = w.Write([]byte(`{"order":"12345678903","status":"PROCESSED","accrual":729.98}`))
			},
			want: Result{Order: testOrder, Status: StatusProcessed, Accrual: &amt},
		},
		{
			name: "registered without accrual",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(`{"order":"12345678903","status":"REGISTERED"}`))
			},
			want: Result{Order: testOrder, Status: StatusRegistered},
		},
		{
			name:    "204 is not registered",
			handler: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) },
			wantErr: ErrNotRegistered,
		},
		{
			name: "429 with Retry-After and limit",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Retry-After", "7")
				w.Header().Set("Content-Type", "text/plain")
				w.WriteHeader(http.StatusTooManyRequests)
				_, _ = w.Write([]byte("No more than 10 requests per minute allowed"))
			},
			check: func(t *testing.T, err error) {
				t.Helper()
				var rl *RateLimitedError
				require.ErrorAs(t, err, &rl)
				assert.Equal(t, 7*time.Second, rl.RetryAfter)
				assert.Equal(t, 10, rl.Limit)
			},
		},
		{
			name:    "429 without anything",
			handler: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTooManyRequests) },
			check: func(t *testing.T, err error) {
				t.Helper()
				var rl *RateLimitedError
				require.ErrorAs(t, err, &rl)
				assert.Equal(t, DefaultRetryAfter, rl.RetryAfter)
				assert.Zero(t, rl.Limit)
			},
		},
		{
			name:    "500",
			handler: func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) },
			check: func(t *testing.T, err error) {
				t.Helper()
				var se *ServerError
				require.ErrorAs(t, err, &se)
				assert.Equal(t, http.StatusInternalServerError, se.Status)
			},
		},
		{
			name:    "unexpected 404",
			handler: http.NotFound,
			check: func(t *testing.T, err error) {
				t.Helper()
				var se *ServerError
				require.ErrorAs(t, err, &se)
				assert.Equal(t, http.StatusNotFound, se.Status)
			},
		},
		{
			name:    "undecodable body",
			handler: func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte(`{"status":`)) },
			check:   requireServerError,
		},
		{
			name: "unknown status",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(`{"order":"12345678903","status":"DONE"}`))
			},
			check: requireServerError,
		},
		{
			name: "answer about another order",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(`{"order":"79927398713","status":"PROCESSED","accrual":5}`))
			},
			check: requireServerError,
		},
		{
			name: "negative accrual",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(`{"order":"12345678903","status":"PROCESSED","accrual":-5}`))
			},
			check: requireBadAnswer(points.ErrOutOfRange),
		},
		{
			name: "accrual over the maximum",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(`{"order":"12345678903","status":"PROCESSED","accrual":1e30}`))
			},
			check: requireBadAnswer(points.ErrOutOfRange),
		},
		{
			name: "accrual not a number",
			handler: func(w http.ResponseWriter, _ *http.Request) {
				_, _ = w.Write([]byte(`{"order":"12345678903","status":"PROCESSED","accrual":"5"}`))
			},
			check: requireBadAnswer(points.ErrInvalid),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var path, method atomic.Value
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				path.Store(r.URL.Path)
				method.Store(r.Method)
				tt.handler(w, r)
			}))
			defer srv.Close()
			c := NewHTTPClient(Config{RequestTimeout: 5 * time.Second}, fixedBase(srv.URL+"/"))
			got, err := c.Order(context.Background(), testOrder)
			assert.Equal(t, "/api/orders/12345678903", path.Load())
			assert.Equal(t, http.MethodGet, method.Load())
			switch {
			case tt.check != nil:
				tt.check(t, err)
			case tt.wantErr != nil:
				require.ErrorIs(t, err, tt.wantErr)
			default:
				require.NoError(t, err)
				assert.Equal(t, tt.want, got)
			}
		})
	}
}

func requireServerError(t *testing.T, err error) {
	t.Helper()
	var se *ServerError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, http.StatusOK, se.Status)
}

// Every request has a timeout: a server that never answers costs RequestTimeout, not forever.
func TestHTTPClientRequestTimeout(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(release)
	c := NewHTTPClient(Config{RequestTimeout: 150 * time.Millisecond}, fixedBase(srv.URL))
	done := make(chan error, 1)
	go func() {
		_, err := c.Order(context.Background(), testOrder)
		done <- err
	}()
	select {
	case err := <-done:
		requireTimeout(t, err)
	case <-time.After(10 * time.Second):
		t.Fatal("the request never timed out")
	}
}

// The deadline covers the body too: a server that sends its headers at once, then drips one byte
// every 10 ms for far longer than the timeout, costs RequestTimeout and gives a *TimeoutError.
func TestHTTPClientDeadlineCoversTheBody(t *testing.T) {
	t.Parallel()
	finished := make(chan struct{}) // closed only if the server got to write its whole answer
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"order":"12345678903","status":"PROCESSED","accrual":1`))
		_ = rc.Flush()
		tick := time.NewTicker(10 * time.Millisecond)
		defer tick.Stop()
		for range 30_000 { // five minutes of zeros
			select {
			case <-r.Context().Done():
				return
			case <-tick.C:
			}
			if _, err := w.Write([]byte("0")); err != nil {
				return
			}
			_ = rc.Flush()
		}
		_, _ = w.Write([]byte("}"))
		close(finished)
	}))
	defer srv.Close()
	c := NewHTTPClient(Config{RequestTimeout: 200 * time.Millisecond}, fixedBase(srv.URL))
	res, err := c.Order(context.Background(), testOrder)
	requireTimeout(t, err)
	assert.Zero(t, res)
	select {
	case <-finished:
		t.Fatal("the ask waited for the whole dripped answer")
	default:
	}
}

// The caller's own cancellation is its error, not a timeout of the ask.
func TestHTTPClientCallerCancelIsNotATimeout(t *testing.T) {
	t.Parallel()
	arrived := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-r.Context().Done()
	}))
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	go func() {
		<-arrived
		cancel()
	}()
	c := NewHTTPClient(Config{RequestTimeout: time.Minute}, fixedBase(srv.URL))
	_, err := c.Order(ctx, testOrder)
	require.ErrorIs(t, err, context.Canceled)
	var te *TimeoutError
	assert.NotErrorAs(t, err, &te)
	assert.NotErrorIs(t, err, context.DeadlineExceeded)
}

func requireTimeout(t *testing.T, err error) {
	t.Helper()
	var te *TimeoutError
	require.ErrorAs(t, err, &te, "want a *TimeoutError, got %v", err)
	assert.Equal(t, testOrder, te.Order)
	require.ErrorIs(t, err, context.DeadlineExceeded)
	var se *ServerError
	assert.NotErrorAs(t, err, &se)
}

// A 3xx is a failed answer, never followed: the server it points at, which would credit a million
// points, gets no request at all.
func TestHTTPClientNeverFollowsRedirects(t *testing.T) {
	codes := []int{
		http.StatusMultipleChoices, http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusNotModified, http.StatusTemporaryRedirect, http.StatusPermanentRedirect,
	}
	for _, code := range codes {
		t.Run(strconv.Itoa(code), func(t *testing.T) {
			t.Parallel()
			var hits atomic.Int64
			target := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				hits.Add(1)
				_, _ = w.Write([]byte(`{"order":"12345678903","status":"PROCESSED","accrual":1000000}`))
			}))
			defer target.Close()
			loc := target.URL + "/api/orders/" + string(testOrder)
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Location", loc)
				w.WriteHeader(code)
			}))
			defer srv.Close()
			c := NewHTTPClient(Config{}, fixedBase(srv.URL))
			res, err := c.Order(context.Background(), testOrder)
			var re *RedirectError
			require.ErrorAs(t, err, &re)
			assert.Equal(t, code, re.Status)
			assert.Equal(t, loc, re.Location)
			var se *ServerError
			require.ErrorAs(t, err, &se, "a redirect is also an unexpected answer")
			assert.Equal(t, code, se.Status)
			assert.Zero(t, res)
			assert.Zero(t, hits.Load(), "the redirect was followed")
		})
	}
}

// An answer body over the cap is a failed answer, never a truncated one decoded; the cap counts
// bytes after the transport inflates a gzip answer.
func TestHTTPClientBodyCap(t *testing.T) {
	const head = `{"order":"12345678903","status":"PROCESSED","accrual":5,"pad":"`
	padded := func(size int) []byte {
		return []byte(head + strings.Repeat("x", size-len(head)-2) + `"}`)
	}
	var bomb bytes.Buffer
	zw := gzip.NewWriter(&bomb)
	_, err := zw.Write(padded(maxBody + 1))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	amt := points.Amount(500)
	tests := []struct {
		name     string
		body     []byte
		encoding string
		wantErr  bool
	}{
		{name: "exactly the cap", body: padded(maxBody)},
		{name: "one byte over", body: padded(maxBody + 1), wantErr: true},
		{name: "far over", body: padded(4 * maxBody), wantErr: true},
		{name: "gzip inflating over the cap", body: bomb.Bytes(), encoding: "gzip", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				if tt.encoding != "" {
					w.Header().Set("Content-Encoding", tt.encoding)
				}
				_, _ = w.Write(tt.body)
			}))
			defer srv.Close()
			c := NewHTTPClient(Config{}, fixedBase(srv.URL))
			res, err := c.Order(context.Background(), testOrder)
			if !tt.wantErr {
				require.NoError(t, err)
				assert.Equal(t, Result{Order: testOrder, Status: StatusProcessed, Accrual: &amt}, res)
				return
			}
			var se *ServerError
			require.ErrorAs(t, err, &se)
			assert.Equal(t, http.StatusOK, se.Status)
			assert.Contains(t, se.Detail, "over")
			assert.Zero(t, res)
		})
	}
}

// The Retry-After cap comes from the configuration: a day asked for is the cap.
func TestHTTPClientCapsRetryAfter(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Retry-After", "86400")
		w.WriteHeader(http.StatusTooManyRequests)
	}))
	defer srv.Close()
	for _, tt := range []struct {
		give, want time.Duration
	}{{0, 2 * time.Minute}, {90 * time.Second, 90 * time.Second}} {
		c := NewHTTPClient(Config{MaxRetryAfter: tt.give}, fixedBase(srv.URL))
		_, err := c.Order(context.Background(), testOrder)
		var rl *RateLimitedError
		require.ErrorAs(t, err, &rl)
		assert.Equal(t, tt.want, rl.RetryAfter, "MaxRetryAfter %s", tt.give)
	}
}

// The base URL is read for each request, so it can point at a server started later.
func TestHTTPClientResolvesBaseURLPerRequest(t *testing.T) {
	t.Parallel()
	var hits [2]atomic.Int64
	servers := make([]*httptest.Server, 2)
	for i := range servers {
		servers[i] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
			hits[i].Add(1)
			w.WriteHeader(http.StatusNoContent)
		}))
		defer servers[i].Close()
	}
	var current atomic.Int64
	c := NewHTTPClient(Config{}, func() string { return servers[current.Load()].URL })
	_, err := c.Order(context.Background(), testOrder)
	require.ErrorIs(t, err, ErrNotRegistered)
	current.Store(1)
	_, err = c.Order(context.Background(), testOrder)
	require.ErrorIs(t, err, ErrNotRegistered)
	assert.Equal(t, int64(1), hits[0].Load())
	assert.Equal(t, int64(1), hits[1].Load())
}

func TestParseRetryAfter(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const limit = 2 * time.Minute
	tests := []struct {
		give  string
		limit time.Duration
		want  time.Duration
	}{
		{"", limit, DefaultRetryAfter},
		{"5", limit, 5 * time.Second},
		{" 60 ", limit, 60 * time.Second},
		{"0", limit, time.Second},
		{"-3", limit, DefaultRetryAfter},
		{"soon", limit, DefaultRetryAfter},
		{"1.5", limit, DefaultRetryAfter},
		{"120", limit, limit},
		{"121", limit, limit},
		{"86400", limit, limit},
		{"999999999999", limit, limit},
		{"99999999999999999999999", limit, DefaultRetryAfter}, // not an int64: odd
		{now.Add(30 * time.Second).Format(http.TimeFormat), limit, 30 * time.Second},
		{now.Add(24 * time.Hour).Format(http.TimeFormat), limit, limit},
		{now.Add(-30 * time.Second).Format(http.TimeFormat), limit, time.Second},
		{"", 10 * time.Second, 10 * time.Second},
		{"soon", 10 * time.Second, 10 * time.Second},
		{"30", time.Hour, 30 * time.Second},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, parseRetryAfter(tt.give, now, tt.limit), "Retry-After %q, cap %s", tt.give, tt.limit)
	}
}

func TestParseLimit(t *testing.T) {
	assert.Equal(t, 10, parseLimit("No more than 10 requests per minute allowed"))
	assert.Equal(t, 3, parseLimit("  no more than 3 requests per minute allowed\n"))
	assert.Equal(t, 1, parseLimit("No more than 1 request per minute allowed"))
	assert.Zero(t, parseLimit("Too Many Requests"))
	assert.Zero(t, parseLimit("No more than 0 requests per minute allowed"))
	assert.Zero(t, parseLimit(""))
}

// requireBadAnswer checks for a *BadAnswerError about testOrder wrapping want.
func requireBadAnswer(want error) func(*testing.T, error) {
	return func(t *testing.T, err error) {
		t.Helper()
		var bad *BadAnswerError
		require.ErrorAs(t, err, &bad)
		assert.Equal(t, testOrder, bad.Order)
		require.ErrorIs(t, err, want)
		var se *ServerError
		assert.NotErrorAs(t, err, &se, "not a failure to retry at once")
	}
}

// decodeResult reads every readable accrual exactly, whatever its scale, and never turns one it
// cannot read, or an ambiguous answer, into an amount.
func TestDecodeResult(t *testing.T) {
	amount := func(a points.Amount) *points.Amount { return &a }
	processed := func(accrual string) string {
		return `{"order":"12345678903","status":"PROCESSED","accrual":` + accrual + `}`
	}
	tests := []struct {
		name    string
		give    string
		want    *points.Amount // the accrual of a PROCESSED answer, unless status or noValue say otherwise
		status  Status
		check   func(*testing.T, error)
		noValue bool
	}{
		{name: "exact", give: processed("729.98"), want: amount(72998)},
		{name: "45 trailing zeros", give: processed("729.98" + strings.Repeat("0", 45)), want: amount(72998)},
		{name: "exponent and zeros", give: processed("72998" + strings.Repeat("0", 60) + "e-62"), want: amount(72998)},
		{name: "float32 widened", give: processed("729.97998046875"), want: amount(72998)},
		{name: "tiny rounds to zero", give: processed("1e-1000000"), want: amount(0)},
		{name: "zero", give: processed("0"), want: amount(0)},
		{name: "null accrual is no accrual", give: processed("null"), noValue: true},
		{name: "no accrual", give: `{"order":"12345678903","status":"PROCESSED"}`, noValue: true},
		{name: "no order", give: `{"status":"PROCESSED","accrual":5}`, want: amount(500)},
		{name: "null order", give: `{"order":null,"status":"INVALID"}`, status: StatusInvalid, noValue: true},
		{name: "keys in any order", give: `{"accrual":5,"status":"PROCESSED","order":"12345678903"}`, want: amount(500)},
		{name: "unknown keys skipped", give: `{"status":"PROCESSED","accrual":5,"extra":{"a":[1,{"b":null}]},"n":1}`, want: amount(500)},
		{name: "escaped key", give: `{"status":"PROCESSED","acc\u0072ual":5}`, want: amount(500)},
		{name: "surrounding space", give: " \n" + processed("5") + "\n ", want: amount(500)},
		{name: "max", give: processed("1000000000000"), want: amount(points.Max)},
		{name: "huge exponent", give: processed("1e1000000"), check: requireBadAnswer(points.ErrOutOfRange)},
		{name: "over max", give: processed("1000000000000.01"), check: requireBadAnswer(points.ErrOutOfRange)},
		{name: "negative", give: processed("-0.01"), check: requireBadAnswer(points.ErrOutOfRange)},
		{name: "too many digits", give: processed("1." + strings.Repeat("0", points.MaxLen)), check: requireBadAnswer(points.ErrInvalid)},
		{name: "string accrual", give: processed(`"5"`), check: requireBadAnswer(points.ErrInvalid)},
		{name: "empty string accrual", give: processed(`""`), check: requireBadAnswer(points.ErrInvalid)},
		{name: "object accrual", give: processed(`{"value":5}`), check: requireBadAnswer(points.ErrInvalid)},
		{name: "array accrual", give: processed(`[5]`), check: requireBadAnswer(points.ErrInvalid)},
		{name: "true accrual", give: processed(`true`), check: requireBadAnswer(points.ErrInvalid)},
		{name: "false accrual", give: processed(`false`), check: requireBadAnswer(points.ErrInvalid)},
		{name: "bad accrual with another status", give: `{"status":"PROCESSING","accrual":"soon"}`, check: requireBadAnswer(points.ErrInvalid)},
		{name: "accrual twice", give: `{"status":"PROCESSED","accrual":5,"accrual":500}`, check: requireBadAnswer(ErrAmbiguousAnswer)},
		{name: "accrual twice, same value", give: `{"status":"PROCESSED","accrual":5,"accrual":5}`, check: requireBadAnswer(ErrAmbiguousAnswer)},
		{name: "accrual twice, escaped", give: `{"status":"PROCESSED","accrual":5,"\u0061ccrual":500}`, check: requireBadAnswer(ErrAmbiguousAnswer)},
		{name: "status twice", give: `{"status":"INVALID","status":"PROCESSED","accrual":5}`, check: requireBadAnswer(ErrAmbiguousAnswer)},
		{name: "order twice", give: `{"order":"12345678903","order":"79927398713","status":"NEW"}`, check: requireBadAnswer(ErrAmbiguousAnswer)},
		{name: "unknown key twice", give: `{"status":"PROCESSED","x":1,"x":2}`, check: requireBadAnswer(ErrAmbiguousAnswer)},
		{name: "accrual in capitals", give: `{"status":"PROCESSED","ACCRUAL":500}`, check: requireBadAnswer(ErrAmbiguousAnswer)},
		{name: "accrual in two spellings", give: `{"status":"PROCESSED","accrual":5,"Accrual":500}`, check: requireBadAnswer(ErrAmbiguousAnswer)},
		{name: "status with a long s", give: "{\"\u017ftatus\":\"PROCESSED\",\"accrual\":5}", check: requireBadAnswer(ErrAmbiguousAnswer)},
		{name: "another order", give: `{"order":"79927398713","status":"PROCESSED","accrual":5}`, check: requireServerError},
		{name: "empty order", give: `{"order":"","status":"PROCESSED","accrual":5}`, check: requireServerError},
		{name: "order as a number", give: `{"order":12345678903,"status":"PROCESSED","accrual":5}`, check: requireServerError},
		{name: "no status", give: `{"order":"12345678903","accrual":5}`, check: requireServerError},
		{name: "null status", give: `{"status":null,"accrual":5}`, check: requireServerError},
		{name: "lower-case status", give: `{"status":"processed","accrual":5}`, check: requireServerError},
		{name: "status as an object", give: `{"status":{"PROCESSED":true}}`, check: requireServerError},
		{name: "not an object", give: `[{"status":"PROCESSED","accrual":5}]`, check: requireServerError},
		{name: "null", give: `null`, check: requireServerError},
		{name: "empty", give: ``, check: requireServerError},
		{name: "two objects", give: processed("5") + processed("500"), check: requireServerError},
		{name: "trailing garbage", give: processed("5") + "x", check: requireServerError},
		{name: "unclosed", give: `{"status":"PROCESSED","accrual":5`, check: requireServerError},
		{name: "missing colon", give: `{"status" "PROCESSED"}`, check: requireServerError},
		{name: "NaN", give: processed("NaN"), check: requireServerError},
		{name: "hex", give: processed("0x10"), check: requireServerError},
		{name: "leading plus", give: processed("+5"), check: requireServerError},
		{name: "deeply nested extra", give: `{"status":"NEW","x":` + strings.Repeat("[", maxDepth+1) + strings.Repeat("]", maxDepth+1) + `}`, check: requireServerError},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeResult(testOrder, []byte(tt.give))
			if tt.check != nil {
				tt.check(t, err)
				assert.Zero(t, got)
				return
			}
			require.NoError(t, err)
			want := Result{Order: testOrder, Status: StatusProcessed, Accrual: tt.want}
			if tt.status != "" {
				want.Status = tt.status
			}
			if tt.noValue {
				want.Accrual = nil
			}
			assert.Equal(t, want, got)
		})
	}
}

// stdAnswer is the answer as plain encoding/json reads it, for FuzzDecodeResult to compare with.
type stdAnswer struct {
	Order   string         `json:"order"`
	Status  Status         `json:"status"`
	Accrual *points.Amount `json:"accrual"`
}

// FuzzDecodeResult checks the answer decoder: it never panics; what it accepts has a known status
// and an accrual within [0, points.Max]; and it is only stricter than encoding/json, never
// different: an answer it accepts reads the same through json.Unmarshal.
func FuzzDecodeResult(f *testing.F) {
	for _, s := range []string{
		`{"order":"12345678903","status":"PROCESSED","accrual":729.98}`,
		`{"order":"12345678903","status":"PROCESSED","accrual":729.98000000000000000000000000000000000000000000000}`,
		`{"order":"12345678903","status":"PROCESSED","accrual":1e1000000}`,
		`{"order":"12345678903","status":"PROCESSED","accrual":1e-1000000}`,
		`{"order":"12345678903","status":"PROCESSED","accrual":-1}`,
		`{"order":"12345678903","status":"PROCESSED","accrual":null}`,
		`{"order":"12345678903","status":"PROCESSED","accrual":"5"}`,
		`{"order":"12345678903","status":"PROCESSED","accrual":{"a":1}}`,
		`{"order":"12345678903","status":"PROCESSED","accrual":true}`,
		`{"order":"12345678903","status":"PROCESSED"}`,
		`{"order":"12345678903","status":"REGISTERED"}`,
		`{"order":"12345678903","status":"PROCESSING"}`,
		`{"order":"12345678903","status":"INVALID"}`,
		`{"status":"PROCESSED","accrual":5,"accrual":500}`,
		`{"status":"PROCESSED","Accrual":500}`,
		`{"status":"PROCESSED","acc\u0072ual":5,"x":[1,{"y":[]}]}`,
		`{"order":"79927398713","status":"PROCESSED","accrual":5}`,
		`{"status":"DONE"}`, `[]`, `null`, `{}`, `{"status":`, ``, `{"status":"NEW"}{}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := decodeResult(testOrder, body)
		if err != nil {
			var bad *BadAnswerError
			var se *ServerError
			require.True(t, errors.As(err, &bad) || errors.As(err, &se), "unexpected error type %T: %v", err, err)
			require.Zero(t, res)
			return
		}
		require.Equal(t, testOrder, res.Order)
		require.Contains(t, []Status{StatusRegistered, StatusProcessing, StatusInvalid, StatusProcessed}, res.Status)
		if res.Accrual != nil {
			require.True(t, *res.Accrual >= 0 && *res.Accrual <= points.Max, "accrual %d", *res.Accrual)
		}
		var std stdAnswer
		require.NoError(t, json.Unmarshal(body, &std), "accepted %q, which encoding/json refuses", body)
		assert.Equal(t, res.Status, std.Status, "%q", body)
		assert.Equal(t, res.Accrual, std.Accrual, "%q", body)
		if std.Order != "" {
			assert.Equal(t, string(testOrder), std.Order, "%q", body)
		}
	})
}
