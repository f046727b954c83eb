package orders

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/points"
)

// queueFixture inserts count NEW orders of one user (series picks the numbers) and returns them.
func queueFixture(tb testing.TB, d *db.DB, series, count int) []ordernum.Number {
	tb.Helper()
	ctx := context.Background()
	user := fmt.Sprintf("user-%d", series)
	dbtest.CreateUser(tb, d, user)
	store := NewStore(d)
	out := make([]ordernum.Number, count)
	base := time.Now().Add(-time.Minute)
	for i := range count {
		n, err := ordernum.Parse(num(series, i))
		require.NoError(tb, err)
		ok, err := store.Insert(ctx, user, n, base.Add(time.Duration(i)*time.Millisecond), count)
		require.NoError(tb, err)
		require.True(tb, ok)
		out[i] = n
	}
	return out
}

func queueRow(tb testing.TB, d *db.DB, n ordernum.Number) orderRow {
	tb.Helper()
	var r orderRow
	require.NoError(tb, d.Conn(context.Background()).Where("number = ?", string(n)).Take(&r).Error)
	return r
}

func TestQueueClaimLeasesDueOrdersOnce(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			ctx := context.Background()
			q := NewQueue(d)
			nums := queueFixture(t, d, 1, 5)

			before := queueTime(time.Now())
			got, err := q.Claim(ctx, "A", 3, time.Minute)
			after := time.Now()
			require.NoError(t, err)
			require.Len(t, got, 3)
			claimedNums := make([]ordernum.Number, len(got))
			for i, j := range got {
				claimedNums[i] = j.Number
				assert.Equal(t, "user-1", j.UserID)
				assert.False(t, j.Processing)
				assert.Zero(t, j.Attempts)
				r := queueRow(t, d, j.Number)
				require.NotNil(t, r.LeaseOwner)
				assert.Equal(t, "A", *r.LeaseOwner)
				require.NotNil(t, r.LeaseUntil)
				require.NotNil(t, r.NextPollAt)
				assert.WithinRange(t, *r.LeaseUntil, before.Add(time.Minute), after.Add(time.Minute), "leased for a minute from the claim")
				assert.True(t, r.LeaseUntil.Equal(*r.NextPollAt), "a claimed order is next due when its lease ends")
			}
			assert.ElementsMatch(t, nums[:3], claimedNums, "earliest due first") // uploaded 1 ms apart

			more, err := q.Claim(ctx, "B", 10, time.Minute)
			require.NoError(t, err)
			require.Len(t, more, 2, "B gets only what A does not hold")
			assert.ElementsMatch(t, nums[3:], []ordernum.Number{more[0].Number, more[1].Number})

			none, err := q.Claim(ctx, "C", 10, time.Minute)
			require.NoError(t, err)
			assert.Empty(t, none)
		})
	}
}

// Many claimers racing over one queue: every order is claimed by exactly one of them. On PostgreSQL
// this fails without FOR UPDATE SKIP LOCKED (two UPDATEs pick the same rows from their subqueries).
func TestQueueConcurrentClaimersNeverShareAnOrder(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			ctx := context.Background()
			nums := queueFixture(t, d, 2, 300)
			const claimers = 8
			var mu sync.Mutex
			owners := map[ordernum.Number][]string{}
			var wg sync.WaitGroup
			errs := make(chan error, claimers)
			for c := range claimers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					q := NewQueue(d)
					owner := fmt.Sprintf("owner-%d", c)
					for {
						got, err := q.Claim(ctx, owner, 7, time.Minute)
						if err != nil {
							errs <- err
							return
						}
						if len(got) == 0 {
							return
						}
						mu.Lock()
						for _, j := range got {
							owners[j.Number] = append(owners[j.Number], owner)
						}
						mu.Unlock()
					}
				}()
			}
			wg.Wait()
			close(errs)
			for err := range errs {
				require.NoError(t, err)
			}
			require.Len(t, owners, len(nums))
			for n, o := range owners {
				assert.Len(t, o, 1, "order %s claimed by %v", n, o)
				r := queueRow(t, d, n)
				require.NotNil(t, r.LeaseOwner)
				assert.Equal(t, o[0], *r.LeaseOwner, "the row names the claimer that got it")
			}
		})
	}
}

// A crashed holder's lease expires: another owner then claims the order, and the old holder can no
// longer record anything through its lease.
func TestQueueExpiredLeaseReturnsTheOrder(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			ctx := context.Background()
			q := NewQueue(d)
			nums := queueFixture(t, d, 3, 1)
			now := time.Now()
			q.now = func() time.Time { return now } // the lease runs out when the test says, not when the machine is slow

			got, err := q.Claim(ctx, "A", 10, 300*time.Millisecond)
			require.NoError(t, err)
			require.Len(t, got, 1)
			none, err := q.Claim(ctx, "B", 10, time.Minute)
			require.NoError(t, err)
			assert.Empty(t, none, "a live lease is respected")

			next, ok, err := q.NextDue(ctx)
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, queueTime(now.Add(300*time.Millisecond)), next.UTC(), "due when the lease ends")
			now = next.Add(time.Microsecond) // A "crashed": its lease runs out

			again, err := q.Claim(ctx, "B", 10, time.Minute)
			require.NoError(t, err)
			require.Len(t, again, 1)
			assert.Equal(t, nums[0], again[0].Number)

			ok, err = q.Requeue(ctx, nums[0], "A", true, 1, time.Now())
			require.NoError(t, err)
			assert.False(t, ok, "A lost its lease")
			r := queueRow(t, d, nums[0])
			assert.Equal(t, StatusNew, r.Status)
			require.NotNil(t, r.LeaseOwner)
			assert.Equal(t, "B", *r.LeaseOwner)
		})
	}
}

func TestQueueRequeueMovesStatusesForwardOnly(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			ctx := context.Background()
			q := NewQueue(d)
			nums := queueFixture(t, d, 4, 3)
			_, err := q.Claim(ctx, "A", 10, time.Minute)
			require.NoError(t, err)

			// 204: stays NEW, asked again later.
			at := time.Now().Add(4 * time.Second)
			ok, err := q.Requeue(ctx, nums[0], "A", false, 3, at)
			require.NoError(t, err)
			require.True(t, ok)
			r := queueRow(t, d, nums[0])
			assert.Equal(t, StatusNew, r.Status)
			assert.Equal(t, int64(3), r.Attempts)
			require.NotNil(t, r.NextPollAt)
			assert.WithinDuration(t, at, *r.NextPollAt, time.Millisecond)
			assert.Nil(t, r.LeaseOwner)
			assert.Nil(t, r.LeaseUntil)
			ok, err = q.Requeue(ctx, nums[0], "A", false, 4, at)
			require.NoError(t, err)
			assert.False(t, ok, "the lease ended with the first requeue")

			// REGISTERED/PROCESSING: moves to PROCESSING.
			ok, err = q.Requeue(ctx, nums[1], "A", true, 0, time.Now())
			require.NoError(t, err)
			require.True(t, ok)
			assert.Equal(t, StatusProcessing, queueRow(t, d, nums[1]).Status)
			got, err := q.Claim(ctx, "B", 10, time.Minute)
			require.NoError(t, err)
			require.Len(t, got, 1)
			assert.True(t, got[0].Processing)

			// PROCESSED: final, once.
			amt := points.Amount(72998)
			ok, err = q.MarkProcessed(ctx, nums[1], &amt)
			require.NoError(t, err)
			require.True(t, ok)
			r = queueRow(t, d, nums[1])
			assert.Equal(t, StatusProcessed, r.Status)
			require.NotNil(t, r.Accrual)
			assert.Equal(t, int64(72998), *r.Accrual)
			assert.Nil(t, r.NextPollAt)
			assert.Nil(t, r.LeaseOwner)
			other := points.Amount(1)
			ok, err = q.MarkProcessed(ctx, nums[1], &other)
			require.NoError(t, err)
			assert.False(t, ok, "a second settle changes nothing")
			ok, err = q.MarkInvalid(ctx, nums[1])
			require.NoError(t, err)
			assert.False(t, ok, "final stays final")
			ok, err = q.Requeue(ctx, nums[1], "B", true, 0, time.Now())
			require.NoError(t, err)
			assert.False(t, ok)
			r = queueRow(t, d, nums[1])
			assert.Equal(t, StatusProcessed, r.Status)
			assert.Equal(t, int64(72998), *r.Accrual)

			// INVALID: final; a PROCESSED answer later changes nothing.
			ok, err = q.MarkInvalid(ctx, nums[2])
			require.NoError(t, err)
			require.True(t, ok)
			ok, err = q.MarkProcessed(ctx, nums[2], &amt)
			require.NoError(t, err)
			assert.False(t, ok)
			r = queueRow(t, d, nums[2])
			assert.Equal(t, StatusInvalid, r.Status)
			assert.Nil(t, r.Accrual)
			assert.Nil(t, r.NextPollAt)

			// PROCESSED without an accrual.
			ok, err = q.MarkProcessed(ctx, nums[0], nil)
			require.NoError(t, err)
			require.True(t, ok)
			assert.Nil(t, queueRow(t, d, nums[0]).Accrual)

			_, pending, err := q.NextDue(ctx)
			require.NoError(t, err)
			assert.False(t, pending, "nothing is pending once every order is final")
		})
	}
}

func TestQueueReleaseAndNextDue(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			ctx := context.Background()
			q := NewQueue(d)
			nums := queueFixture(t, d, 5, 4)
			before := queueTime(time.Now())
			got, err := q.Claim(ctx, "A", 2, time.Hour)
			require.NoError(t, err)
			require.Len(t, got, 2)
			_, err = q.Claim(ctx, "B", 2, time.Hour)
			after := time.Now()
			require.NoError(t, err)

			next, ok, err := q.NextDue(ctx)
			require.NoError(t, err)
			require.True(t, ok)
			assert.WithinRange(t, next, before.Add(time.Hour), after.Add(time.Hour), "every order is leased")

			// A gives back its two and, by mistake, B's: only its own are released.
			releasedAt := time.Now()
			n, err := q.Release(ctx, "A", nums, releasedAt)
			require.NoError(t, err)
			assert.Equal(t, int64(2), n)
			for i, num := range nums {
				r := queueRow(t, d, num)
				if i < 2 {
					assert.Nil(t, r.LeaseOwner)
				} else {
					require.NotNil(t, r.LeaseOwner)
					assert.Equal(t, "B", *r.LeaseOwner)
				}
			}
			next, ok, err = q.NextDue(ctx)
			require.NoError(t, err)
			require.True(t, ok)
			assert.WithinDuration(t, releasedAt, next, time.Microsecond, "released orders are due when released (stored to the µs)")
			again, err := q.Claim(ctx, "C", 10, time.Minute)
			require.NoError(t, err)
			assert.Len(t, again, 2)
		})
	}
}

func TestQueueResync(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			ctx := context.Background()
			q := NewQueue(d)
			nums := queueFixture(t, d, 6, 5)
			// 0, 1: NEW and PROCESSING with long backoffs; 2: PROCESSED; 3: INVALID; 4: held by a live lease.
			got, err := q.Claim(ctx, "A", 4, time.Minute)
			require.NoError(t, err)
			require.Len(t, got, 4)
			later := time.Now().Add(time.Hour)
			_, err = q.Requeue(ctx, nums[0], "A", false, 7, later)
			require.NoError(t, err)
			_, err = q.Requeue(ctx, nums[1], "A", true, 9, later)
			require.NoError(t, err)
			_, err = q.MarkProcessed(ctx, nums[2], nil)
			require.NoError(t, err)
			_, err = q.MarkInvalid(ctx, nums[3])
			require.NoError(t, err)
			held, err := q.Claim(ctx, "B", 1, time.Hour)
			require.NoError(t, err)
			require.Len(t, held, 1)
			require.Equal(t, nums[4], held[0].Number)

			unknown, err := ordernum.Parse(num(6, 99))
			require.NoError(t, err)
			before := queueTime(time.Now())
			res, err := q.Resync(ctx, []ordernum.Number{nums[0], nums[2], unknown, nums[0], nums[4]})
			after := time.Now()
			require.NoError(t, err)
			assert.Equal(t, ResyncResult{Due: 1, InFlight: 1, Skipped: 2}, res)
			r := queueRow(t, d, nums[0])
			assert.Zero(t, r.Attempts)
			assert.WithinRange(t, *r.NextPollAt, before, after, "due from the resync on")
			assert.Equal(t, int64(9), queueRow(t, d, nums[1]).Attempts, "not named: untouched")

			res, err = q.Resync(ctx, nil)
			require.NoError(t, err)
			assert.Equal(t, ResyncResult{Due: 2, InFlight: 1}, res)
			r = queueRow(t, d, nums[1])
			assert.Equal(t, StatusProcessing, r.Status)
			assert.Zero(t, r.Attempts)
			due, err := q.Claim(ctx, "C", 10, time.Minute)
			require.NoError(t, err)
			assert.Len(t, due, 2, "both pending orders not in flight are due now")
			r = queueRow(t, d, nums[4])
			require.NotNil(t, r.LeaseOwner)
			assert.Equal(t, "B", *r.LeaseOwner, "the live lease is left to its holder")
			assert.Nil(t, queueRow(t, d, nums[2]).NextPollAt, "final orders stay final")
		})
	}
}

// Renew extends only the caller's own live lease, and moves next_poll_at with it; an expired lease,
// or one another claim holds now, is not renewed.
func TestQueueRenewExtendsOnlyALiveOwnLease(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			ctx := context.Background()
			q := NewQueue(d)
			nums := queueFixture(t, d, 7, 2)
			got, err := q.Claim(ctx, "A:1", 1, time.Minute) // long enough to be live however slow the machine

			require.NoError(t, err)
			require.Len(t, got, 1)
			require.Equal(t, nums[0], got[0].Number)

			ok, err := q.Renew(ctx, nums[0], "A:2", time.Hour)
			require.NoError(t, err)
			assert.False(t, ok, "another claim's token renews nothing")
			ok, err = q.Renew(ctx, nums[1], "A:1", time.Hour)
			require.NoError(t, err)
			assert.False(t, ok, "an order nobody holds is not renewed")

			before := queueTime(time.Now())
			ok, err = q.Renew(ctx, nums[0], "A:1", time.Hour)
			after := time.Now()
			require.NoError(t, err)
			require.True(t, ok)
			r := queueRow(t, d, nums[0])
			require.NotNil(t, r.LeaseUntil)
			assert.WithinRange(t, *r.LeaseUntil, before.Add(time.Hour), after.Add(time.Hour), "renewed for an hour")
			assert.True(t, r.LeaseUntil.Equal(*r.NextPollAt), "next due when the renewed lease ends")

			// An expired lease is not renewed: the order is due again, maybe someone else's already.
			got, err = q.Claim(ctx, "B:1", 1, 200*time.Millisecond)
			require.NoError(t, err)
			require.Len(t, got, 1)
			require.Equal(t, nums[1], got[0].Number)
			time.Sleep(time.Until(*queueRow(t, d, nums[1]).LeaseUntil) + 20*time.Millisecond)
			ok, err = q.Renew(ctx, nums[1], "B:1", time.Hour)
			require.NoError(t, err)
			assert.False(t, ok, "an expired lease stays expired")
			again, err := q.Claim(ctx, "C:1", 10, time.Minute)
			require.NoError(t, err)
			require.Len(t, again, 1, "the expired order is due")
			assert.Equal(t, nums[1], again[0].Number)

			// A final order is not renewed.
			_, err = q.MarkInvalid(ctx, nums[0])
			require.NoError(t, err)
			ok, err = q.Renew(ctx, nums[0], "A:1", time.Hour)
			require.NoError(t, err)
			assert.False(t, ok)
		})
	}
}

// Claims are fair: users take turns, and within a turn an order never asked about comes before
// re-polls, however much earlier the re-polls fell due, so one user's backlog delays another user's
// order by one turn at most.
func TestQueueClaimIsFairAcrossUsers(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			ctx := context.Background()
			q := NewQueue(d)
			backlog := queueFixture(t, d, 3, 40) // user-3: 40 orders never asked about, due long ago
			require.NoError(t, d.Conn(ctx).Exec("UPDATE gm_orders SET next_poll_at = ? WHERE user_id = ?",
				queueTime(time.Now().Add(-time.Hour)), "user-3").Error)
			other := queueFixture(t, d, 4, 3) // user-4: three re-polls, due later than the whole backlog
			require.NoError(t, d.Conn(ctx).Exec("UPDATE gm_orders SET attempts = 1, status = ?, next_poll_at = ? WHERE user_id = ?",
				StatusProcessing, queueTime(time.Now().Add(-time.Second)), "user-4").Error)
			fresh := queueFixture(t, d, 5, 1) // user-5: one order never asked about, due last of all

			got, err := q.Claim(ctx, "A", 3, time.Minute)
			require.NoError(t, err)
			byUser := map[string][]ordernum.Number{}
			for _, j := range got {
				byUser[j.UserID] = append(byUser[j.UserID], j.Number)
			}
			assert.Equal(t, map[string][]ordernum.Number{
				"user-3": {backlog[0]}, "user-4": {other[0]}, "user-5": {fresh[0]},
			}, byUser, "one turn each, a user's earliest due order first")

			got, err = q.Claim(ctx, "B", 2, time.Minute)
			require.NoError(t, err)
			users := map[string]int{}
			for _, j := range got {
				users[j.UserID]++
			}
			assert.Equal(t, map[string]int{"user-3": 1, "user-4": 1}, users, "turns go on round-robin")

			// Within one turn, never-asked orders come first: with room for one, user-3's second
			// order (new) goes before user-4's third (a re-poll), though it fell due an hour earlier
			// only by chance: reversing the due times must not change the pick.
			require.NoError(t, d.Conn(ctx).Exec("UPDATE gm_orders SET next_poll_at = ? WHERE user_id = ? AND lease_owner IS NULL",
				queueTime(time.Now().Add(-time.Millisecond)), "user-3").Error)
			require.NoError(t, d.Conn(ctx).Exec("UPDATE gm_orders SET next_poll_at = ? WHERE user_id = ? AND lease_owner IS NULL",
				queueTime(time.Now().Add(-time.Hour)), "user-4").Error)
			got, err = q.Claim(ctx, "C", 1, time.Minute)
			require.NoError(t, err)
			require.Len(t, got, 1)
			assert.Equal(t, "user-3", got[0].UserID, "the new order before the re-poll")
		})
	}
}
