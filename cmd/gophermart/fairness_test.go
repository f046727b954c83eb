package main

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/accrual"
	"github.com/gophermart/gophermart/modules/balance"
	"github.com/gophermart/gophermart/modules/orders"
	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/points"
)

// limitedAccrual is an in-process accrual system that allows limit requests in any sliding minute
// and answers the rest 429, as the real one does; it does not know the orders in unknown (204) and
// answers PROCESSING, then PROCESSED with 10 points, for any other.
type limitedAccrual struct {
	limit   int
	unknown map[ordernum.Number]bool

	mu    sync.Mutex
	sent  []time.Time
	calls map[ordernum.Number]int
}

func (a *limitedAccrual) Order(_ context.Context, n ordernum.Number) (accrual.Result, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := time.Now()
	recent := a.sent[:0]
	for _, t := range a.sent {
		if now.Sub(t) < time.Minute {
			recent = append(recent, t)
		}
	}
	a.sent = recent
	if len(a.sent) >= a.limit {
		return accrual.Result{}, &accrual.RateLimitedError{RetryAfter: time.Minute, Limit: a.limit}
	}
	a.sent = append(a.sent, now)
	a.calls[n]++
	if a.unknown[n] {
		return accrual.Result{}, accrual.ErrNotRegistered
	}
	if a.calls[n] == 1 {
		return accrual.Result{Order: n, Status: accrual.StatusProcessing}, nil
	}
	ten := points.Amount(1000)
	return accrual.Result{Order: n, Status: accrual.StatusProcessed, Accrual: &ten}, nil
}

// One user's backlog never delays another user's new order: with 1,000 orders of one user that the
// accrual system does not know, and the accrual system limited to 120 requests a minute, another
// user's new order is PROCESSED within 10 s of its upload. The real queue on SQLite runs inside a
// synctest bubble, so the 10 s are exact. Picking the earliest due order first, as a plain FIFO
// does, would leave the new order behind the whole backlog (1,000 asks at 2 a second: 8 minutes).
func TestNewOrderOvertakesAnotherUsersBacklog(t *testing.T) {
	d := dbtest.Migrated(t, dbtest.Open(t, "sqlite"))
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		dbtest.CreateUser(t, d, "greedy")
		dbtest.CreateUser(t, d, "other")
		const backlog = 1000
		store := orders.NewStore(d)
		fake := &limitedAccrual{limit: 120, unknown: map[ordernum.Number]bool{}, calls: map[ordernum.Number]int{}}
		require.NoError(t, d.InTx(ctx, func(ctx context.Context) error {
			for i := range backlog {
				n := ordernum.WithCheckDigit(strconv.Itoa(50_000_000 + i))
				fake.unknown[n] = true
				if _, err := store.Insert(ctx, "greedy", n, time.Now(), backlog); err != nil {
					return err
				}
			}
			return nil
		}))
		cfg := testAccrualConfig()
		cfg.MinBackoff, cfg.MaxBackoff = 250*time.Millisecond, 5*time.Minute
		w := accrual.NewWorker(accrual.Deps{
			Config: cfg, DB: d, Orders: orders.NewQueue(d), Tx: d, Client: fake, Log: quietLog(),
			Ledger: balance.NewService(balance.NewStore(d), d, quietLog()),
		})
		require.NoError(t, w.Start(ctx))
		defer func() { require.NoError(t, w.Stop(ctx)) }()

		time.Sleep(90 * time.Second) // the first 120 asks, a 429, its minute's pause, then paced asks
		_, limit := w.RateLimit()
		require.Equal(t, 120, limit, "the worker learned the limit")

		n := ordernum.WithCheckDigit("60000000")
		svc := orders.NewService(store, orders.NewNotifications(d, []orders.Waker{w}, quietLog()), orders.Config{}, quietLog())
		outcome, err := svc.Upload(ctx, "other", n)
		require.NoError(t, err)
		require.Equal(t, orders.Accepted, outcome)
		uploaded := time.Now()
		for {
			var status string
			require.NoError(t, d.Conn(ctx).Raw("SELECT status FROM gm_orders WHERE number = ?", string(n)).Scan(&status).Error)
			if status == orders.StatusProcessed {
				break
			}
			require.Less(t, time.Since(uploaded), 10*time.Second, "the new order is still %s", status)
			time.Sleep(50 * time.Millisecond)
		}
		t.Logf("another user's new order PROCESSED %s after upload, behind %d unknown orders", time.Since(uploaded), backlog)
		b, err := balance.NewService(balance.NewStore(d), d, quietLog()).Balance(ctx, "other")
		require.NoError(t, err)
		assert.Equal(t, points.Amount(1000), b.Current)
	})
}

// windowAccrual is an in-process accrual system that allows limit requests in any sliding window and
// answers the rest 429 (Retry-After 1 s, naming the limit); it records when each request came, from
// which instance, and PROCESSED with 3 points for every order.
type windowAccrual struct {
	limit  int
	window time.Duration

	mu       sync.Mutex
	accepted []time.Time
	sends    []time.Time
	refused  []time.Time
	from     map[string]int
}

func (a *windowAccrual) client(instance string) accrual.Client {
	return clientFunc(func(_ context.Context, n ordernum.Number) (accrual.Result, error) {
		a.mu.Lock()
		defer a.mu.Unlock()
		now := time.Now()
		a.sends = append(a.sends, now)
		a.from[instance]++
		in := 0
		for _, at := range a.accepted {
			if now.Sub(at) < a.window {
				in++
			}
		}
		if in >= a.limit {
			a.refused = append(a.refused, now)
			return accrual.Result{}, &accrual.RateLimitedError{RetryAfter: time.Second, Limit: a.limit}
		}
		a.accepted = append(a.accepted, now)
		three := points.Amount(300)
		return accrual.Result{Order: n, Status: accrual.StatusProcessed, Accrual: &three}, nil
	})
}

func (a *windowAccrual) refusedSoFar() []time.Time {
	a.mu.Lock()
	defer a.mu.Unlock()
	return append([]time.Time(nil), a.refused...)
}

type clientFunc func(ctx context.Context, n ordernum.Number) (accrual.Result, error)

func (f clientFunc) Order(ctx context.Context, n ordernum.Number) (accrual.Result, error) {
	return f(ctx, n)
}

// Two instances on one database learn the limit N from a 429 and from then on send at most N
// requests in any window together, through the send slots they share in the database: after the
// burst that earned the first 429, the accrual system refuses nothing more, not even requests of an
// instance that started after the 429 and never saw one (it learns from the database that the
// window is spent). The instances run in a synctest bubble on SQLite, so the request times are exact.
func TestInstancesShareTheLearnedLimitThroughTheDatabase(t *testing.T) {
	d := dbtest.Migrated(t, dbtest.Open(t, "sqlite"))
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		nums := upload(t, d, orders.NopNotifier{}, 17, 24, 3)
		const limit = 4
		const window = 6 * time.Second
		acc := &windowAccrual{limit: limit, window: window, from: map[string]int{}}
		cfg := testAccrualConfig()
		cfg.Workers = 2
		cfg.RateWindow = window
		var workers []*accrual.Worker
		for _, instance := range []string{"a", "b"} {
			w := accrual.NewWorker(accrual.Deps{
				Config: cfg, DB: d, Orders: orders.NewQueue(d), Tx: d, Client: acc.client(instance), Log: quietLog(),
				Ledger: balance.NewService(balance.NewStore(d), d, quietLog()),
			})
			require.NoError(t, w.Start(ctx))
			workers = append(workers, w)
			for instance == "a" && len(acc.refusedSoFar()) == 0 {
				time.Sleep(time.Millisecond) // b starts after a's 429: b learns the limit from the database only
			}
		}
		for pendingCount(t, d) > 0 {
			time.Sleep(100 * time.Millisecond)
		}
		for _, w := range workers {
			require.NoError(t, w.Stop(ctx))
		}
		acc.mu.Lock()
		defer acc.mu.Unlock()
		require.NotEmpty(t, acc.refused, "the limit was hit")
		first := acc.refused[0]
		for _, at := range acc.refused {
			assert.Less(t, at.Sub(first), time.Second, "refused only in the burst before the limit was known: %s", at.Sub(first))
		}
		var paced []time.Time
		for _, at := range acc.sends {
			if at.After(first) {
				paced = append(paced, at)
			}
		}
		for i := range paced {
			in := 0
			for j := i; j < len(paced) && paced[j].Sub(paced[i]) < window; j++ {
				in++
			}
			assert.LessOrEqual(t, in, limit, "both instances' requests in the window from %s", paced[i].Sub(first))
		}
		assert.Positive(t, acc.from["a"])
		assert.Positive(t, acc.from["b"])
		assert.Equal(t, int64(len(nums)), creditCount(t, d))
		checkLedger(t, d)
	})
}
