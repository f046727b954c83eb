package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// requestTimeout bounds every single request, so a stuck server cannot hold a loop past its end.
const requestTimeout = 30 * time.Second

// newClient returns the one HTTP client of the run: keep-alive connections enough for concurrency
// workers on each host, no proxy (all traffic is to loopback), no transparent gzip, no redirects.
func newClient(concurrency int) *http.Client {
	tr := &http.Transport{
		Proxy:               nil,
		DialContext:         (&net.Dialer{Timeout: 5 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:        4 * concurrency,
		MaxIdleConnsPerHost: 2 * concurrency,
		IdleConnTimeout:     90 * time.Second,
		DisableCompression:  true,
		ForceAttemptHTTP2:   false,
	}
	return &http.Client{
		Transport:     tr,
		Timeout:       requestTimeout,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// request describes one HTTP request.
type request struct {
	method, url string
	token       string // Authorization header value ("Bearer ..."), or ""
	contentType string
	body        []byte
	gzip        bool // send Accept-Encoding: gzip (the body is read as it comes, not inflated)
}

// response is what the load generator keeps of an answer.
type response struct {
	status int
	header http.Header
	body   []byte // only when asked to keep it
}

// do sends req and reads the whole body (so the connection is reused), keeping it if keep is set.
func do(ctx context.Context, c *http.Client, req request, keep bool) (response, error) {
	var body io.Reader
	if req.body != nil {
		body = bytes.NewReader(req.body)
	}
	r, err := http.NewRequestWithContext(ctx, req.method, req.url, body)
	if err != nil {
		return response{}, fmt.Errorf("new request: %w", err)
	}
	if req.token != "" {
		r.Header.Set("Authorization", req.token)
	}
	if req.contentType != "" {
		r.Header.Set("Content-Type", req.contentType)
	}
	if req.gzip {
		r.Header.Set("Accept-Encoding", "gzip")
	}
	resp, err := c.Do(r)
	if err != nil {
		return response{}, err
	}
	defer func() { _ = resp.Body.Close() }()
	out := response{status: resp.StatusCode, header: resp.Header}
	if keep {
		out.body, err = io.ReadAll(resp.Body)
	} else {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	if err != nil {
		return response{}, fmt.Errorf("read body: %w", err)
	}
	return out, nil
}

// op is one request of a scenario made by worker w; it returns the HTTP status or a transport error.
type op func(ctx context.Context, w int) (status int, err error)

// window is a scenario's timing: requests that start during warmup are not counted, the measured
// window follows, and no request starts after it.
type window struct {
	warmup, duration time.Duration
}

// errorKinds counts errors by kind; safe for concurrent use.
type errorKinds struct {
	mu    sync.Mutex
	total int
	kinds map[string]int
}

func (e *errorKinds) add(kind string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.kinds == nil {
		e.kinds = map[string]int{}
	}
	e.total++
	e.kinds[kind]++
}

// errorKind names an error for the report: "status 409", "timeout", "transport".
func errorKind(status int, err error) string {
	switch {
	case err == nil:
		return fmt.Sprintf("status %d", status)
	case errors.Is(err, context.DeadlineExceeded):
		return "timeout"
	default:
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			return "timeout"
		}
		return "transport"
	}
}

// runLoad runs op on concurrency workers, each in a closed loop (next request when the previous one
// is answered), for win.warmup + win.duration. A request counts when it starts after the warm-up and
// is answered before the end of the window; answers not in expect, and transport errors, count as
// errors. Every loop stops by itself at the end of the window, or when ctx ends.
//
// probe, if not nil, is sampled at the start and the end of the measured window for the CPU columns.
func runLoad(ctx context.Context, name string, concurrency int, win window, expect []int, fn op, probe func() cpuSample) Result {
	start := time.Now()
	measureFrom := start.Add(win.warmup)
	end := measureFrom.Add(win.duration)
	lat := make([][]time.Duration, concurrency)
	errs := &errorKinds{}
	var firstErr atomic.Value // string
	var wg sync.WaitGroup
	for w := range concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			samples := make([]time.Duration, 0, 1024)
			for ctx.Err() == nil {
				t0 := time.Now()
				if !t0.Before(end) {
					break
				}
				status, err := fn(ctx, w)
				t1 := time.Now()
				if t0.Before(measureFrom) || t1.After(end) || ctx.Err() != nil {
					continue
				}
				if err != nil || !slices.Contains(expect, status) {
					errs.add(errorKind(status, err))
					if err != nil {
						firstErr.CompareAndSwap(nil, err.Error())
					}
					continue
				}
				samples = append(samples, t1.Sub(t0))
			}
			lat[w] = samples
		}()
	}
	var from, to cpuSample
	if probe != nil && sleepUntil(ctx, measureFrom) {
		from = probe()
		if sleepUntil(ctx, end) {
			to = probe()
		}
	}
	wg.Wait()
	all := slices.Concat(lat...)
	s := summarize(all)
	res := Result{
		Scenario: name, Unit: "req/s", Count: s.count, Errors: errs.total, ErrorKinds: errs.kinds,
		Seconds: win.duration.Seconds(), PerSec: float64(s.count) / win.duration.Seconds(),
		P50Ms: ms(s.p50), P99Ms: ms(s.p99), MaxMs: ms(s.max),
	}
	fillCPU(&res, from, to, win.duration)
	if e, ok := firstErr.Load().(string); ok {
		res.Note = "first transport error: " + e
	}
	if ctx.Err() != nil {
		res.Failed = "interrupted"
	}
	return res
}

// sleepUntil waits until t and reports whether it got there before ctx ended.
func sleepUntil(ctx context.Context, t time.Time) bool {
	timer := time.NewTimer(time.Until(t))
	defer timer.Stop()
	select {
	case <-timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// ms converts a duration to fractional milliseconds.
func ms(d time.Duration) float64 {
	return float64(d) / float64(time.Millisecond)
}

// parallel runs fn(i) for i in [0, n) on at most workers goroutines and returns the first error;
// after an error, or when ctx ends, no new calls start.
func parallel(ctx context.Context, workers, n int, fn func(ctx context.Context, i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := fn(ctx, i); err != nil {
					cancel(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	return ctx.Err()
}
