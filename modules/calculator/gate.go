package calculator

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"sync"
	"time"
)

// maxRecords is how many request records Gate.Requests keeps (the newest).
const maxRecords = 10_000

// RequestRecord describes one GET /api/orders/{number}: when it started, when its answer was decided
// and the status answered. It is also a line of the request log file.
type RequestRecord struct {
	Order  string    `json:"order"`
	Start  time.Time `json:"start"`
	End    time.Time `json:"end"`
	Status int       `json:"status"`
}

// Verdict is what the test knobs decide for one request.
type Verdict int

// The verdicts of Gate.Admit.
const (
	Pass        Verdict = iota // answer normally
	RateLimited                // 429 with Retry-After
	Fail                       // 500 on purpose
)

// Gate applies the test knobs to GET /api/orders/{number} (a per-minute limit, injected failures,
// added latency) and records every such request. Safe for concurrent use.
//
// The limit uses fixed windows: a window opens at the first request after the previous one ended and
// lasts one minute; within it the first RateLimit requests pass and the rest get 429.
type Gate struct {
	limit      int
	retryAfter int
	failRate   float64
	latency    time.Duration
	now        func() time.Time // the limiter's clock; tests replace it
	random     func() float64   // in [0, 1); tests replace it

	mu          sync.Mutex
	windowStart time.Time
	count       int

	recMu   sync.Mutex
	file    *os.File
	records []RequestRecord // a ring of at most maxRecords; next is where the next one goes
	next    int
}

// NewGate returns the Gate of cfg, opening cfg.RequestLog (appending) if set.
func NewGate(cfg Config) (*Gate, error) {
	g := &Gate{
		limit:      max(cfg.RateLimit, 0),
		retryAfter: cfg.RetryAfter,
		failRate:   cfg.FailRate,
		latency:    max(cfg.Latency, 0),
		now:        time.Now,
		random:     rand.Float64, //nolint:gosec // picks requests to fail on purpose: no security role
	}
	if g.retryAfter <= 0 {
		g.retryAfter = DefaultRetryAfter
	}
	if cfg.RequestLog != "" {
		f, err := os.OpenFile(cfg.RequestLog, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o600)
		if err != nil {
			return nil, fmt.Errorf("request log: %w", err)
		}
		g.file = f
	}
	return g, nil
}

// Latency is the delay to add before answering.
func (g *Gate) Latency() time.Duration { return g.latency }

// Limit is the number of requests allowed per minute; 0: unlimited.
func (g *Gate) Limit() int { return g.limit }

// RetryAfter is the Retry-After of a 429, in seconds.
func (g *Gate) RetryAfter() int { return g.retryAfter }

// Admit decides one request: over the per-minute limit it is RateLimited; otherwise it may be picked
// to Fail with probability FailRate; else it Passes. Rate-limited requests do not use up the window.
func (g *Gate) Admit() Verdict {
	if g.limit > 0 {
		g.mu.Lock()
		t := g.now()
		if g.windowStart.IsZero() || !t.Before(g.windowStart.Add(time.Minute)) || t.Before(g.windowStart) {
			g.windowStart, g.count = t, 0
		}
		over := g.count >= g.limit
		if !over {
			g.count++
		}
		g.mu.Unlock()
		if over {
			return RateLimited
		}
	}
	if g.failRate > 0 && g.random() < g.failRate {
		return Fail
	}
	return Pass
}

// Record keeps r and, if a request log is configured, appends it there as one JSON line, written
// with a single write so that concurrent records never interleave.
func (g *Gate) Record(r RequestRecord) error {
	g.recMu.Lock()
	defer g.recMu.Unlock()
	if len(g.records) < maxRecords {
		g.records = append(g.records, r)
	} else {
		g.records[g.next] = r
	}
	g.next = (g.next + 1) % maxRecords
	if g.file == nil {
		return nil
	}
	line, err := json.Marshal(r)
	if err != nil {
		return fmt.Errorf("request log: %w", err)
	}
	if _, err := g.file.Write(append(line, '\n')); err != nil {
		return fmt.Errorf("request log: %w", err)
	}
	return nil
}

// Requests returns the newest recorded requests (at most 10,000), oldest first.
func (g *Gate) Requests() []RequestRecord {
	g.recMu.Lock()
	defer g.recMu.Unlock()
	if len(g.records) < maxRecords {
		return append([]RequestRecord(nil), g.records...)
	}
	return append(append(make([]RequestRecord, 0, maxRecords), g.records[g.next:]...), g.records[:g.next]...)
}

// Close closes the request log file, if any.
func (g *Gate) Close() error {
	g.recMu.Lock()
	defer g.recMu.Unlock()
	if g.file == nil {
		return nil
	}
	err := g.file.Close()
	g.file = nil
	if err != nil {
		return fmt.Errorf("request log: %w", err)
	}
	return nil
}
