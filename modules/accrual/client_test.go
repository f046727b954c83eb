package accrual

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
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
		require.Error(t, err)
		var ne net.Error
		timedOut := errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
		assert.True(t, timedOut, "want a timeout, got %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the request never timed out")
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
	tests := []struct {
		give string
		want time.Duration
	}{
		{"", DefaultRetryAfter},
		{"5", 5 * time.Second},
		{" 60 ", 60 * time.Second},
		{"0", time.Second},
		{"-3", DefaultRetryAfter},
		{"soon", DefaultRetryAfter},
		{"1.5", DefaultRetryAfter},
		{"999999999999", time.Hour},
		{now.Add(30 * time.Second).Format(http.TimeFormat), 30 * time.Second},
		{now.Add(-30 * time.Second).Format(http.TimeFormat), time.Second},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, parseRetryAfter(tt.give, now), "Retry-After %q", tt.give)
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
