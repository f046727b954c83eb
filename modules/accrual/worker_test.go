package accrual

import (
	"context"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/points"
)

// Every kind of answer maps as the contract says: 204 stays NEW and is asked again with growing,
// capped backoff; INVALID is final; REGISTERED/PROCESSING make the order PROCESSING; PROCESSED
// settles and credits exactly once, with or without an accrual.
func TestWorkerMapsAnswers(t *testing.T) {
	d := sqliteDB(t)
	synctest.Test(t, func(t *testing.T) {
		q := newFakeQueue()
		nums := q.add("u1", 5)
		unknown, invalid, slow, bare, stuck := nums[0], nums[1], nums[2], nums[3], nums[4]
		c := newFakeClient(time.Second, func(n ordernum.Number, call int) answer {
			switch n {
			case unknown:
				return answer{err: ErrNotRegistered}
			case invalid:
				return answer{result: Result{Status: StatusInvalid}}
			case slow:
				switch call {
				case 1:
					return answer{result: Result{Status: StatusRegistered}}
				case 2:
					return answer{result: Result{Status: StatusProcessing}}
				}
				return processedAnswer(1000)
			case bare:
				return answer{result: Result{Status: StatusProcessed}}
			}
			return answer{result: Result{Status: StatusRegistered}}
		})
		cfg := testConfig()
		cfg.MinBackoff, cfg.MaxBackoff = 100*time.Millisecond, 2*time.Second
		w := newTestWorker(t, d, cfg, q, c)
		stop := w.start(t)
		time.Sleep(time.Minute)
		stop()

		assert.Equal(t, "NEW", q.status(unknown), "204 keeps the order NEW")
		u := q.row(unknown)
		assert.Equal(t, c.callsOf(unknown), u.attempts, "every 204 counts an attempt")
		// 100 ms doubling to the 2 s cap: 0.1+0.2+0.4+0.8+1.6 = 3.1 s, then every 2 s (less jitter).
		assert.InDelta(t, 5+(60-3.1)/2, c.callsOf(unknown), 4, "asked less and less often, then every max backoff")
		assert.Equal(t, "INVALID", q.status(invalid))
		assert.Equal(t, 1, c.callsOf(invalid), "INVALID is final: never asked again")
		assert.Equal(t, "PROCESSED", q.status(slow))
		assert.Equal(t, 3, c.callsOf(slow), "asked until final, then never again")
		assert.Equal(t, "PROCESSED", q.status(bare))
		assert.Nil(t, q.row(bare).accrual, "PROCESSED without an accrual credits nothing")
		assert.Equal(t, "PROCESSING", q.status(stuck), "REGISTERED makes the order PROCESSING")
		assert.Equal(t, map[ordernum.Number]points.Amount{slow: 1000}, w.ledger.credits)
		assert.Equal(t, 1, w.ledger.calls)
		s := w.Stats()
		assert.Equal(t, int64(2), s.Processed)
		assert.Equal(t, int64(1), s.Invalid)
		assert.Equal(t, int64(c.callsOf(unknown)), s.NotRegistered)
		assert.Empty(t, q.held(), "Stop gave every lease back")
	})
}

// An answer that never completes (dripping a byte a second) holds only its own order: after
// slowAfter its request leaves the worker for the slow lane, so with twice as many such orders as
// workers, orders uploaded after them still reach PROCESSED within two seconds. Without the slow
// lane they would wait for the 5 s request deadline.
func TestWorkerSlowAnswersNeverStallThePool(t *testing.T) {
	d := sqliteDB(t)
	synctest.Test(t, func(t *testing.T) {
		q := newFakeQueue()
		cfg := testConfig() // 4 workers, 5 s request deadline
		cfg.MinBackoff = time.Second
		drip := map[ordernum.Number]bool{}
		for _, n := range q.add("hostile", 2*cfg.Workers) {
			drip[n] = true
		}
		time.Sleep(time.Millisecond) // the dripping orders are due first
		others := q.add("u2", 6)
		c := newFakeClient(cfg.RequestTimeout, func(n ordernum.Number, _ int) answer {
			if drip[n] {
				return answer{hang: true}
			}
			return processedAnswer(500)
		})
		w := newTestWorker(t, d, cfg, q, c)
		start := time.Now()
		stop := w.start(t)
		waitUntil(t, 2*time.Second, "orders behind the dripping ones processed", func() bool {
			for _, n := range others {
				if q.status(n) != "PROCESSED" {
					return false
				}
			}
			return true
		})
		t.Logf("processed %d orders behind %d dripping ones in %s", len(others), len(drip), time.Since(start))
		// Every dripping request has run out its deadline, and none was asked again yet.
		time.Sleep(time.Until(start.Add(cfg.RequestTimeout + slowAfter + 100*time.Millisecond)))
		s := w.Stats()
		assert.Equal(t, int64(len(drip)), s.Timeouts, "each dripping answer ran out its deadline once")
		for n := range drip {
			assert.Equal(t, 1, c.callsOf(n), "a timeout is a backoff for that order, not retried at once")
			assert.Equal(t, 1, q.row(n).attempts)
			assert.Equal(t, "NEW", q.status(n))
		}
		stop()
	})
}

// A 5xx is retried a few times with growing delays within the ask, then the order waits for a later
// round; a redirect counts as a failed answer the same way and is never credited.
func TestWorkerRetriesFailuresThenBacksOff(t *testing.T) {
	d := sqliteDB(t)
	synctest.Test(t, func(t *testing.T) {
		q := newFakeQueue()
		nums := q.add("u1", 2)
		failing, moved := nums[0], nums[1]
		c := newFakeClient(time.Second, func(n ordernum.Number, _ int) answer {
			if n == moved {
				return answer{err: &ServerError{Status: http.StatusMovedPermanently}}
			}
			return answer{err: &ServerError{Status: http.StatusInternalServerError}}
		})
		cfg := testConfig()
		cfg.MinBackoff = time.Hour // one round only
		cfg.MaxBackoff = time.Hour
		w := newTestWorker(t, d, cfg, q, c)
		stop := w.start(t)
		time.Sleep(10 * time.Second)
		stop()
		assert.Equal(t, cfg.MaxRetries+1, c.callsOf(failing), "one try and MaxRetries retries")
		assert.Equal(t, cfg.MaxRetries+1, c.callsOf(moved))
		for _, n := range nums {
			r := q.row(n)
			assert.Equal(t, "NEW", r.status)
			assert.Equal(t, 1, r.attempts, "one failed round")
			assert.True(t, r.nextPoll.After(time.Now().Add(50*time.Minute)), "due again after the backoff")
		}
		s := w.Stats()
		assert.Equal(t, int64(cfg.MaxRetries+1), s.Failures)
		assert.Equal(t, int64(cfg.MaxRetries+1), s.Redirects)
		assert.Empty(t, w.ledger.credits)

		for _, n := range nums {
			times := c.timesOf(n)
			for i := 2; i < len(times); i++ {
				assert.Greater(t, times[i].Sub(times[i-1]), times[i-1].Sub(times[i-2]),
					"the delay between tries grows: %v", times)
			}
		}
	})
}

// One 429 pauses every worker: no request goes out until Retry-After has passed, then the pool
// paces itself to the limit from the 429's body, and every order ends PROCESSED, credited once.
func TestWorkerPoolSharesOne429Pause(t *testing.T) {
	d := sqliteDB(t)
	synctest.Test(t, func(t *testing.T) {
		q := newFakeQueue()
		nums := q.add("u1", 12)
		var limitedAt time.Time
		c := newFakeClient(time.Second, func(n ordernum.Number, call int) answer {
			if n == nums[0] && call == 1 {
				limitedAt = time.Now()
				return answer{err: &RateLimitedError{RetryAfter: 30 * time.Second, Limit: 60}}
			}
			return processedAnswer(100)
		})
		cfg := testConfig()
		cfg.Workers = 1 // the 429 is the first answer: nothing else is in flight when it arrives
		w := newTestWorker(t, d, cfg, q, c)
		stop := w.start(t)
		waitUntil(t, 5*time.Minute, "every order processed", func() bool {
			p, _ := q.Pending(context.Background())
			return p == 0
		})
		stop()
		times := c.times()
		require.Len(t, times, len(nums)+1)
		assert.GreaterOrEqual(t, times[1].Sub(limitedAt), 30*time.Second, "nothing asked during the pause")
		window := time.Minute + time.Minute/60
		for i := 2; i < len(times); i++ {
			assert.GreaterOrEqual(t, times[i].Sub(times[i-1]), window/60, "paced to 60 a minute")
		}
		assert.Len(t, w.ledger.credits, len(nums))
		until, limit := w.RateLimit()
		assert.Equal(t, 60, limit)
		assert.WithinDuration(t, limitedAt.Add(30*time.Second), until, time.Millisecond)
	})
}

// Stop gives every lease back even when giving one claim's back fails: the others are not left to
// wait out their lease.
func TestWorkerStopReleasesEveryClaimDespiteAnError(t *testing.T) {
	d := sqliteDB(t)
	synctest.Test(t, func(t *testing.T) {
		q := newFakeQueue()
		q.add("u1", 8)
		c := newFakeClient(time.Hour, func(ordernum.Number, int) answer { return answer{hang: true} })
		cfg := testConfig()
		cfg.Workers = 2
		w := newTestWorker(t, d, cfg, q, c)
		require.NoError(t, w.Start(context.Background()))
		time.Sleep(time.Second) // every order in flight, over several claims (the slow lane frees workers)
		require.Len(t, q.held(), 8)
		tokens := map[string]bool{}
		for _, n := range q.held() {
			tokens[q.row(n).leaseOwner] = true
		}
		require.Greater(t, len(tokens), 1, "several claims")
		first := ""
		q.releaseErr = func(owner string) error {
			if first == "" || first == owner {
				first = owner
				return errBoom
			}
			return nil
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		require.ErrorIs(t, w.Stop(ctx), errBoom) // requests aborted after 1 s, then the leases given back
		left := q.held()
		require.NotEmpty(t, left)
		for _, n := range left {
			assert.Equal(t, first, q.row(n).leaseOwner, "only the failing claim's orders keep their lease")
		}
		assert.Less(t, len(left), 8)
	})
}

// An order the accrual system calculates for 500 ms shows PROCESSED within 100 ms of being done while
// the accrual system limits nothing; once it has told a limit, the order is asked about on the
// growing backoff instead, so a rate-limited accrual system gets no more requests for it (3 asks: at
// 0, ~250 and ~600 ms).
func TestWorkerRepollsQuicklyUnlessRateLimited(t *testing.T) {
	for _, limited := range []bool{false, true} {
		t.Run(map[bool]string{false: "unlimited", true: "rate limited"}[limited], func(t *testing.T) {
			d := sqliteDB(t)
			synctest.Test(t, func(t *testing.T) {
				q := newFakeQueue()
				n := q.add("u1", 1)[0]
				var first time.Time
				c := newFakeClient(time.Second, func(ordernum.Number, int) answer {
					if first.IsZero() {
						first = time.Now()
					}
					if time.Since(first) < 500*time.Millisecond {
						return answer{result: Result{Status: StatusProcessing}}
					}
					return processedAnswer(100)
				})
				w := newTestWorker(t, d, testConfig(), q, c)
				if limited {
					w.limit.adopt(time.Time{}, 6000) // known, and far above what one order needs
				}
				start := time.Now()
				stop := w.start(t)
				waitUntil(t, 5*time.Second, "the order processed", func() bool { return q.status(n) == "PROCESSED" })
				took := time.Since(start)
				stop()
				if !limited {
					// Asked every 100 ms: PROCESSED at 500 ms, where the backoff alone gets there at 560-625.
					assert.LessOrEqual(t, took, 550*time.Millisecond, "PROCESSED within 100 ms of being done")
					return
				}
				assert.Equal(t, 3, c.callsOf(n), "the backoff's asks, no more")
			})
		})
	}
}

// An ask right after its claim does not renew the lease while no limit is known: the claim's lease
// outlasts the request. Once the limit is known the renewal goes with the shared send slot, and a
// retry that waited at the gate until the lease might end before the request renews it first.
func TestWorkerRenewsOnlyWhenTheLeaseMightNotLast(t *testing.T) {
	for _, tc := range []struct {
		name    string
		limited bool
		gate    time.Duration // after a first failed request the gate closes this long
		renews  int
	}{
		{name: "fresh claim", renews: 0},
		{name: "rate limited", limited: true, renews: 1},
		{name: "retry after waiting at the gate", gate: 17 * time.Second, renews: 1}, // lease 20 s, request 5 s
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := sqliteDB(t)
			synctest.Test(t, func(t *testing.T) {
				q := newFakeQueue()
				n := q.add("u1", 1)[0]
				var w *testWorker
				c := newFakeClient(time.Second, func(_ ordernum.Number, call int) answer {
					if tc.gate > 0 && call == 1 {
						w.limit.holdUntil(time.Now().Add(tc.gate))
						return answer{err: errBoom}
					}
					return processedAnswer(100)
				})
				w = newTestWorker(t, d, testConfig(), q, c)
				if tc.limited {
					w.limit.adopt(time.Time{}, 6000)
				}
				stop := w.start(t)
				waitUntil(t, time.Minute, "the order processed", func() bool { return q.status(n) == "PROCESSED" })
				stop()
				q.mu.Lock()
				defer q.mu.Unlock()
				assert.Equal(t, tc.renews, q.renewals)
			})
		})
	}
}
