package calculator

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/points"
)

func TestProcessor(t *testing.T) {
	for name, open := range engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			t.Run("steps", testSteps(open))
			t.Run("restart continues", testRestart(open))
			t.Run("two instances", testTwoInstances(open))
		})
	}
}

func mustOrder(tb testing.TB, s *Store, n string) Order {
	tb.Helper()
	o, found, err := s.Order(context.Background(), n)
	require.NoError(tb, err)
	require.True(tb, found, n)
	return o
}

// testSteps drives the processor by hand: each due step moves an order one status on.
func testSteps(open func(tb testing.TB) *db.DB) func(t *testing.T) {
	return func(t *testing.T) {
		s := NewStore(open(t))
		ctx := context.Background()
		require.NoError(t, s.AddMechanic(ctx, Mechanic{Match: "Bork", Reward: dec("5"), RewardType: RewardPercent}))
		p := NewProcessor(Config{ProcessingDelay: 0}, s, discardLog())
		svc := NewService(s, p)
		n := luhn("7000000001")
		require.NoError(t, svc.RegisterOrder(ctx, ordernum.Number(n), []Good{{Description: "Bork", Price: dec("14599.50")}}))
		assert.Equal(t, Order{Number: ordernum.Number(n), Status: StatusRegistered}, mustOrder(t, s, n))

		_, pending, err := p.RunOnce(ctx)
		require.NoError(t, err)
		assert.True(t, pending)
		assert.Equal(t, StatusProcessing, mustOrder(t, s, n).Status)

		_, pending, err = p.RunOnce(ctx)
		require.NoError(t, err)
		assert.False(t, pending)
		amt := points.Amount(72998)
		assert.Equal(t, Order{Number: ordernum.Number(n), Status: StatusProcessed, Accrual: &amt}, mustOrder(t, s, n))

		// An order whose accrual cannot be represented becomes INVALID.
		big := luhn("7000000002")
		require.NoError(t, svc.RegisterOrder(ctx, ordernum.Number(big), []Good{
			{Description: "Bork", Price: dec("1000000000000000")}, {Description: "Bork", Price: dec("1000000000000000")},
		}))
		for range 2 {
			_, _, err = p.RunOnce(ctx)
			require.NoError(t, err)
		}
		assert.Equal(t, Order{Number: ordernum.Number(big), Status: StatusInvalid}, mustOrder(t, s, big))

		// With a delay, nothing is due yet and the next step's time is reported.
		slow := NewProcessor(Config{ProcessingDelay: time.Hour}, s, discardLog())
		later := luhn("7000000003")
		require.NoError(t, NewService(s, slow).RegisterOrder(ctx, ordernum.Number(later), nil))
		next, pending, err := slow.RunOnce(ctx)
		require.NoError(t, err)
		assert.True(t, pending)
		assert.True(t, next.After(time.Now().Add(59*time.Minute)), "due in an hour: %v", next)
		assert.Equal(t, StatusRegistered, mustOrder(t, s, later).Status)

		// A processor started with a shorter delay applies it to the orders already waiting.
		fast := NewProcessor(Config{ProcessingDelay: time.Millisecond}, s, discardLog())
		fast.Start()
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		defer func() { require.NoError(t, fast.Stop(stopCtx)) }()
		assert.Equal(t, Order{Number: ordernum.Number(later), Status: StatusProcessed}, waitFinalOrder(t, s, later))
	}
}

// testRestart registers orders while no processor runs; one started later finishes them.
func testRestart(open func(tb testing.TB) *db.DB) func(t *testing.T) {
	return func(t *testing.T) {
		s := NewStore(open(t))
		ctx := context.Background()
		require.NoError(t, s.AddMechanic(ctx, Mechanic{Match: "Coca-Cola", Reward: dec("12.5"), RewardType: RewardPoints}))
		first := NewProcessor(Config{ProcessingDelay: time.Millisecond}, s, discardLog())
		first.Start()
		stopCtx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		require.NoError(t, first.Stop(stopCtx))
		require.NoError(t, first.Stop(stopCtx), "stopping twice is harmless")

		var numbers []string
		for i := range 5 {
			n := luhn(fmt.Sprintf("710000000%d", i))
			numbers = append(numbers, n)
			require.NoError(t, NewService(s, first).RegisterOrder(ctx, ordernum.Number(n), []Good{{Description: "Coca-Cola", Price: dec("1")}}))
		}
		time.Sleep(20 * time.Millisecond)
		for _, n := range numbers {
			assert.Equal(t, StatusRegistered, mustOrder(t, s, n).Status, "no processor runs")
		}

		second := NewProcessor(Config{ProcessingDelay: time.Millisecond}, s, discardLog())
		second.Start()
		defer func() { require.NoError(t, second.Stop(stopCtx)) }()
		want := points.Amount(1250)
		for _, n := range numbers {
			assert.Equal(t, Order{Number: ordernum.Number(n), Status: StatusProcessed, Accrual: &want}, waitFinalOrder(t, s, n))
		}
	}
}

// testTwoInstances runs two processors on one database: every order ends PROCESSED with its accrual.
func testTwoInstances(open func(tb testing.TB) *db.DB) func(t *testing.T) {
	return func(t *testing.T) {
		d := open(t)
		ctx := context.Background()
		a, b := NewStore(d), NewStore(d)
		require.NoError(t, a.AddMechanic(ctx, Mechanic{Match: "x", Reward: dec("1"), RewardType: RewardPoints}))
		finished := &countingHandler{msg: "order processed"}
		pa := NewProcessor(Config{}, a, slog.New(finished))
		pb := NewProcessor(Config{}, b, slog.New(finished))
		pa.Start()
		pb.Start()
		stopCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
		defer cancel()
		t.Cleanup(func() { _ = pa.Stop(stopCtx); _ = pb.Stop(stopCtx) }) // no-ops once stopped below
		var wg sync.WaitGroup
		var numbers []string
		for i := range 40 {
			n := luhn(fmt.Sprintf("72%08d", i))
			numbers = append(numbers, n)
			svc := NewService(a, pa)
			if i%2 == 1 {
				svc = NewService(b, pb)
			}
			wg.Go(func() {
				assert.NoError(t, svc.RegisterOrder(ctx, ordernum.Number(n), []Good{{Description: "x", Price: dec("1")}, {Description: "xx", Price: dec("2")}}))
			})
		}
		wg.Wait()
		want := points.Amount(200)
		for _, n := range numbers {
			assert.Equal(t, Order{Number: ordernum.Number(n), Status: StatusProcessed, Accrual: &want}, waitFinalOrder(t, a, n))
		}
		// An order reads PROCESSED as soon as its update commits, a moment before its processor logs
		// it: count once both processors have stopped.
		require.NoError(t, pa.Stop(stopCtx))
		require.NoError(t, pb.Stop(stopCtx))
		assert.Equal(t, int64(len(numbers)), finished.n.Load(), "each order finished exactly once")
	}
}

// countingHandler counts log records with a given message.
type countingHandler struct {
	msg string
	n   atomic.Int64
}

func (h *countingHandler) Enabled(context.Context, slog.Level) bool { return true }

func (h *countingHandler) Handle(_ context.Context, r slog.Record) error {
	if r.Message == h.msg {
		h.n.Add(1)
	}
	return nil
}

func (h *countingHandler) WithAttrs([]slog.Attr) slog.Handler { return h }

func (h *countingHandler) WithGroup(string) slog.Handler { return h }

func waitFinalOrder(tb testing.TB, s *Store, n string) Order {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		o := mustOrder(tb, s, n)
		if o.Status == StatusProcessed || o.Status == StatusInvalid {
			return o
		}
		if time.Now().After(deadline) {
			tb.Fatalf("order %s still %s after 10s", n, o.Status)
		}
		time.Sleep(2 * time.Millisecond)
	}
}
