package accrual

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"regexp"
	"slices"
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
	// Order asks once what the accrual system knows about n, within one total deadline that covers
	// the headers and the body. Only a nil error carries a Result. Errors:
	//   - ErrNotRegistered: 204, the order is unknown (yet);
	//   - *RateLimitedError: 429;
	//   - *BadAnswerError: a 200 whose accrual cannot be read or cannot be right, or that names a
	//     key twice;
	//   - *RedirectError: a 3xx, never followed (it unwraps to a *ServerError with that status);
	//   - *TimeoutError: no whole answer within the deadline (errors.Is(err,
	//     context.DeadlineExceeded) holds too);
	//   - *ServerError: a 5xx, another unexpected status, a body over the cap, or a 200 that makes
	//     no sense;
	//   - otherwise a network error, or the error of ctx once it is done.
	Order(ctx context.Context, n ordernum.Number) (Result, error)
}

// BaseURL returns the accrual system's base URL, e.g. http://localhost:8081. It is resolved for
// every request, so it may point at a server whose port is known only after start.
type BaseURL func() string

// ErrNotRegistered means the accrual system does not know the order (yet): HTTP 204.
var ErrNotRegistered = errors.New("order not registered in the accrual system")

// RateLimitedError is a 429 answer: nothing may be sent before RetryAfter has passed.
type RateLimitedError struct {
	// RetryAfter is how long to wait, from Retry-After (DefaultRetryAfter when missing or odd),
	// never above Config.MaxRetryAfter.
	RetryAfter time.Duration
	// Limit is N from the body "No more than N requests per minute allowed"; 0 when absent.
	Limit int
}

func (e *RateLimitedError) Error() string {
	return fmt.Sprintf("accrual system rate limit (%d per minute): retry after %s", e.Limit, e.RetryAfter)
}

// ServerError is an answer that is neither a result nor a known condition: a 5xx, an unexpected
// status code, a body over the cap, or a 200 whose body makes no sense. It is retried.
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

// RedirectError is a 3xx answer. Redirects are never followed: an answer about money comes from
// the configured address or not at all. It is a failed ask, asked again with backoff. It unwraps
// to a *ServerError with the same status, so code that treats every unexpected answer alike, or
// tells a redirect by a ServerError's 3xx status, handles it too.
type RedirectError struct {
	// Status is the 3xx status code.
	Status int
	// Location is the start of the Location header, as sent; empty when there was none.
	Location string
}

func (e *RedirectError) Error() string {
	return fmt.Sprintf("accrual system answered %d (redirect to %q, not followed)", e.Status, e.Location)
}

func (e *RedirectError) Unwrap() error {
	return &ServerError{Status: e.Status, Detail: fmt.Sprintf("redirect to %q, not followed", e.Location)}
}

// TimeoutError is an ask that got no whole answer, headers and body, within the request timeout.
// errors.Is(err, context.DeadlineExceeded) holds for it. The caller's own cancellation or deadline
// is never a TimeoutError: that is ctx's error.
type TimeoutError struct {
	Order ordernum.Number
	// After is the request timeout that ran out.
	After time.Duration
	// Err is what the transport reported when the deadline struck.
	Err error
}

func (e *TimeoutError) Error() string {
	return fmt.Sprintf("accrual system gave no whole answer about order %s within %s: %v", e.Order, e.After, e.Err)
}

func (e *TimeoutError) Unwrap() error { return e.Err }

// Is makes a TimeoutError match context.DeadlineExceeded, whatever the transport wrapped.
func (e *TimeoutError) Is(target error) bool { return target == context.DeadlineExceeded }

// ErrAmbiguousAnswer is the Err of a BadAnswerError whose answer names a key twice, or in two
// spellings that differ only in case ("accrual" and "Accrual"): which one is meant cannot be known.
var ErrAmbiguousAnswer = errors.New("answer names a key twice or in two spellings")

// BadAnswerError is a 200 answer that must not be acted on: its accrual cannot be read or cannot be
// right (negative, above points.Max, not a plain number, longer than points.MaxLen: Err is
// points.ErrOutOfRange or points.ErrInvalid), or it is ambiguous (Err is ErrAmbiguousAnswer). The
// accrual system is wrong about the order and a human must look; the order is asked again later,
// with backoff, in case it gets fixed. Nothing is credited from such an answer.
type BadAnswerError struct {
	Order  ordernum.Number
	Detail string
	Err    error
}

func (e *BadAnswerError) Error() string {
	return fmt.Sprintf("accrual system answered an impossible accrual for order %s (%v): %s", e.Order, e.Err, e.Detail)
}

func (e *BadAnswerError) Unwrap() error { return e.Err }

// DefaultRetryAfter is the pause after a 429 whose Retry-After is missing or odd (never above
// Config.MaxRetryAfter).
const DefaultRetryAfter = 60 * time.Second

// maxBody caps an answer's body, in bytes once decompressed; a longer body is a failed answer,
// never a truncated one decoded. An honest answer is under 100 bytes.
const maxBody = 64 << 10

// maxDepth caps how deeply the values of keys the client does not use may nest in an answer.
const maxDepth = 32

var limitRe = regexp.MustCompile(`(?i)no more than\s+(\d+)\s+requests? per minute`)

// errAskTimeout is the cause of an ask's context when its own deadline strikes.
var errAskTimeout = errors.New("accrual request timeout")

// HTTPClient is the Client over HTTP. Safe for concurrent use.
type HTTPClient struct {
	base          BaseURL
	timeout       time.Duration
	maxRetryAfter time.Duration
	hc            *http.Client
}

// NewHTTPClient returns a Client for the accrual system at base, with its own connection pool sized
// for the worker pool. Every ask, headers and body, is bounded by cfg.RequestTimeout; redirects are
// never followed; a 429's pause is capped by cfg.MaxRetryAfter.
func NewHTTPClient(cfg Config, base BaseURL) *HTTPClient {
	cfg = cfg.withDefaults()
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = cfg.Workers * 2
	tr.ResponseHeaderTimeout = cfg.RequestTimeout
	return &HTTPClient{
		base:          base,
		timeout:       cfg.RequestTimeout,
		maxRetryAfter: cfg.MaxRetryAfter,
		hc: &http.Client{
			Transport: tr,
			Timeout:   cfg.RequestTimeout, // a second bound on the whole exchange, body included
			CheckRedirect: func(*http.Request, []*http.Request) error {
				return http.ErrUseLastResponse // hand the 3xx back; Order refuses it
			},
		},
	}
}

// Order implements Client: GET {base}/api/orders/{n}.
func (c *HTTPClient) Order(ctx context.Context, n ordernum.Number) (Result, error) {
	askCtx, cancel := context.WithTimeoutCause(ctx, c.timeout, errAskTimeout)
	defer cancel() // only after the body is read: the deadline covers it
	u := strings.TrimRight(c.base(), "/") + "/api/orders/" + url.PathEscape(string(n))
	req, err := http.NewRequestWithContext(askCtx, http.MethodGet, u, nil)
	if err != nil {
		return Result{}, fmt.Errorf("ask accrual about order %s: %w", n, err)
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return Result{}, c.failed(ctx, askCtx, n, "ask accrual about order", err)
	}
	defer func() { _ = resp.Body.Close() }()
	// Read one byte past the cap to tell a body of exactly maxBody from a longer one; a body under
	// the cap is read to its end, so the connection stays reusable.
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxBody+1))
	if err != nil {
		return Result{}, c.failed(ctx, askCtx, n, "read accrual answer about order", err)
	}
	if len(body) > maxBody {
		if resp.StatusCode == http.StatusTooManyRequests {
			// Still a 429: everyone pauses; the limit, if any, is named near the start.
			return Result{}, &RateLimitedError{
				RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now(), c.maxRetryAfter),
				Limit:      parseLimit(string(body[:maxBody])),
			}
		}
		return Result{}, &ServerError{Status: resp.StatusCode, Detail: fmt.Sprintf("answer body over %d bytes", maxBody)}
	}
	switch code := resp.StatusCode; {
	case code == http.StatusOK:
		return decodeResult(n, body)
	case code == http.StatusNoContent:
		return Result{}, ErrNotRegistered
	case code == http.StatusTooManyRequests:
		return Result{}, &RateLimitedError{
			RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now(), c.maxRetryAfter),
			Limit:      parseLimit(string(body)),
		}
	case code >= 300 && code < 400:
		return Result{}, &RedirectError{Status: code, Location: snippet([]byte(resp.Header.Get("Location")))}
	}
	return Result{}, &ServerError{Status: resp.StatusCode, Detail: snippet(body)}
}

// failed names a transport error: a *TimeoutError when the ask's own deadline struck (the context's
// or the http.Client's, whichever came first) while the caller's ctx still runs, the wrapped error
// otherwise.
func (c *HTTPClient) failed(ctx, askCtx context.Context, n ordernum.Number, doing string, err error) error {
	if ctx.Err() == nil {
		var ne net.Error
		if errors.Is(context.Cause(askCtx), errAskTimeout) || (errors.As(err, &ne) && ne.Timeout()) {
			return &TimeoutError{Order: n, After: c.timeout, Err: err}
		}
	}
	return fmt.Errorf("%s %s: %w", doing, n, err)
}

// decodeResult reads a 200 answer strictly: one JSON object whose keys each appear once and, for
// the keys it uses, exactly as spelled here (encoding/json would let the last of two "accrual" keys
// win and read "ACCRUAL" as "accrual"); "order", when present and not null, equal to n; a known
// "status"; "accrual" null, absent, or a number points.Parse reads. Other keys are skipped. An
// accrual that cannot be read and an ambiguous answer are *BadAnswerError, never an amount of 0;
// anything else wrong is *ServerError.
func decodeResult(n ordernum.Number, body []byte) (Result, error) {
	fields, err := scanAnswer(body)
	if err != nil {
		var amb *ambiguityError
		if errors.As(err, &amb) {
			return Result{}, &BadAnswerError{Order: n, Detail: amb.detail, Err: ErrAmbiguousAnswer}
		}
		return Result{}, &ServerError{Status: http.StatusOK, Detail: "undecodable body: " + err.Error()}
	}
	res := Result{Order: n}
	switch v := fields["accrual"].(type) {
	case nil: // absent or null: no accrual, legal even for PROCESSED
	case json.Number:
		amt, err := points.Parse(v.String())
		if err != nil {
			return Result{}, &BadAnswerError{Order: n, Detail: "accrual " + snippet([]byte(v)), Err: err}
		}
		res.Accrual = &amt
	default:
		return Result{}, &BadAnswerError{Order: n, Detail: "accrual: want a number, got " + kind(v), Err: points.ErrInvalid}
	}
	switch v := fields["order"].(type) {
	case nil:
	case string:
		if v != string(n) {
			return Result{}, &ServerError{Status: http.StatusOK, Detail: fmt.Sprintf("answer about order %q", snippet([]byte(v)))}
		}
	default:
		return Result{}, &ServerError{Status: http.StatusOK, Detail: "order: want a string, got " + kind(v)}
	}
	status, _ := fields["status"].(string)
	switch Status(status) {
	case StatusRegistered, StatusProcessing, StatusInvalid, StatusProcessed:
		res.Status = Status(status)
	default:
		return Result{}, &ServerError{Status: http.StatusOK, Detail: fmt.Sprintf("unknown status %q", snippet([]byte(status)))}
	}
	return res, nil
}

// answerKeys are the keys decodeResult uses.
var answerKeys = []string{"order", "status", "accrual"}

// ambiguityError is scanAnswer's error for a key seen twice or in two spellings.
type ambiguityError struct{ detail string }

func (e *ambiguityError) Error() string { return e.detail }

// scanAnswer checks that body is exactly one JSON object with no key twice and returns the scalar
// values of answerKeys (string, json.Number, bool or nil for null); a compound value is returned as
// its opening json.Delim. A key that matches one of answerKeys only up to case, or any key seen
// twice, gives an *ambiguityError.
func scanAnswer(body []byte) (map[string]json.Token, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber() // numbers keep their exact text
	t, err := dec.Token()
	if err != nil {
		return nil, err
	}
	if t != json.Delim('{') {
		return nil, errors.New("answer is not a JSON object")
	}
	fields := make(map[string]json.Token, len(answerKeys))
	seen := make(map[string]bool)
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		key, _ := t.(string) // Token only yields a string here: an object's key
		if seen[key] {
			return nil, &ambiguityError{fmt.Sprintf("key %q twice", snippet([]byte(key)))}
		}
		seen[key] = true
		for _, k := range answerKeys {
			if key != k && strings.EqualFold(key, k) { // encoding/json's own key matching rule
				return nil, &ambiguityError{fmt.Sprintf("key %q read as %q", snippet([]byte(key)), k)}
			}
		}
		v, err := dec.Token()
		if err != nil {
			return nil, err
		}
		if err := skipCompound(dec, v); err != nil {
			return nil, err
		}
		if slices.Contains(answerKeys, key) {
			fields[key] = v
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return nil, err
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, errors.New("data after the answer object")
	}
	return fields, nil
}

// skipCompound consumes the rest of an array or object whose opening delimiter first was; it does
// nothing for a scalar. Nesting deeper than maxDepth is an error.
func skipCompound(dec *json.Decoder, first json.Token) error {
	if d, ok := first.(json.Delim); !ok || (d != '{' && d != '[') {
		return nil
	}
	for depth := 1; depth > 0; {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			if depth++; depth > maxDepth {
				return fmt.Errorf("values nested over %d deep", maxDepth)
			}
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}

// kind names a JSON token's type for an error message.
func kind(t json.Token) string {
	switch t.(type) {
	case string:
		return "a string"
	case json.Number:
		return "a number"
	case bool:
		return "a boolean"
	case json.Delim:
		if t == json.Delim('[') {
			return "an array"
		}
		return "an object"
	}
	return fmt.Sprintf("%T", t)
}

// parseRetryAfter reads Retry-After as seconds or an HTTP date, capped at limit. Missing, malformed
// or negative values give DefaultRetryAfter (capped too); zero becomes one second (the header has
// whole seconds, so "0" means "less than one").
func parseRetryAfter(h string, now time.Time, limit time.Duration) time.Duration {
	h = strings.TrimSpace(h)
	if h == "" {
		return min(DefaultRetryAfter, limit)
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(h, 10, 64); err == nil {
		if secs < 0 {
			return min(DefaultRetryAfter, limit)
		}
		if secs > int64(limit/time.Second) {
			return limit
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(h); err == nil {
		d = t.Sub(now)
	} else {
		return min(DefaultRetryAfter, limit)
	}
	return min(max(d, time.Second), limit)
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
