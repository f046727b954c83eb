package main

import (
	"context"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/accrual"
	"github.com/gophermart/gophermart/modules/balance"
	"github.com/gophermart/gophermart/modules/orders"
	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/points"
)

// The tests here run the worker in a synctest bubble: its leases, deadlines and backoffs are on
// fake time, which moves only when every goroutine of the bubble waits, so no margin of wall-clock
// time decides them. The accrual system is an in-memory Client (a network round trip would keep
// the bubble from ever being idle), with the HTTP client's deadline: no whole answer within the
// request timeout is a *accrual.TimeoutError.

// memAnswer is what memAccrual answers one ask with: after hold is closed (nil: at once), the
// result or err. A hold that never closes waits for the deadline or the caller's cancellation.
type memAnswer struct {
	hold   <-chan struct{}
	status accrual.Status
	amount string // the accrual when PROCESSED, e.g. "4"
}

// memAccrual is an in-memory accrual system shared by several workers: it records which instance
// asked about which order, and every time one order was asked about by two asks at once.
type memAccrual struct {
	timeout time.Duration
	script  func(instance string, n ordernum.Number, call int) memAnswer

	mu       sync.Mutex
	calls    map[ordernum.Number]int
	inflight map[ordernum.Number]int
	asked    map[string][]ordernum.Number // instance -> orders, in order
	overlaps []ordernum.Number
}

func newMemAccrual(timeout time.Duration, script func(string, ordernum.Number, int) memAnswer) *memAccrual {
	return &memAccrual{
		timeout: timeout, script: script, calls: map[ordernum.Number]int{},
		inflight: map[ordernum.Number]int{}, asked: map[string][]ordernum.Number{},
	}
}

// client is the accrual.Client an instance asks through.
func (m *memAccrual) client(instance string) accrual.Client {
	return memClient{m: m, instance: instance}
}

func (m *memAccrual) callsOf(n string) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.calls[ordernum.Number(n)]
}

func (m *memAccrual) snapshot() (asked map[string][]ordernum.Number, overlaps []ordernum.Number) {
	m.mu.Lock()
	defer m.mu.Unlock()
	asked = map[string][]ordernum.Number{}
	for k, v := range m.asked {
		asked[k] = append([]ordernum.Number(nil), v...)
	}
	return asked, append([]ordernum.Number(nil), m.overlaps...)
}

type memClient struct {
	m        *memAccrual
	instance string
}

func (c memClient) Order(ctx context.Context, n ordernum.Number) (accrual.Result, error) {
	m := c.m
	m.mu.Lock()
	m.calls[n]++
	call := m.calls[n]
	m.asked[c.instance] = append(m.asked[c.instance], n)
	m.inflight[n]++
	if m.inflight[n] > 1 {
		m.overlaps = append(m.overlaps, n)
	}
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		m.inflight[n]--
		m.mu.Unlock()
	}()
	a := m.script(c.instance, n, call)
	if a.hold != nil {
		deadline := time.NewTimer(m.timeout)
		defer deadline.Stop()
		select {
		case <-a.hold:
		case <-deadline.C:
			return accrual.Result{}, &accrual.TimeoutError{Order: n, After: m.timeout, Err: context.DeadlineExceeded}
		case <-ctx.Done():
			return accrual.Result{}, ctx.Err()
		}
	}
	res := accrual.Result{Order: n, Status: a.status}
	if a.amount != "" {
		amount, err := points.Parse(a.amount)
		if err != nil {
			return accrual.Result{}, err
		}
		res.Accrual = &amount
	}
	return res, nil
}

// newMemWorker builds a worker on d asking client, without starting it.
func newMemWorker(d *db.DB, cfg accrual.Config, client accrual.Client) *accrual.Worker {
	log := quietLog()
	return accrual.NewWorker(accrual.Deps{
		Config: cfg, DB: d, Orders: orders.NewQueue(d), Tx: d, Client: client, Log: log,
		Ledger: balance.NewService(balance.NewStore(d), d, log),
	})
}

// stopWorker stops w, allowing it limit of fake time.
func stopWorker(t *testing.T, w *accrual.Worker, limit time.Duration) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	assert.NoError(t, w.Stop(ctx))
}

// eventually advances fake time in small steps until cond holds, failing after limit of it.
func eventually(t *testing.T, limit time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(limit)
	for !cond() {
		require.True(t, time.Now().Before(deadline), "no %s after %s", what, limit)
		time.Sleep(10 * time.Millisecond)
	}
}

// A job queued behind a slow request starts after the lease its claim got would leave room for a
// whole request: its lease is renewed right before it asks, so a sibling instance never takes the
// order over while that request is in flight (without the renewal the sibling asks about the same
// order at the same time).
func TestLateJobRenewsItsLeaseBeforeAsking(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				d := open(t) // in the bubble: its connections' timers are on fake time, and it closes there
				nums := upload(t, d, orders.NopNotifier{}, 13, 2, 1)
				cfg := testAccrualConfig()
				// One worker claims both orders. a's first ask about each hangs until its 1 s timeout; the
				// second job starts when the first request moves to the slow lane, 250 ms in, so its
				// request would end after the 1.1 s lease the claim got unless the lease is renewed.
				cfg.Workers = 1
				cfg.Lease, cfg.RequestTimeout, cfg.MaxRetries = 1100*time.Millisecond, time.Second, 0
				fake := newMemAccrual(cfg.RequestTimeout, func(instance string, _ ordernum.Number, call int) memAnswer {
					if instance == "a" && call == 1 { // a's first ask about each order hangs until its timeout
						return memAnswer{hold: make(chan struct{})}
					}
					return memAnswer{status: accrual.StatusProcessed, amount: "4"}
				})
				wa := newMemWorker(d, cfg, fake.client("a"))
				require.NoError(t, wa.Start(context.Background()))
				eventually(t, time.Minute, "ask by a about the first order", func() bool { return fake.callsOf(nums[0]) == 1 })
				cfgB := testAccrualConfig()
				cfgB.PollInterval = 100 * time.Millisecond // b looks for due orders, expired leases included, often
				wb := newMemWorker(d, cfgB, fake.client("b"))
				require.NoError(t, wb.Start(context.Background()))
				eventually(t, 2*time.Hour, "both orders processed", func() bool { return pendingCount(t, d) == 0 })
				stopWorker(t, wa, 10*time.Second)
				stopWorker(t, wb, 10*time.Second)

				asked, overlaps := fake.snapshot()
				assert.Empty(t, overlaps, "orders asked about by two requests at once")
				assert.Contains(t, asked["a"], ordernum.Number(nums[1]), "the queued job did ask, late, under a renewed lease")
				assert.Equal(t, int64(len(nums)), creditCount(t, d))
				checkLedger(t, d)
			})
		})
	}
}

// A worker whose request outlived its lease (a stalled instance) re-claims the order itself: the
// stale job's answer, recorded late, neither ends the newer claim's lease nor makes Stop forget it,
// because every claim has its own lease token.
func TestStaleJobCannotEndANewerClaim(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			synctest.Test(t, func(t *testing.T) {
				d := open(t) // in the bubble: its connections' timers are on fake time, and it closes there
				n := upload(t, d, orders.NopNotifier{}, 14, 1, 1)[0]
				cfg := testAccrualConfig()
				cfg.Workers = 1
				cfg.Lease, cfg.RequestTimeout = 300*time.Millisecond, 30*time.Second // stalled: longer than the lease
				cfg.MinBackoff, cfg.MaxBackoff = 10*time.Second, 20*time.Second
				first := make(chan struct{})
				fake := newMemAccrual(cfg.RequestTimeout, func(_ string, _ ordernum.Number, call int) memAnswer {
					if call == 1 {
						return memAnswer{hold: first, status: accrual.StatusRegistered}
					}
					return memAnswer{hold: make(chan struct{}), status: accrual.StatusRegistered} // until the worker gives up
				})
				w := newMemWorker(d, cfg, fake.client(""))
				require.NoError(t, w.Start(context.Background()))

				eventually(t, time.Minute, "first request", func() bool { return fake.callsOf(n) == 1 })
				staleLease := leaseOf(t, d, n)
				require.NotNil(t, staleLease.LeaseOwner)
				require.NotNil(t, staleLease.LeaseUntil)
				stale := *staleLease.LeaseOwner
				assert.True(t, strings.HasPrefix(stale, w.Owner()+":"), "a per-claim token: %s", stale)
				eventually(t, time.Minute, "re-claim of the order by the worker", func() bool {
					l := leaseOf(t, d, n)
					return l.LeaseUntil != nil && l.LeaseUntil.After(*staleLease.LeaseUntil)
				})
				close(first) // the stale job gets its answer now and tries to requeue the order
				eventually(t, time.Minute, "requeue by the stale job", func() bool { return w.Stats().Requeued >= 1 })

				l := leaseOf(t, d, n)
				require.NotNil(t, l.LeaseOwner, "the newer claim's lease was ended by the stale job")
				assert.NotEqual(t, stale, *l.LeaseOwner)
				assert.Equal(t, orders.StatusNew, l.Status, "the stale answer is not recorded")

				stopWorker(t, w, time.Second) // aborts the newer request; gives back what is still held
				stoppedAt := time.Now()
				l = leaseOf(t, d, n)
				assert.False(t, l.live(), "no live lease left behind: %+v", l)
				require.NotNil(t, l.NextPollAt)
				assert.False(t, l.NextPollAt.After(stoppedAt), "due at once: %s", l.NextPollAt)
			})
		})
	}
}
