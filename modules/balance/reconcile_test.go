package balance

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
)

// fakeLedger answers the reconciler's checks with what the test sets, and counts them.
type fakeLedger struct {
	mu         sync.Mutex
	violations []Violation
	err        error
	checks     int
}

func (f *fakeLedger) check(context.Context) ([]Violation, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.checks++
	return f.violations, f.err
}

func (f *fakeLedger) set(v []Violation, err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.violations, f.err = v, err
}

func (f *fakeLedger) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.checks
}

// syncBuffer is a log sink safe for the reconciler's goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// gathered is the value of gophermart_ledger_violations as a registry exposes it, "" when absent.
func gathered(t *testing.T, r *Reconciler) string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(r))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	if len(mfs) == 0 {
		return ""
	}
	require.Len(t, mfs, 1)
	assert.Equal(t, "gophermart_ledger_violations", mfs[0].GetName())
	return fmt.Sprint(mfs[0].GetMetric()[0].GetGauge().GetValue())
}

// The check runs every interval on fake time, from one interval after start until stop: each
// violating user is logged at Error with user_id, and the gauge holds the last count (0 before the
// first check); a failed check keeps the last count and warns.
func TestReconcilerChecksEveryInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs := &syncBuffer{}
		f := &fakeLedger{}
		r := newReconciler(Config{ReconcileInterval: time.Minute}, f.check, alwaysClaim, slog.New(slog.NewJSONHandler(logs, nil)))
		require.NoError(t, r.Start(context.Background()))

		synctest.Wait()
		assert.Zero(t, f.count(), "no check at start")
		assert.Equal(t, "0", gathered(t, r), "0 before the first check")

		time.Sleep(time.Minute)
		synctest.Wait()
		assert.Equal(t, 1, f.count())
		assert.Equal(t, "0", gathered(t, r))
		assert.NotContains(t, logs.String(), `"level":"ERROR"`)

		f.set([]Violation{{UserID: "alice", HasBalance: true, Current: 5, Credited: 10}, {UserID: "bob", Credited: 1}}, nil)
		time.Sleep(time.Minute)
		synctest.Wait()
		assert.Equal(t, 2, f.count())
		assert.Equal(t, "2", gathered(t, r))
		lines := errorLines(logs.String())
		require.Len(t, lines, 2)
		assert.Contains(t, lines[0], `"user_id":"alice"`)
		assert.Contains(t, lines[0], `"msg":"ledger invariant broken"`)
		assert.Contains(t, lines[1], `"user_id":"bob"`)

		f.set(nil, errors.New("database gone"))
		time.Sleep(time.Minute)
		synctest.Wait()
		assert.Equal(t, 3, f.count())
		assert.Equal(t, "2", gathered(t, r), "a failed check keeps the last count")
		assert.Contains(t, logs.String(), `"msg":"ledger check failed"`)

		require.NoError(t, r.Stop(context.Background()))
		time.Sleep(time.Hour)
		synctest.Wait()
		assert.Equal(t, 3, f.count(), "no check after stop")
	})
}

func errorLines(logs string) []string {
	var out []string
	for _, l := range strings.Split(logs, "\n") {
		if strings.Contains(l, `"level":"ERROR"`) {
			out = append(out, l)
		}
	}
	return out
}

// One check logs at most maxLoggedViolations users, and counts the rest in one more line.
func TestReconcilerCapsItsLog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		logs := &syncBuffer{}
		many := make([]Violation, maxLoggedViolations+7)
		for i := range many {
			many[i] = Violation{UserID: fmt.Sprintf("u%d", i), Credited: 1}
		}
		f := &fakeLedger{violations: many}
		r := newReconciler(Config{ReconcileInterval: time.Second}, f.check, alwaysClaim, slog.New(slog.NewJSONHandler(logs, nil)))
		require.NoError(t, r.Start(context.Background()))
		time.Sleep(time.Second)
		synctest.Wait()
		require.NoError(t, r.Stop(context.Background()))
		lines := errorLines(logs.String())
		require.Len(t, lines, maxLoggedViolations+1)
		assert.Contains(t, lines[maxLoggedViolations], `"users":7`)
		assert.Equal(t, fmt.Sprint(len(many)), gathered(t, r))
	})
}

// With no interval the reconciler never checks, and exports nothing.
func TestReconcilerOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		f := &fakeLedger{}
		r := newReconciler(Config{}, f.check, alwaysClaim, discardLog())
		require.NoError(t, r.Start(context.Background()))
		time.Sleep(24 * time.Hour)
		synctest.Wait()
		require.NoError(t, r.Stop(context.Background()))
		assert.Zero(t, f.count())
		assert.Empty(t, gathered(t, r))
	})
}

// Stop cancels a check in progress.
func TestReconcilerStopCancelsACheck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		entered := make(chan struct{})
		r := newReconciler(Config{ReconcileInterval: time.Second}, func(ctx context.Context) ([]Violation, error) {
			close(entered)
			<-ctx.Done()
			return nil, ctx.Err()
		}, alwaysClaim, discardLog())
		require.NoError(t, r.Start(context.Background()))
		<-entered
		require.NoError(t, r.Stop(context.Background()))
		assert.Equal(t, "0", gathered(t, r))
	})
}

// On a real database, a user whose balance disagrees with the ledger is found and logged.
func TestReconcilerOnTheRealLedger(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			dbtest.CreateUser(t, d, "carol")
			require.NoError(t, d.Conn(context.Background()).Exec(
				"INSERT INTO gm_balances (user_id, current, withdrawn) VALUES ('carol', 500, 0)").Error)
			logs := &syncBuffer{}
			svc := NewService(NewStore(d), d, discardLog())
			r := NewReconciler(Config{ReconcileInterval: time.Hour}, svc, slog.New(slog.NewJSONHandler(logs, nil)))
			r.reconcile(context.Background())
			assert.Equal(t, "1", gathered(t, r))
			lines := errorLines(logs.String())
			require.Len(t, lines, 1)
			assert.Contains(t, lines[0], `"user_id":"carol"`)
			assert.Contains(t, lines[0], "current 5.00 != credited 0.00 - spent 0.00")
		})
	}
}

// alwaysClaim is the claim of a reconciler alone on its database.
func alwaysClaim(context.Context, time.Time) (bool, error) { return true, nil }

// Two instances on one database check the ledger once per interval between them: the one whose
// tick comes first in an interval checks, the other skips it; when that one stops, the other
// checks every interval. Ticks are driven with explicit times (each instance ticks once per
// interval, at its own phase).
func TestReconcilersOnOneDatabaseCheckOncePerInterval(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			const interval = time.Minute
			fa, fb := &fakeLedger{}, &fakeLedger{}
			a := newReconciler(Config{ReconcileInterval: interval}, fa.check, claimSlot(d), discardLog())
			b := newReconciler(Config{ReconcileInterval: interval}, fb.check, claimSlot(d), discardLog())
			ctx := context.Background()
			base := time.Date(2026, 12, 2, 5, 0, 0, 0, time.UTC)
			for k := range 5 { // a ticks 10 s into each interval, b 40 s
				slot := base.Add(time.Duration(k) * interval)
				a.tick(ctx, slot.Add(10*time.Second))
				b.tick(ctx, slot.Add(40*time.Second))
				assert.Equal(t, k+1, fa.count()+fb.count(), "one check per interval, interval %d", k)
			}
			assert.Equal(t, 5, fa.count(), "the first to tick in each interval checks")
			assert.Zero(t, fb.count())
			for k := 5; k < 8; k++ { // a has stopped
				b.tick(ctx, base.Add(time.Duration(k)*interval+40*time.Second))
			}
			assert.Equal(t, 3, fb.count(), "the other instance takes over at once")
			a.tick(ctx, base.Add(7*interval+50*time.Second))
			assert.Equal(t, 5, fa.count(), "an interval already checked is not checked again")
		})
	}
}

// Many instances ticking in the same interval at the same moment: exactly one checks. Without the
// claim every one of them would.
func TestReconcilersRacingForOneIntervalCheckOnce(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			const n = 8
			f := &fakeLedger{}
			now := time.Date(2026, 12, 2, 5, 0, 30, 0, time.UTC)
			for round := range 3 {
				var wg sync.WaitGroup
				start := make(chan struct{})
				for range n {
					r := newReconciler(Config{ReconcileInterval: time.Minute}, f.check, claimSlot(d), discardLog())
					wg.Go(func() {
						<-start
						r.tick(context.Background(), now)
					})
				}
				close(start)
				wg.Wait()
				assert.Equal(t, round+1, f.count(), "round %d", round)
				now = now.Add(time.Minute)
			}
		})
	}
}

// A failed claim (the database is gone) checks nothing and warns.
func TestReconcilerClaimFailure(t *testing.T) {
	logs := &syncBuffer{}
	f := &fakeLedger{}
	r := newReconciler(Config{ReconcileInterval: time.Minute}, f.check,
		func(context.Context, time.Time) (bool, error) { return false, errors.New("database gone") },
		slog.New(slog.NewJSONHandler(logs, nil)))
	r.tick(context.Background(), time.Now())
	assert.Zero(t, f.count())
	assert.Contains(t, logs.String(), `"msg":"ledger check failed"`)
	assert.Contains(t, logs.String(), "database gone")
}

func discardLog() *slog.Logger { return slog.New(slog.DiscardHandler) }
