package accrual

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/points"
)

// Status is an order's status in the accrual system.
type Status string

// The statuses the accrual system answers with.
const (
	StatusRegistered Status = "REGISTERED"
	StatusProcessing Status = "PROCESSING"
	StatusInvalid    Status = "INVALID"
	StatusProcessed  Status = "PROCESSED"
)

// Result is the accrual system's answer about one order.
type Result struct {
	Order  ordernum.Number
	Status Status
	// Accrual is the amount earned; nil when the answer carries none.
	Accrual *points.Amount
}

// Client asks the accrual system about orders.
type Client interface {
	// Order returns what the accrual system knows about n. Errors: ErrNotRegistered (204),
	// *RateLimitedError (429), *BadAnswerError (an impossible accrual), *ServerError (5xx or another
	// unexpected answer), or a network error.
	Order(ctx context.Context, n ordernum.Number) (Result, error)
}

// BaseURL returns the accrual system's base URL, e.g. http://localhost:8081. It is resolved for
// every request, so it may point at a server whose port is known only after start.
type BaseURL func() string

// ErrNotRegistered means the accrual system does not know the order (yet): HTTP 204.
var ErrNotRegistered = errors.New("order not registered in the accrual system")

// RateLimitedError is a 429 answer: nothing may be sent before RetryAfter has passed.
type RateLimitedError struct {
	// RetryAfter is how long to wait, from Retry-After (DefaultRetryAfter when missing or odd).
	RetryAfter time.Duration
	// Limit is N from the body "No more than N requests per minute allowed"; 0 when absent.
	Limit int
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("accrual system rate limit (%d per minute): retry after %s", e.Limit, e.RetryAfter)
}

// ServerError is an answer that is neither a result nor a known condition: a 5xx, an unexpected
// status code, or a 200 whose body makes no sense. It is retried.
type ServerError struct {
	Status int
	Detail string
}

func (e *ServerError) Error() string {
	if e.Detail == "" {
		return fmt.Sprintf("accrual system answered %d", e.Status)
	}
	return fmt.Sprintf("accrual system answered %d: %s", e.Status, e.Detail)
}

// BadAnswerError is a 200 answer whose accrual cannot be right: negative, above points.Max, or not a
// plain number. The accrual system is wrong about the order and a human must look; the order is
// asked again later, with backoff, in case it gets fixed.
type BadAnswerError struct {
	Order  ordernum.Number
	Detail string
	Err    error // points.ErrOutOfRange or points.ErrInvalid
}

func (e *BadAnswerError) Error() string {
	return fmt.Sprintf("accrual system answered an impossible accrual for order %s: %s", e.Order, e.Detail)
}

func (e *BadAnswerError) Unwrap() error { return e.Err }

// DefaultRetryAfter is the pause after a 429 whose Retry-After is missing or odd.
const DefaultRetryAfter = 60 * time.Second

// maxRetryAfter caps an absurd Retry-After: the pause never exceeds it.
const maxRetryAfter = time.Hour

// maxBody caps how much of an answer is read.
const maxBody = 64 << 10

var limitRe = regexp.MustCompile(`(?i)no more than\s+(\d+)\s+requests? per minute`)

// HTTPClient is the Client over HTTP. Safe for concurrent use.
type HTTPClient struct {
	base    BaseURL
	timeout time.Duration
	hc      *http.Client
}

// NewHTTPClient returns a Client for the accrual system at base, with its own connection pool sized
// for the worker pool; every request is bounded by cfg.RequestTimeout.
func NewHTTPClient(cfg Config, base BaseURL) *HTTPClient {
	cfg = cfg.withDefaults()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = cfg.Workers * 2
	tr.ResponseHeaderTimeout = cfg.RequestTimeout
	return &HTTPClient{
		base:    base,
		timeout: cfg.RequestTimeout,
		hc:      &http.Client{Transport: tr, Timeout: cfg.RequestTimeout},
	}
}

// Order implements Client: GET {base}/api/orders/{n}.
func (c *HTTPClient) Order(ctx context.Context, n ordernum.Number) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	u := strings.TrimRight(c.base(), "/") + "/api/orders/" + url.PathEscape(string(n))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return Result{}, fmt.Errorf("ask accrual about order %s: %w", n, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return Result{}, fmt.Errorf("ask accrual about order %s: %w", n, err)
	}
	defer func() {
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxBody)) // keep the connection reusable
		_ = resp.Body.Close()
	}()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return Result{}, fmt.Errorf("read accrual answer about order %s: %w", n, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
		return decodeResult(n, body)
	case http.StatusNoContent:
		return Result{}, ErrNotRegistered
	case http.StatusTooManyRequests:
		return Result{}, &RateLimitedError{
			RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()),
			Limit:      parseLimit(string(body)),
		}
	}
	return Result{}, &ServerError{Status: resp.StatusCode, Detail: snippet(body)}
}

type resultBody struct {
	Order   string         `json:"order"`
	Status  Status         `json:"status"`
	Accrual *points.Amount `json:"accrual"`
}

func decodeResult(n ordernum.Number, body []byte) (Result, error) {
	var rb resultBody
	if err := json.Unmarshal(body, &rb); err != nil {
		if errors.Is(err, points.ErrOutOfRange) || errors.Is(err, points.ErrInvalid) {
			return Result{}, &BadAnswerError{Order: n, Detail: snippet(body), Err: err}
		}
		return Result{}, &ServerError{Status: http.StatusOK, Detail: "undecodable body: " + err.Error()}
	}
	if rb.Order != "" && rb.Order != string(n) {
		return Result{}, &ServerError{Status: http.StatusOK, Detail: fmt.Sprintf("answer about order %q", rb.Order)}
	}
	switch rb.Status {
	case StatusRegistered, StatusProcessing, StatusInvalid, StatusProcessed:
	default:
		return Result{}, &ServerError{Status: http.StatusOK, Detail: fmt.Sprintf("unknown status %q", rb.Status)}
	}
	return Result{Order: n, Status: rb.Status, Accrual: rb.Accrual}, nil
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date. Missing, malformed or negative
// values give DefaultRetryAfter; zero becomes one second (the header has whole seconds, so "0"
// means "less than one"); values over an hour are capped.
func parseRetryAfter(h string, now time.Time) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return DefaultRetryAfter
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs < 0 {
			return DefaultRetryAfter
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	} else {
		return DefaultRetryAfter
	}
	return min(max(d, time.Second), maxRetryAfter)
}

// parseLimit finds N in "No more than N requests per minute allowed"; 0 when absent.
func parseLimit(body string) int {
	m := limitRe.FindStringSubmatch(body)
	if m == nil {
		return 0
	}
	n, err := strconv.Atoi(m[1])
	if err != nil || n <= 0 {
		return 0
	}
	return n
}

func snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 200 {
		s = s[:200] + "…"
	}
	return s
}
