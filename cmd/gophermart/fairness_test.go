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
