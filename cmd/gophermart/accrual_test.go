package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/accrual"
	"github.com/gophermart/gophermart/modules/balance"
	"github.com/gophermart/gophermart/modules/orders"
	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/points"
	"github.com/gophermart/gophermart/modules/platform/queue"
)

// These tests run the real accrual worker against the real orders queue and balance service on a
// real database (SQLite, and PostgreSQL when GOPHERMART_TEST_DSN is set), and a scripted accrual
// system over real HTTP (httptest): what the modules do together, across instances and restarts. The
// worker's own logic is tested in modules/accrual. They wait for outcomes with generous bounds, never
// assert speed.

// reply is one scripted answer of the fake accrual system.
type reply struct {
	status int
	body   string
	header map[string]string
	hold   <-chan struct{} // when set, the answer waits until it is closed
	delay  time.Duration   // the answer takes this long
}

func processed(n string, amount string) reply {
	return reply{status: http.StatusOK, body: `{"order":"` + n + `","status":"PROCESSED","accrual":` + amount + `}`}
}

// hit is one request the fake saw.
type hit struct {
	at       time.Time
	order    string
	instance string // the first path segment, when the worker's base URL has one
}

// fakeAccrual is a scripted accrual system that records every request, and every time one order
// was asked about by two requests at once.
type fakeAccrual struct {
	srv    *httptest.Server
	script func(instance, order string, call int) reply

	mu       sync.Mutex
	hits     []hit
	calls    map[string]int
	inflight map[string]int
	overlaps []string
	answers  map[int]int // status code -> count
}

func newFakeAccrual(tb testing.TB, script func(instance, order string, call int) reply) *fakeAccrual {
	tb.Helper()
	f := &fakeAccrual{script: script, calls: map[string]int{}, inflight: map[string]int{}, answers: map[int]int{}}
	f.srv = httptest.NewServer(http.HandlerFunc(f.serve))
	tb.Cleanup(f.srv.Close)
	return f
}

func (f *fakeAccrual) serve(w http.ResponseWriter, r *http.Request) {
	prefix, order, _ := strings.Cut(r.URL.Path, "/api/orders/")
	instance := strings.Trim(prefix, "/")
	f.mu.Lock()
	f.hits = append(f.hits, hit{at: time.Now(), order: order, instance: instance})
	f.calls[order]++
	call := f.calls[order]
	f.inflight[order]++
	if f.inflight[order] > 1 {
		f.overlaps = append(f.overlaps, order)
	}
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		f.inflight[order]--
		f.mu.Unlock()
	}()
	rep := f.script(instance, order, call)
	if rep.delay > 0 {
		time.Sleep(rep.delay)
	}
	if rep.hold != nil {
		select {
		case <-rep.hold:
		case <-r.Context().Done():
		}
	}
	for k, v := range rep.header {
		w.Header().Set(k, v)
	}
	f.mu.Lock()
	f.answers[rep.status]++
	f.mu.Unlock()
	w.WriteHeader(rep.status)
	_, _ = io.WriteString(w, rep.body)
}

func (f *fakeAccrual) snapshot() (hits []hit, calls map[string]int, overlaps []string, answers map[int]int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	calls = map[string]int{}
	for k, v := range f.calls {
		calls[k] = v
	}
	answers = map[int]int{}
	for k, v := range f.answers {
		answers[k] = v
	}
	return append([]hit(nil), f.hits...), calls, append([]string(nil), f.overlaps...), answers
}

func (f *fakeAccrual) callsOf(order string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.calls[order]
}

// testAccrualConfig is a worker configuration for tests: fast backoffs, and no poll tick to rely on.
func testAccrualConfig() accrual.Config {
	return accrual.Config{
		Workers: 4, PollInterval: time.Hour, RequestTimeout: 3 * time.Second, MaxRetries: 3,
		MaxBackoff: time.Second, Lease: 20 * time.Second, MinBackoff: 50 * time.Millisecond,
		RetryBackoff: 5 * time.Millisecond,
	}
}

func quietLog() *slog.Logger {
	if os.Getenv("GOPHERMART_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// newTestWorker builds a worker on d asking the accrual system at base, without starting it.
func newTestWorker(d *db.DB, cfg accrual.Config, base string) *accrual.Worker {
	return newTestWorkerWith(d, cfg, base, orders.NewQueue(d), quietLog())
}

// newTestWorkerWith is newTestWorker with its own queue and logger.
func newTestWorkerWith(d *db.DB, cfg accrual.Config, base string, q accrual.Orders, log *slog.Logger) *accrual.Worker {
	return accrual.NewWorker(accrual.Deps{
		Config: cfg,
		DB:     d,
		Orders: q,
		Ledger: balance.NewService(balance.NewStore(d), d, log),
		Tx:     d,
		Client: accrual.NewHTTPClient(cfg, func() string { return base }),
		Log:    log,
	})
}

// startWorker starts w and stops it when the test ends.
func startWorker(tb testing.TB, w *accrual.Worker) {
	tb.Helper()
	require.NoError(tb, w.Start(context.Background()))
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(tb, w.Stop(ctx))
	})
}

// orderNumber returns the i-th valid order number of a series.
func orderNumber(series, i int) string {
	return string(ordernum.WithCheckDigit(strconv.Itoa(series*10_000_000 + i)))
}

// upload stores orders through the real orders service (which notifies notifier after commit),
// spread over users, and returns their numbers.
func upload(tb testing.TB, d *db.DB, notifier orders.Notifier, series, count, users int) []string {
	tb.Helper()
	ctx := context.Background()
	svc := orders.NewService(orders.NewStore(d), notifier, orders.Config{}, quietLog())
	for u := range users {
		dbtest.CreateUser(tb, d, fmt.Sprintf("u%d-%d", series, u))
	}
	out := make([]string, count)
	for i := range count {
		n, err := ordernum.Parse(orderNumber(series, i))
		require.NoError(tb, err)
		outcome, err := svc.Upload(ctx, fmt.Sprintf("u%d-%d", series, i%users), n)
		require.NoError(tb, err)
		require.Equal(tb, orders.Accepted, outcome)
		out[i] = string(n)
	}
	return out
}

type orderState struct {
	Number     string     `gorm:"column:number"`
	UserID     string     `gorm:"column:user_id"`
	Status     string     `gorm:"column:status"`
	Accrual    *int64     `gorm:"column:accrual"`
	NextPollAt *time.Time `gorm:"column:next_poll_at"`
	Attempts   int64      `gorm:"column:attempts"`
	LeaseOwner *string    `gorm:"column:lease_owner"`
}

func orderStates(tb testing.TB, d *db.DB) map[string]orderState {
	tb.Helper()
	var rows []orderState
	require.NoError(tb, d.Conn(context.Background()).Raw(
		"SELECT number, user_id, status, accrual, next_poll_at, attempts, lease_owner FROM gm_orders").Scan(&rows).Error)
	out := make(map[string]orderState, len(rows))
	for _, r := range rows {
		out[r.Number] = r
	}
	return out
}

// roundCounter is the orders queue, counting the worker's rounds: each round that finds nothing
// more to claim ends by asking when the next order is due.
type roundCounter struct {
	*orders.Queue
	rounds atomic.Int64
}

func (q *roundCounter) NextDue(ctx context.Context) (time.Time, bool, error) {
	defer q.rounds.Add(1)
	return q.Queue.NextDue(ctx)
}

// waitIdle waits until a worker just started on an empty queue has done its want rounds (one at
// start, and one more when orders' notifications subscribe on PostgreSQL and wake it, since
// notifications sent before may have been missed) and sleeps until its next poll. Only an upload's
// Notify or a notification wakes it then.
func (q *roundCounter) waitIdle(tb testing.TB, want int64) {
	tb.Helper()
	waitFor(tb, 30*time.Second, "the worker's first rounds", func() bool { return q.rounds.Load() >= want })
	require.Equal(tb, want, q.rounds.Load(), "no other round")
}

// waitFor polls cond until it holds, failing the test after limit.
func waitFor(tb testing.TB, limit time.Duration, what string, cond func() bool) {
	tb.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		if time.Now().After(deadline) {
			tb.Fatalf("gave up after %s waiting for %s", limit, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func pendingCount(tb testing.TB, d *db.DB) int64 {
	tb.Helper()
	var n int64
	require.NoError(tb, d.Conn(context.Background()).Raw(
		"SELECT count(*) FROM gm_orders WHERE status IN ('NEW', 'PROCESSING')").Scan(&n).Error)
	return n
}

// checkLedger asserts the ledger invariant: per user, the credits equal the accruals of their
// PROCESSED orders, each PROCESSED order with an accrual has exactly one credit of that amount, the
// balance matches, and balance.Service.CheckLedger finds nothing wrong.
func checkLedger(tb testing.TB, d *db.DB) {
	tb.Helper()
	ctx := context.Background()
	var mismatched []struct {
		Number  string `gorm:"column:number"`
		Accrual *int64 `gorm:"column:accrual"`
		Amount  *int64 `gorm:"column:amount"`
		Status  string `gorm:"column:status"`
	}
	require.NoError(tb, d.Conn(ctx).Raw(`
		SELECT o.number, o.accrual, c.amount, o.status FROM gm_orders o
		LEFT JOIN gm_credits c ON c.order_number = o.number
		WHERE (o.status = 'PROCESSED' AND o.accrual IS NOT NULL AND (c.amount IS NULL OR c.amount <> o.accrual))
		   OR (o.status <> 'PROCESSED' AND c.amount IS NOT NULL)`).Scan(&mismatched).Error)
	assert.Empty(tb, mismatched, "orders whose credit disagrees with their status/accrual")

	var perUser []struct {
		UserID   string `gorm:"column:user_id"`
		Accruals int64  `gorm:"column:accruals"`
		Credits  int64  `gorm:"column:credits"`
		Current  int64  `gorm:"column:current"`
	}
	require.NoError(tb, d.Conn(ctx).Raw(`
		SELECT u.id AS user_id,
		  (SELECT COALESCE(SUM(accrual), 0) FROM gm_orders o WHERE o.user_id = u.id AND o.status = 'PROCESSED') AS accruals,
		  (SELECT COALESCE(SUM(amount), 0) FROM gm_credits c WHERE c.user_id = u.id) AS credits,
		  COALESCE((SELECT current FROM gm_balances b WHERE b.user_id = u.id), 0) AS current
		FROM gm_users u`).Scan(&perUser).Error)
	for _, u := range perUser {
		assert.Equal(tb, u.Accruals, u.Credits, "user %s: credits = accruals of PROCESSED orders", u.UserID)
		assert.Equal(tb, u.Credits, u.Current, "user %s: balance = credits (nothing withdrawn)", u.UserID)
	}
	violations, err := balance.NewService(balance.NewStore(d), d, quietLog()).CheckLedger(ctx)
	require.NoError(tb, err)
	assert.Empty(tb, violations)
}

func creditCount(tb testing.TB, d *db.DB) int64 {
	tb.Helper()
	var n int64
	require.NoError(tb, d.Conn(context.Background()).Raw("SELECT count(*) FROM gm_credits").Scan(&n).Error)
	return n
}

// An upload is asked about at once (the orders' notifications wake the worker in-process), not on
// the next poll tick: with a poll interval of an hour, the order is PROCESSED and credited within
// seconds.
func TestWorkerNotifyDispatchesAtOnce(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			fake := newFakeAccrual(t, func(_, n string, _ int) reply { return processed(n, "729.98") })
			q := &roundCounter{Queue: orders.NewQueue(d)}
			w := newTestWorkerWith(d, testAccrualConfig(), fake.srv.URL, q, quietLog())
			startWorker(t, w)
			q.waitIdle(t, 1) // it found nothing and sleeps for an hour
			nums := upload(t, d, orders.NewNotifications(d, []orders.Waker{w}, quietLog()), 1, 1, 1)
			waitFor(t, 10*time.Second, "the order to be processed", func() bool { return pendingCount(t, d) == 0 })
			st := orderStates(t, d)[nums[0]]
			assert.Equal(t, orders.StatusProcessed, st.Status)
			require.NotNil(t, st.Accrual)
			assert.Equal(t, int64(72998), *st.Accrual)
			assert.Nil(t, st.NextPollAt)
			b, err := balance.NewService(balance.NewStore(d), d, quietLog()).Balance(context.Background(), st.UserID)
			require.NoError(t, err)
			assert.Equal(t, points.Amount(72998), b.Current)
			checkLedger(t, d)
		})
	}
}

// A 429 answered to one instance pauses its siblings through the database: an instance that starts
// while the pause is in force reads it before its first claim and sends nothing until it has passed.
// (How quickly running siblings adopt it is the limiter's unit test.)
func TestInstancesShareThe429PauseThroughTheDatabase(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			nums := upload(t, d, orders.NopNotifier{}, 4, 40, 4)
			var mu sync.Mutex
			limited := false
			fake := newFakeAccrual(t, func(instance, n string, _ int) reply {
				mu.Lock()
				defer mu.Unlock()
				if !limited && instance == "a" {
					limited = true
					return reply{status: http.StatusTooManyRequests, header: map[string]string{"Retry-After": "3"}}
				}
				r := processed(n, "2")
				r.delay = 30 * time.Millisecond
				return r
			})
			cfg := testAccrualConfig()
			cfg.Workers = 2
			wa := newTestWorker(d, cfg, fake.srv.URL+"/a")
			startWorker(t, wa)
			var until time.Time
			waitFor(t, 30*time.Second, "the pause to be recorded", func() bool {
				var rows []struct {
					PauseUntil *time.Time `gorm:"column:pause_until"`
				}
				require.NoError(t, d.Conn(context.Background()).Raw("SELECT pause_until FROM gm_accrual_state").Scan(&rows).Error)
				if len(rows) == 1 && rows[0].PauseUntil != nil {
					until = *rows[0].PauseUntil
				}
				return !until.IsZero()
			})
			wb := newTestWorker(d, cfg, fake.srv.URL+"/b")
			startWorker(t, wb)
			waitFor(t, 30*time.Second, "every order to be final", func() bool { return pendingCount(t, d) == 0 })

			hits, _, _, _ := fake.snapshot()
			byInstance := map[string]int{}
			for _, h := range hits {
				byInstance[h.instance]++
				if h.instance == "b" {
					assert.False(t, h.at.Before(until), "b asked at %s, before the shared pause ended at %s", h.at, until)
				}
			}
			assert.Positive(t, byInstance["b"], "both instances worked")
			assert.Equal(t, int64(len(nums)), creditCount(t, d))
			checkLedger(t, d)
		})
	}
}

// Two instances (two owners, two pools) drain 200 orders from one database: each order is asked
// about by one request at a time, exactly once, and credited exactly once.
func TestTwoWorkersCreditEachOrderOnce(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			nums := upload(t, d, orders.NopNotifier{}, 6, 200, 10)
			fake := newFakeAccrual(t, func(_, n string, _ int) reply {
				time.Sleep(time.Duration(len(n)%3) * time.Millisecond) // let requests overlap
				return processed(n, amountFor(n))
			})
			cfg := testAccrualConfig()
			wa := newTestWorker(d, cfg, fake.srv.URL+"/a")
			wb := newTestWorker(d, cfg, fake.srv.URL+"/b")
			startWorker(t, wa)
			startWorker(t, wb)
			waitFor(t, 60*time.Second, "every order to be final", func() bool { return pendingCount(t, d) == 0 })

			hits, calls, overlaps, _ := fake.snapshot()
			assert.Empty(t, overlaps, "orders asked about by two requests at once")
			for _, n := range nums {
				assert.Equal(t, 1, calls[n], "order %s asked once", n)
			}
			byInstance := map[string]int{}
			for _, h := range hits {
				byInstance[h.instance]++
			}
			t.Logf("requests per instance: %v", byInstance)
			assert.Equal(t, int64(len(nums)), creditCount(t, d))
			st := orderStates(t, d)
			for _, n := range nums {
				want, err := points.Parse(amountFor(n))
				require.NoError(t, err)
				require.NotNil(t, st[n].Accrual)
				assert.Equal(t, int64(want), *st[n].Accrual)
			}
			checkLedger(t, d)
		})
	}
}

// amountFor is a distinct accrual per order: its last three digits, plus a quarter.
func amountFor(n string) string {
	v, _ := strconv.Atoi(n[len(n)-3:])
	return strconv.Itoa(v) + ".25"
}

// A holder that "crashed" (claimed, never answered) loses its orders when the lease expires: another
// worker settles them, once.
func TestWorkerTakesOverExpiredLeases(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			nums := upload(t, d, orders.NopNotifier{}, 7, 10, 2)
			claimed, err := orders.NewQueue(d).Claim(context.Background(), "crashed", 10, 400*time.Millisecond)
			require.NoError(t, err)
			require.Len(t, claimed, len(nums))

			fake := newFakeAccrual(t, func(_, n string, _ int) reply { return processed(n, "7") })
			cfg := testAccrualConfig()
			w := newTestWorker(d, cfg, fake.srv.URL)
			startWorker(t, w)
			waitFor(t, 15*time.Second, "the orders to be taken over", func() bool { return pendingCount(t, d) == 0 })
			_, calls, _, _ := fake.snapshot()
			for _, n := range nums {
				assert.Equal(t, 1, calls[n])
			}
			assert.Equal(t, int64(len(nums)), creditCount(t, d))
			checkLedger(t, d)
		})
	}
}

// A holder whose lease expired in the middle of a request (a stalled instance) may still get its
// PROCESSED answer after another worker settled the order: the late settle credits nothing.
func TestLateSettleAfterTakeOverCreditsNothing(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			nums := upload(t, d, orders.NopNotifier{}, 8, 1, 1)
			release := make(chan struct{})
			fake := newFakeAccrual(t, func(instance, n string, _ int) reply {
				r := processed(n, "42")
				if instance == "stalled" {
					r.hold = release
				}
				return r
			})
			stalledCfg := testAccrualConfig()
			stalledCfg.Lease = 300 * time.Millisecond
			stalledCfg.RequestTimeout = 10 * time.Second
			stalled := newTestWorker(d, stalledCfg, fake.srv.URL+"/stalled")
			startWorker(t, stalled)
			waitFor(t, 10*time.Second, "the stalled request", func() bool { return fake.callsOf(nums[0]) == 1 })

			// The stalled instance is shutting down gracefully: it claims nothing more, and waits for its
			// request in flight.
			stopped := make(chan error, 1)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
				defer cancel()
				stopped <- stalled.Stop(ctx)
			}()

			healthy := newTestWorker(d, testAccrualConfig(), fake.srv.URL+"/healthy")
			startWorker(t, healthy)
			waitFor(t, 10*time.Second, "the take-over", func() bool { return pendingCount(t, d) == 0 })
			close(release) // the stalled instance now gets PROCESSED too, and settles late
			require.NoError(t, <-stopped)

			assert.Equal(t, 2, fake.callsOf(nums[0]))
			assert.Equal(t, int64(1), creditCount(t, d))
			assert.Equal(t, int64(1), healthy.Stats().Processed)
			assert.Zero(t, stalled.Stats().Processed, "the late settle changed nothing")
			checkLedger(t, d)
		})
	}
}

// 30 % of answers are 500s: every order still ends final and is credited once.
func TestWorkerSurvivesFailingAccrual(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			nums := upload(t, d, orders.NopNotifier{}, 9, 100, 5)
			var mu sync.Mutex
			seq := 0
			fake := newFakeAccrual(t, func(_, n string, _ int) reply {
				mu.Lock()
				seq++
				fail := seq%10 < 3 // 30 %, deterministic
				mu.Unlock()
				if fail {
					return reply{status: http.StatusInternalServerError, body: "boom"}
				}
				return processed(n, "0.01")
			})
			w := newTestWorker(d, testAccrualConfig(), fake.srv.URL)
			startWorker(t, w)
			waitFor(t, 30*time.Second, "every order to be final", func() bool { return pendingCount(t, d) == 0 })
			_, _, _, answers := fake.snapshot()
			assert.Positive(t, answers[http.StatusInternalServerError])
			assert.Equal(t, int64(len(nums)), creditCount(t, d))
			for _, st := range orderStates(t, d) {
				assert.Equal(t, orders.StatusProcessed, st.Status)
			}
			checkLedger(t, d)
			assert.Equal(t, int64(answers[http.StatusInternalServerError]), w.Stats().Failures)
		})
	}
}

// Stop lets the request in flight finish and record its answer, and gives back the orders claimed
// but not yet asked about, due at once.
func TestWorkerStopFinishesInFlightAndReleasesLeases(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			nums := upload(t, d, orders.NopNotifier{}, 10, 6, 1)
			started := make(chan struct{}, 10)
			fake := newFakeAccrual(t, func(_, n string, _ int) reply {
				started <- struct{}{}
				time.Sleep(300 * time.Millisecond)
				return processed(n, "5")
			})
			cfg := testAccrualConfig()
			cfg.Workers = 1 // one in flight, one batch waiting
			w := newTestWorker(d, cfg, fake.srv.URL)
			require.NoError(t, w.Start(context.Background()))
			<-started
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, w.Stop(ctx))
			stopped := time.Now()

			st := orderStates(t, d)
			var done, waiting int
			for _, n := range nums {
				s := st[n]
				assert.Nil(t, s.LeaseOwner, "order %s: no lease left behind", n)
				switch s.Status {
				case orders.StatusProcessed:
					done++
				case orders.StatusNew:
					waiting++
					require.NotNil(t, s.NextPollAt)
					assert.False(t, s.NextPollAt.After(stopped), "due at once: %s", s.NextPollAt)
				}
			}
			assert.Equal(t, 1, done, "the request in flight finished and was recorded")
			assert.Equal(t, len(nums)-1, waiting)
			checkLedger(t, d)
		})
	}
}

// On PostgreSQL, a NOTIFY from anywhere (a sibling instance's upload, `gophermart resync`) wakes a
// worker that would otherwise sleep until its next poll: the orders' notifications listen for it.
func TestWorkerWakesOnNotification(t *testing.T) {
	engines := dbtest.Engines(t) // with CI=true, fails when PostgreSQL is missing
	open, ok := engines["postgres"]
	if !ok {
		t.Skip("LISTEN/NOTIFY is PostgreSQL's: set " + dbtest.EnvDSN)
	}
	d := open(t)
	fake := newFakeAccrual(t, func(_, n string, _ int) reply { return processed(n, "1") })
	q := &roundCounter{Queue: orders.NewQueue(d)}
	sibling := newTestWorkerWith(d, testAccrualConfig(), fake.srv.URL, q, quietLog())
	startWorker(t, sibling)
	startNotifications(t, orders.NewNotifications(d, []orders.Waker{sibling}, quietLog())) // subscribed on return
	q.waitIdle(t, 2)                                                                       // asleep for an hour
	upload(t, d, orders.NopNotifier{}, 11, 3, 1)
	assert.Equal(t, int64(3), pendingCount(t, d), "nobody told the worker yet")
	require.NoError(t, orders.Announce(context.Background(), d, "test"))
	waitFor(t, 10*time.Second, "the woken worker", func() bool { return pendingCount(t, d) == 0 })
	checkLedger(t, d)
}

// On PostgreSQL, an upload to one instance wakes the worker of another: the uploading instance's
// notifications NOTIFY, the sibling's LISTEN.
func TestUploadWakesSiblingInstance(t *testing.T) {
	engines := dbtest.Engines(t) // with CI=true, fails when PostgreSQL is missing
	open, ok := engines["postgres"]
	if !ok {
		t.Skip("LISTEN/NOTIFY is PostgreSQL's: set " + dbtest.EnvDSN)
	}
	d := open(t)
	fake := newFakeAccrual(t, func(_, n string, _ int) reply { return processed(n, "1") })
	sibling := newTestWorker(d, testAccrualConfig(), fake.srv.URL)
	startWorker(t, sibling)
	startNotifications(t, orders.NewNotifications(d, []orders.Waker{sibling}, quietLog()))
	uploader := orders.NewNotifications(d, nil, quietLog()) // an instance without a worker of its own
	startNotifications(t, uploader)
	time.Sleep(300 * time.Millisecond) // the sibling's first round found nothing: it sleeps for an hour
	upload(t, d, uploader, 18, 2, 1)
	waitFor(t, 10*time.Second, "the sibling to process the uploads", func() bool { return pendingCount(t, d) == 0 })
	checkLedger(t, d)
}

// startNotifications starts n and stops it when the test ends.
func startNotifications(tb testing.TB, n *orders.Notifications) {
	tb.Helper()
	require.NoError(tb, n.Start(context.Background()))
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		assert.NoError(tb, n.Stop(ctx))
	})
}

// `gophermart resync` makes pending orders due now and prints what it did.
func TestResyncCommand(t *testing.T) {
	for _, engine := range dbtest.EngineNames(t) {
		t.Run(engine, func(t *testing.T) {
			t.Parallel()
			uri := dbtest.URI(t, engine)
			d, err := db.Open(db.Config{URI: uri})
			require.NoError(t, err)
			defer func() { _ = d.Close() }()
			dbtest.Migrated(t, d)
			nums := upload(t, d, orders.NopNotifier{}, 12, 4, 1)
			q := orders.NewQueue(d)
			ctx := context.Background()
			_, err = q.Claim(ctx, "x", 4, time.Minute)
			require.NoError(t, err)
			for _, n := range nums[:3] {
				_, err = q.Requeue(ctx, ordernum.Number(n), "x", false, 5, time.Now().Add(time.Hour))
				require.NoError(t, err)
			}
			_, err = q.MarkInvalid(ctx, ordernum.Number(nums[3]))
			require.NoError(t, err)

			run := func(args ...string) string {
				t.Helper()
				cmd := newRootCmd()
				var out strings.Builder
				cmd.SetOut(&out)
				cmd.SetArgs(append([]string{"resync", "-d", uri}, args...))
				require.NoError(t, cmd.Execute())
				return out.String()
			}
			assert.Equal(t, "made 1 pending orders due; 2 unknown/final numbers skipped\n",
				run(nums[0], nums[3], orderNumber(12, 99)))
			assert.Equal(t, "made 3 pending orders due; 0 unknown/final numbers skipped\n", run())

			// A stored pause (a day's Retry-After, say) is cleared, and the command says so.
			until := time.Now().UTC().Add(24 * time.Hour).Truncate(time.Second)
			require.NoError(t, d.Conn(ctx).Exec("UPDATE gm_accrual_state SET pause_until = ?", until).Error)
			assert.Equal(t, "made 3 pending orders due; 0 unknown/final numbers skipped\n"+
				"cleared the accrual system's rate-limit pause (it would have lasted until "+until.Format(time.RFC3339)+")\n",
				run())
			var stored []struct {
				PauseUntil *time.Time `gorm:"column:pause_until"`
			}
			require.NoError(t, d.Conn(ctx).Raw("SELECT pause_until FROM gm_accrual_state").Scan(&stored).Error)
			require.Len(t, stored, 1)
			assert.Nil(t, stored[0].PauseUntil, "no pause left in the database")
			st := orderStates(t, d)
			for _, n := range nums[:3] {
				assert.Zero(t, st[n].Attempts)
				assert.False(t, st[n].NextPollAt.After(time.Now()), "due now: %s", st[n].NextPollAt)
			}

			cmd := newRootCmd()
			cmd.SetOut(io.Discard)
			cmd.SetArgs([]string{"resync", "-d", uri, "123"})
			require.ErrorIs(t, cmd.Execute(), errUsage, "not an order number")
		})
	}
}

// BenchmarkWorkerDrain measures orders drained per second (asked, settled and credited) against an
// accrual system that answers PROCESSED at once, with the default pool of 4 and a pool of 16.
func BenchmarkWorkerDrain(b *testing.B) {
	for name, open := range dbtest.Engines(b) {
		for _, workers := range []int{4, 16} {
			b.Run(fmt.Sprintf("%s/workers=%d", name, workers), func(b *testing.B) {
				d := open(b)
				fake := newFakeAccrual(b, func(_, n string, _ int) reply { return processed(n, "1") })
				cfg := testAccrualConfig()
				cfg.Workers = workers
				const batch = 1000
				var total int
				var elapsed time.Duration
				for i := range b.N {
					b.StopTimer()
					upload(b, d, orders.NopNotifier{}, 100+i, batch, 10)
					w := newTestWorker(d, cfg, fake.srv.URL)
					b.StartTimer()
					start := time.Now()
					require.NoError(b, w.Start(context.Background()))
					waitForQuick(b, d)
					elapsed += time.Since(start)
					b.StopTimer()
					require.NoError(b, w.Stop(context.Background()))
					total += batch
					b.StartTimer()
				}
				b.ReportMetric(float64(total)/elapsed.Seconds(), "orders/s")
			})
		}
	}
}

func waitForQuick(tb testing.TB, d *db.DB) {
	tb.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for pendingCount(tb, d) > 0 {
		if time.Now().After(deadline) {
			tb.Fatal("queue not drained")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

type leaseState struct {
	Status     string     `gorm:"column:status"`
	NextPollAt *time.Time `gorm:"column:next_poll_at"`
	LeaseOwner *string    `gorm:"column:lease_owner"`
	LeaseUntil *time.Time `gorm:"column:lease_until"`
}

func leaseOf(tb testing.TB, d *db.DB, n string) leaseState {
	tb.Helper()
	var rows []leaseState
	require.NoError(tb, d.Conn(context.Background()).Raw(
		"SELECT status, next_poll_at, lease_owner, lease_until FROM gm_orders WHERE number = ?", n).Scan(&rows).Error)
	require.Len(tb, rows, 1)
	return rows[0]
}

// live reports whether someone holds an unexpired lease on the order.
func (l leaseState) live() bool {
	return l.LeaseOwner != nil && l.LeaseUntil != nil && l.LeaseUntil.After(time.Now())
}

// lateCancelQueue reports, for its first non-empty claim, the cancellation of the claim's context
// that lands after the claim committed (as a driver does when the cancel races the reply): the rows
// are leased, and the caller sees only ctx's error.
type lateCancelQueue struct {
	*orders.Queue
	claimed  chan struct{}
	stopping chan struct{}
	once     sync.Once
}

func (q *lateCancelQueue) Claim(ctx context.Context, owner string, limit int, lease time.Duration) ([]queue.Job, error) {
	jobs, err := q.Queue.Claim(ctx, owner, limit, lease)
	if err != nil || len(jobs) == 0 {
		return jobs, err
	}
	first := false
	q.once.Do(func() { first = true })
	if !first {
		return jobs, nil
	}
	close(q.claimed)
	<-q.stopping
	select {
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-time.After(time.Second): // Stop cancels at once; a claim context it cannot cancel is fine
		return jobs, nil
	}
}

// Stop cancelling the dispatcher in the middle of a claim does not strand the claimed orders: the
// claim runs on a context Stop does not cancel, so what it leased is held, and given back.
func TestStopDuringClaimGivesTheClaimedOrdersBack(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			nums := upload(t, d, orders.NopNotifier{}, 15, 5, 1)
			fake := newFakeAccrual(t, func(_, n string, _ int) reply { return processed(n, "1") })
			q := &lateCancelQueue{Queue: orders.NewQueue(d), claimed: make(chan struct{}), stopping: make(chan struct{})}
			w := newTestWorkerWith(d, testAccrualConfig(), fake.srv.URL, q, quietLog())
			require.NoError(t, w.Start(context.Background()))
			<-q.claimed
			close(q.stopping)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, w.Stop(ctx))
			stopped := time.Now()

			for _, n := range nums {
				l := leaseOf(t, d, n)
				assert.False(t, l.live(), "order %s still leased: it would wait a whole lease", n)
				require.NotNil(t, l.NextPollAt)
				assert.False(t, l.NextPollAt.After(stopped), "order %s due at once: %s", n, l.NextPollAt)
			}
			_, calls, _, _ := fake.snapshot()
			assert.Empty(t, calls, "nothing was asked after Stop")
		})
	}
}

// logBuffer collects a logger's output; safe for its concurrent writes.
type logBuffer struct {
	mu  sync.Mutex
	buf strings.Builder
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records returns the JSON log records written so far.
func (b *logBuffer) records(tb testing.TB) []map[string]any {
	tb.Helper()
	b.mu.Lock()
	defer b.mu.Unlock()
	var out []map[string]any
	for _, line := range strings.Split(strings.TrimSpace(b.buf.String()), "\n") {
		if line == "" {
			continue
		}
		var r map[string]any
		require.NoError(tb, json.Unmarshal([]byte(line), &r), line)
		out = append(out, r)
	}
	return out
}

// A PROCESSED answer with an impossible accrual (negative, over the maximum) is not a passing failure
// of the accrual system: it is logged at Error for a human, counted apart (Stats, and the
// bad_answer outcome of gophermart_accrual_responses_total), credits nothing, and is asked again with backoff.
func TestWorkerImpossibleAccrualIsAnErrorRetriedWithBackoff(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			nums := upload(t, d, orders.NopNotifier{}, 16, 2, 1)
			negative, huge := nums[0], nums[1]
			fake := newFakeAccrual(t, func(_, n string, _ int) reply {
				if n == negative {
					return processed(n, "-5")
				}
				return processed(n, "1e30")
			})
			cfg := testAccrualConfig()
			cfg.MinBackoff, cfg.MaxBackoff = 100*time.Millisecond, 200*time.Millisecond
			var logs logBuffer
			log := slog.New(slog.NewJSONHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
			q := orders.NewQueue(d)
			w := newTestWorkerWith(d, cfg, fake.srv.URL, q, log)
			startWorker(t, w)
			waitFor(t, 20*time.Second, "each order asked three times", func() bool {
				return fake.callsOf(negative) >= 3 && fake.callsOf(huge) >= 3
			})
			stopCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			require.NoError(t, w.Stop(stopCtx))

			hits, calls, _, _ := fake.snapshot()
			s := w.Stats()
			assert.Equal(t, int64(calls[negative]+calls[huge]), s.BadAnswers)
			assert.Zero(t, s.Failures, "not counted as failures")
			assert.Zero(t, s.Processed)
			assert.Zero(t, creditCount(t, d))
			st := orderStates(t, d)
			for _, n := range nums {
				assert.Equal(t, orders.StatusNew, st[n].Status)
				assert.Equal(t, int64(calls[n]), st[n].Attempts, "every bad answer counts an attempt")
				require.NotNil(t, st[n].NextPollAt, "still queued")
			}
			var times []time.Time
			for _, h := range hits {
				if h.order == negative {
					times = append(times, h.at)
				}
			}
			assert.GreaterOrEqual(t, times[1].Sub(times[0]), 80*time.Millisecond, "asked again after a backoff, not at once")

			errorsLogged := map[string]int{}
			for _, r := range logs.records(t) {
				if r["level"] == "ERROR" {
					errorsLogged[fmt.Sprint(r["order"])]++
				}
				assert.NotEqual(t, "accrual system failing; order rescheduled", r["msg"])
			}
			assert.Equal(t, calls[negative], errorsLogged[negative], "each impossible answer logged at Error")
			assert.Equal(t, calls[huge], errorsLogged[huge])

			reg := prometheus.NewRegistry()
			reg.MustRegister(accrual.NewCollector(w, q))
			mfs, err := reg.Gather()
			require.NoError(t, err)
			var badAnswers float64
			found := false
			for _, mf := range mfs {
				if mf.GetName() != "gophermart_accrual_responses_total" {
					continue
				}
				for _, m := range mf.GetMetric() {
					if len(m.GetLabel()) == 1 && m.GetLabel()[0].GetValue() == "bad_answer" {
						badAnswers, found = m.GetCounter().GetValue(), true
					}
				}
			}
			require.True(t, found, "gophermart_accrual_responses_total{outcome=\"bad_answer\"} exported")
			assert.InDelta(t, float64(s.BadAnswers), badAnswers, 0)
		})
	}
}
