package accrual

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/points"
	"github.com/gophermart/gophermart/modules/platform/queue"
)

// These fakes stand in for the worker's collaborators (the orders queue, the ledger and the accrual
// system) so that the worker's parts run inside a testing/synctest bubble: time is fake there and
// advances only while every goroutine waits, so a test of a minute's pause takes microseconds, and a
// duration measured inside is exact. The shared rate-limit state still lives in a real SQLite
// database.

func testLog() *slog.Logger {
	if os.Getenv("GOPHERMART_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// testConfig is a worker configuration for tests: no poll tick to rely on.
func testConfig() Config {
	return Config{
		Workers: 4, PollInterval: time.Hour, RequestTimeout: 5 * time.Second, MaxRetries: 3,
		MaxBackoff: 5 * time.Second, Lease: 20 * time.Second, MinBackoff: 250 * time.Millisecond,
		RetryBackoff: 100 * time.Millisecond, MaxRetryAfter: 2 * time.Minute,
	}
}

// sqliteDB is a fresh, migrated SQLite database for the shared rate-limit state. Each synctest
// bubble needs its own: gorm caches the schemas it parsed per database, guarded by channels, and a
// channel made inside a bubble belongs to it.
func sqliteDB(t *testing.T) *db.DB {
	t.Helper()
	return dbtest.Migrated(t, dbtest.Open(t, "sqlite"))
}

// fakeOrder is one row of the fake queue.
type fakeOrder struct {
	user       string
	status     string // NEW, PROCESSING, INVALID, PROCESSED
	accrual    *points.Amount
	attempts   int
	nextPoll   time.Time
	leaseOwner string
	leaseUntil time.Time
	seq        int
}

func (o *fakeOrder) pending() bool { return o.status == "NEW" || o.status == "PROCESSING" }

// fakeQueue is an in-memory Orders with the real queue's semantics (leases, forward-only statuses),
// picking due orders earliest first. Safe for concurrent use.
type fakeQueue struct {
	mu         sync.Mutex
	rows       map[ordernum.Number]*fakeOrder
	seq        int
	releaseErr func(owner string) error // when set, Release fails for the owners it returns an error for
	claims     int
	renewals   int
}

func newFakeQueue() *fakeQueue { return &fakeQueue{rows: map[ordernum.Number]*fakeOrder{}} }

// add uploads orders of user, due now, and returns their numbers.
func (q *fakeQueue) add(user string, count int) []ordernum.Number {
	q.mu.Lock()
	defer q.mu.Unlock()
	out := make([]ordernum.Number, count)
	for i := range count {
		q.seq++
		n := ordernum.WithCheckDigit(strconv.Itoa(1_000_000 + q.seq))
		q.rows[n] = &fakeOrder{user: user, status: "NEW", nextPoll: time.Now(), seq: q.seq}
		out[i] = n
	}
	return out
}

func (q *fakeQueue) row(n ordernum.Number) fakeOrder {
	q.mu.Lock()
	defer q.mu.Unlock()
	return *q.rows[n]
}

func (q *fakeQueue) status(n ordernum.Number) string { return q.row(n).status }

func (q *fakeQueue) Claim(_ context.Context, owner string, limit int, lease time.Duration) ([]queue.Job, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.claims++
	now := time.Now()
	var due []ordernum.Number
	for n, o := range q.rows {
		if o.pending() && !o.nextPoll.After(now) && (o.leaseOwner == "" || o.leaseUntil.Before(now)) {
			due = append(due, n)
		}
	}
	sort.Slice(due, func(i, j int) bool {
		a, b := q.rows[due[i]], q.rows[due[j]]
		if !a.nextPoll.Equal(b.nextPoll) {
			return a.nextPoll.Before(b.nextPoll)
		}
		return a.seq < b.seq
	})
	var jobs []queue.Job
	for _, n := range due[:min(limit, len(due))] {
		o := q.rows[n]
		o.leaseOwner, o.leaseUntil, o.nextPoll = owner, now.Add(lease), now.Add(lease)
		jobs = append(jobs, queue.Job{Number: n, UserID: o.user, Processing: o.status == "PROCESSING", Attempts: o.attempts})
	}
	return jobs, nil
}

func (q *fakeQueue) Requeue(_ context.Context, n ordernum.Number, owner string, processing bool, attempts int, at time.Time) (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	o := q.rows[n]
	if o == nil || o.leaseOwner != owner || !o.pending() {
		return false, nil
	}
	if processing {
		o.status = "PROCESSING"
	}
	o.attempts, o.nextPoll, o.leaseOwner, o.leaseUntil = attempts, at, "", time.Time{}
	return true, nil
}

func (q *fakeQueue) Renew(_ context.Context, n ordernum.Number, owner string, lease time.Duration) (bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.renewals++
	o := q.rows[n]
	now := time.Now()
	if o == nil || o.leaseOwner != owner || !o.leaseUntil.After(now) || !o.pending() {
		return false, nil
	}
	o.leaseUntil, o.nextPoll = now.Add(lease), now.Add(lease)
	return true, nil
}

func (q *fakeQueue) Release(_ context.Context, owner string, numbers []ordernum.Number, at time.Time) (int64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.releaseErr != nil {
		if err := q.releaseErr(owner); err != nil {
			return 0, err
		}
	}
	var released int64
	for _, n := range numbers {
		if o := q.rows[n]; o != nil && o.leaseOwner == owner && o.pending() {
			o.nextPoll, o.leaseOwner, o.leaseUntil = at, "", time.Time{}
			released++
		}
	}
	return released, nil
}

func (q *fakeQueue) finish(n ordernum.Number, status string, accrual *points.Amount) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	o := q.rows[n]
	if o == nil || !o.pending() {
		return false
	}
	o.status, o.accrual, o.leaseOwner, o.leaseUntil = status, accrual, "", time.Time{}
	return true
}

func (q *fakeQueue) MarkInvalid(_ context.Context, n ordernum.Number) (bool, error) {
	return q.finish(n, "INVALID", nil), nil
}

func (q *fakeQueue) MarkProcessed(_ context.Context, n ordernum.Number, accrual *points.Amount) (bool, error) {
	return q.finish(n, "PROCESSED", accrual), nil
}

func (q *fakeQueue) NextDue(context.Context) (time.Time, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var next time.Time
	found := false
	for _, o := range q.rows {
		if o.pending() && (!found || o.nextPoll.Before(next)) {
			next, found = o.nextPoll, true
		}
	}
	return next, found, nil
}

func (q *fakeQueue) Pending(context.Context) (int64, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	var n int64
	for _, o := range q.rows {
		if o.pending() {
			n++
		}
	}
	return n, nil
}

// held lists the orders under a live lease.
func (q *fakeQueue) held() []ordernum.Number {
	q.mu.Lock()
	defer q.mu.Unlock()
	var out []ordernum.Number
	for n, o := range q.rows {
		if o.leaseOwner != "" && o.leaseUntil.After(time.Now()) {
			out = append(out, n)
		}
	}
	return out
}

// fakeLedger records credits, once per order like the real one, and counts every call.
type fakeLedger struct {
	mu      sync.Mutex
	credits map[ordernum.Number]points.Amount
	calls   int
}

func newFakeLedger() *fakeLedger { return &fakeLedger{credits: map[ordernum.Number]points.Amount{}} }

func (l *fakeLedger) Credit(_ context.Context, _ string, n ordernum.Number, amount points.Amount) error {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.calls++
	if _, ok := l.credits[n]; !ok {
		l.credits[n] = amount
	}
	return nil
}

// answer is one scripted answer of the fake accrual system.
type answer struct {
	result Result
	err    error
	// hang makes the request last until its deadline, like an answer that drips byte by byte.
	hang bool
}

// fakeClient is a scripted accrual system. It bounds every request by timeout, as the HTTP client
// does, records the requests, and notes any order asked about by two requests at once.
type fakeClient struct {
	timeout time.Duration
	script  func(n ordernum.Number, call int) answer

	mu       sync.Mutex
	calls    map[ordernum.Number]int
	at       []time.Time
	atOf     map[ordernum.Number][]time.Time
	inflight map[ordernum.Number]int
	overlaps []ordernum.Number
}

func newFakeClient(timeout time.Duration, script func(n ordernum.Number, call int) answer) *fakeClient {
	return &fakeClient{
		timeout: timeout, script: script, calls: map[ordernum.Number]int{}, inflight: map[ordernum.Number]int{},
		atOf: map[ordernum.Number][]time.Time{},
	}
}

func (c *fakeClient) Order(ctx context.Context, n ordernum.Number) (Result, error) {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	c.mu.Lock()
	c.calls[n]++
	call := c.calls[n]
	c.at = append(c.at, time.Now())
	c.atOf[n] = append(c.atOf[n], time.Now())
	c.inflight[n]++
	if c.inflight[n] > 1 {
		c.overlaps = append(c.overlaps, n)
	}
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		c.inflight[n]--
		c.mu.Unlock()
	}()
	a := c.script(n, call)
	if a.hang {
		<-ctx.Done()
		return Result{}, ctx.Err()
	}
	if a.err != nil {
		return Result{}, a.err
	}
	a.result.Order = n
	return a.result, nil
}

func (c *fakeClient) callsOf(n ordernum.Number) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.calls[n]
}

func (c *fakeClient) times() []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.at...)
}

// timesOf returns when n was asked about.
func (c *fakeClient) timesOf(n ordernum.Number) []time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]time.Time(nil), c.atOf[n]...)
}

func processedAnswer(amount points.Amount) answer {
	return answer{result: Result{Status: StatusProcessed, Accrual: &amount}}
}

// testWorker is a worker on fakes, with the shared rate-limit state in d.
type testWorker struct {
	*Worker
	queue  *fakeQueue
	ledger *fakeLedger
	client *fakeClient
}

func newTestWorker(t *testing.T, d *db.DB, cfg Config, q *fakeQueue, c *fakeClient) *testWorker {
	t.Helper()
	l := newFakeLedger()
	w := NewWorker(Deps{Config: cfg, DB: d, Orders: q, Ledger: l, Tx: d, Client: c, Log: testLog()})
	return &testWorker{Worker: w, queue: q, ledger: l, client: c}
}

// start starts w and returns the func that stops it; a failing test stops it at cleanup (inside the
// bubble), so that no goroutine outlives the bubble.
func (w *testWorker) start(t *testing.T) (stop func()) {
	t.Helper()
	require.NoError(t, w.Start(context.Background()))
	stop = func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(t, w.Stop(ctx))
	}
	t.Cleanup(stop)
	return stop
}

// waitUntil lets fake time pass, a step at a time, until cond holds; it fails the test when cond
// still fails after limit (fake time, so the bound is exact).
func waitUntil(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if !time.Now().Before(deadline) {
			t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

var errBoom = errors.New("boom")
