package orders

import (
	"context"
	"encoding/json"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/migrations"
	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/web/webtest"
)

func TestUploadPendingCap(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setupWith(t, open, Config{MaxPending: 3})
			require.Equal(t, http.StatusAccepted, e.upload(t, "bob", num(20, 100)))
			for i := range 3 {
				require.Equal(t, http.StatusAccepted, e.upload(t, "alice", num(20, i)))
			}

			code, hdr, body := e.call(t, http.MethodPost, "/api/user/orders", webtest.Token("alice"), num(20, 3))
			assert.Equal(t, http.StatusTooManyRequests, code, body)
			assert.Equal(t, "application/problem+json", hdr.Get("Content-Type"))
			assert.Equal(t, pendingRetryAfter, hdr.Get("Retry-After"))
			var p struct {
				Type, Title, Detail string
				Status              int
			}
			require.NoError(t, json.Unmarshal([]byte(body), &p))
			assert.Equal(t, http.StatusTooManyRequests, p.Status)
			assert.Equal(t, "Too Many Requests", p.Title)
			assert.Equal(t, ErrTooManyPending.Error(), p.Detail)

			assert.Equal(t, http.StatusOK, e.upload(t, "alice", num(20, 0)), "her own number again, at the cap")
			code, hdr, _ = e.call(t, http.MethodPost, "/api/user/orders", webtest.Token("alice"), num(20, 100))
			assert.Equal(t, http.StatusConflict, code, "bob's number, at the cap")
			assert.Empty(t, hdr.Get("Retry-After"), "only the 429 says when to retry")
			assert.Equal(t, http.StatusAccepted, e.upload(t, "bob", num(20, 101)), "bob has his own cap")

			require.NoError(t, e.db.Conn(context.Background()).Exec(
				"UPDATE gm_orders SET status = ? WHERE number = ?", StatusProcessing, num(20, 1)).Error)
			assert.Equal(t, http.StatusTooManyRequests, e.upload(t, "alice", num(20, 3)), "PROCESSING is pending too")
			e.finish(t, num(20, 1))
			assert.Equal(t, http.StatusAccepted, e.upload(t, "alice", num(20, 3)), "a final order frees a place")
			require.NoError(t, e.db.Conn(context.Background()).Exec(
				"UPDATE gm_orders SET status = ?, next_poll_at = NULL WHERE number = ?", StatusInvalid, num(20, 2)).Error)
			assert.Equal(t, http.StatusAccepted, e.upload(t, "alice", num(20, 4)), "so does an INVALID one")
			assert.Equal(t, http.StatusTooManyRequests, e.upload(t, "alice", num(20, 5)))

			assert.Equal(t, int64(3), e.pending(t, "alice"))
			assert.Equal(t, int64(7), e.count(t), "refused numbers are not stored")
			assert.Len(t, e.notes.notified(), 7, "nor notified")
		})
	}
}

func TestStoreInsertCap(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			dbtest.CreateUser(t, d, "alice")
			dbtest.CreateUser(t, d, "bob")
			s := NewStore(d)
			ctx := context.Background()
			at := time.Date(2024, 6, 7, 8, 9, 10, 0, time.UTC)
			insert := func(user string, i, maxPending int) bool {
				t.Helper()
				ok, err := s.Insert(ctx, user, ordernum.Number(num(21, i)), at, maxPending)
				require.NoError(t, err)
				return ok
			}
			assert.True(t, insert("bob", 100, 2))
			assert.True(t, insert("bob", 101, 2))
			assert.True(t, insert("alice", 0, 2), "bob's pending orders are not alice's")
			assert.True(t, insert("alice", 1, 2))
			assert.False(t, insert("alice", 2, 2), "at the cap")
			assert.False(t, insert("alice", 0, 5), "an existing number is never inserted twice")
			assert.False(t, insert("alice", 100, 5), "nor is another user's")
			assert.True(t, insert("alice", 2, 3), "the cap is the caller's")
			assert.False(t, insert("alice", 3, 0), "a cap of zero admits nothing")

			_, err := s.Owner(ctx, ordernum.Number(num(21, 3)))
			require.ErrorIs(t, err, ErrNotFound, "a refused number is not stored")
			_, err = s.Insert(ctx, "ghost", ordernum.Number(num(21, 4)), at, 5)
			require.ErrorIs(t, err, ErrUnknownUser)
		})
	}
}

// storedPending is gm_users.pending of user next to the count of the user's pending orders.
func storedPending(t *testing.T, d *db.DB, user string) (stored, counted int64) {
	t.Helper()
	ctx := context.Background()
	require.NoError(t, d.Conn(ctx).Raw("SELECT pending FROM gm_users WHERE id = ?", user).Scan(&stored).Error)
	require.NoError(t, d.Conn(ctx).Raw("SELECT count(*) FROM gm_orders WHERE user_id = ? AND status IN (?, ?)",
		user, StatusNew, StatusProcessing).Scan(&counted).Error)
	return stored, counted
}

// The count of pending orders the cap reads (gm_users.pending) follows every change of an order,
// whoever writes it: uploads, the queue's transitions, and plain SQL (an update, a delete, a move to
// another user), as the triggers of migration 6 keep it.
func TestPendingCountFollowsEveryWriter(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			dbtest.CreateUser(t, d, "alice")
			dbtest.CreateUser(t, d, "bob")
			s, q := NewStore(d), NewQueue(d)
			ctx := context.Background()
			at := time.Date(2024, 6, 7, 8, 9, 10, 0, time.UTC)
			for i := range 4 {
				ok, err := s.Insert(ctx, "alice", ordernum.Number(num(24, i)), at, 10)
				require.NoError(t, err)
				require.True(t, ok)
			}
			ok, err := s.Insert(ctx, "alice", ordernum.Number(num(24, 0)), at, 10)
			require.NoError(t, err)
			require.False(t, ok, "a number uploaded again")
			check := func(step string, want int64) {
				t.Helper()
				stored, counted := storedPending(t, d, "alice")
				assert.Equal(t, want, counted, step)
				assert.Equal(t, counted, stored, step)
			}
			check("after the uploads", 4)
			exec := func(sql string, args ...any) {
				t.Helper()
				require.NoError(t, d.Conn(ctx).Exec(sql, args...).Error)
			}
			exec("UPDATE gm_orders SET status = ? WHERE number = ?", StatusProcessing, num(24, 0))
			check("NEW to PROCESSING", 4)
			ok, err = q.MarkProcessed(ctx, ordernum.Number(num(24, 0)), nil)
			require.NoError(t, err)
			require.True(t, ok)
			check("processed", 3)
			ok, err = q.MarkInvalid(ctx, ordernum.Number(num(24, 1)))
			require.NoError(t, err)
			require.True(t, ok)
			check("invalid", 2)
			ok, err = q.MarkInvalid(ctx, ordernum.Number(num(24, 1)))
			require.NoError(t, err)
			require.False(t, ok)
			check("final already", 2)
			exec("UPDATE gm_orders SET status = ? WHERE number = ?", StatusNew, num(24, 1))
			check("back to pending by hand", 3)
			exec("UPDATE gm_orders SET user_id = 'bob' WHERE number = ?", num(24, 2))
			check("moved to bob", 2)
			stored, counted := storedPending(t, d, "bob")
			assert.Equal(t, int64(1), counted)
			assert.Equal(t, counted, stored, "bob's count")
			exec("DELETE FROM gm_orders WHERE number = ?", num(24, 3))
			check("deleted", 1)
			exec("UPDATE gm_orders SET next_poll_at = ?, attempts = attempts + 1", at)
			check("polls and attempts leave it", 1)
		})
	}
}

// Migration 6 fills each user's count from the orders already there, and going down and up again
// leaves it right.
func TestPendingCountMigration(t *testing.T) {
	for _, name := range dbtest.EngineNames(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := dbtest.Migrated(t, dbtest.Open(t, name))
			m, err := db.NewMigrator(d, migrations.Set, nil)
			require.NoError(t, err)
			ctx := context.Background()
			require.NoError(t, m.DownTo(ctx, 5))
			dbtest.CreateUser(t, d, "alice")
			dbtest.CreateUser(t, d, "bob")
			for i, status := range []string{StatusNew, StatusProcessing, StatusProcessed, StatusInvalid, StatusNew} {
				require.NoError(t, d.Conn(ctx).Exec(`INSERT INTO gm_orders (number, user_id, status, uploaded_at)
					VALUES (?, 'alice', ?, ?)`, num(25, i), status, time.Now().UTC()).Error)
			}
			_, err = m.Up(ctx)
			require.NoError(t, err)
			stored, _ := storedPending(t, d, "alice")
			assert.Equal(t, int64(3), stored, "alice: NEW, PROCESSING, NEW")
			stored, _ = storedPending(t, d, "bob")
			assert.Equal(t, int64(0), stored, "bob has no orders")
			require.NoError(t, m.DownTo(ctx, 5))
			_, err = m.Up(ctx)
			require.NoError(t, err)
			stored, _ = storedPending(t, d, "alice")
			assert.Equal(t, int64(3), stored, "after down and up")
		})
	}
}

// TestUploadPendingCapConcurrent fires concurrent uploads of new numbers by one user who is one order
// below the cap, round after round: exactly one of each round is accepted. Without serialising a
// user's uploads, PostgreSQL's READ COMMITTED lets several of them count cap-1 at once.
func TestUploadPendingCapConcurrent(t *testing.T) {
	const (
		maxPending = 5
		racers     = 12
		rounds     = 4
	)
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := setupWith(t, open, Config{MaxPending: maxPending})
			for i := range maxPending - 1 {
				require.Equal(t, http.StatusAccepted, e.upload(t, "alice", num(22, i)))
			}
			next := 1000
			for round := range rounds {
				codes := make([]int, racers)
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i := range codes {
					n := num(22, next+i)
					wg.Add(1)
					go func() {
						defer wg.Done()
						<-start
						codes[i] = e.uploadAsync("alice", n)
					}()
				}
				next += racers
				close(start)
				wg.Wait()
				accepted := 0
				for _, c := range codes {
					if c == http.StatusAccepted {
						accepted++
					} else {
						assert.Equal(t, http.StatusTooManyRequests, c, "round %d", round)
					}
				}
				require.Equal(t, 1, accepted, "round %d: one place left, codes %v", round, codes)
				require.Equal(t, int64(maxPending), e.pending(t, "alice"))
				e.finish(t, num(22, round)) // one place again for the next round
			}
		})
	}
}

// TestStoreInsertWaitsForTheUsersOpenUpload holds one upload's transaction open after its insert and
// checks, on PostgreSQL, that a second upload by the same user waits for it to commit and then counts
// the new row: the second is refused at the cap. Without the lock on the user's row the second
// would count from its own snapshot, see cap-1, and insert.
func TestStoreInsertWaitsForTheUsersOpenUpload(t *testing.T) {
	open, ok := dbtest.Engines(t)["postgres"]
	if !ok {
		t.Skip("PostgreSQL only: SQLite's immediate transactions serialise every writer")
	}
	d := open(t)
	dbtest.CreateUser(t, d, "alice")
	dbtest.CreateUser(t, d, "bob")
	s := NewStore(d)
	ctx := context.Background()
	at := time.Date(2024, 6, 7, 8, 9, 10, 0, time.UTC)
	const maxPending = 2
	ok, err := s.Insert(ctx, "alice", ordernum.Number(num(23, 0)), at, maxPending)
	require.NoError(t, err)
	require.True(t, ok)

	type result struct {
		inserted bool
		err      error
	}
	second := make(chan result, 1)
	err = d.InTx(ctx, func(ctx context.Context) error {
		ok, err := s.Insert(ctx, "alice", ordernum.Number(num(23, 1)), at, maxPending)
		require.NoError(t, err)
		require.True(t, ok, "the last place")
		go func() {
			ok, err := s.Insert(context.Background(), "alice", ordernum.Number(num(23, 2)), at, maxPending)
			second <- result{ok, err}
		}()
		// Another user is not held up by alice's open upload.
		ok, err = s.Insert(context.Background(), "bob", ordernum.Number(num(23, 100)), at, maxPending)
		require.NoError(t, err)
		assert.True(t, ok)
		waitForLockWaiter(t, d, second)
		return nil // commit: the second upload goes on
	})
	require.NoError(t, err)
	r := <-second
	require.NoError(t, r.err)
	assert.False(t, r.inserted, "the second upload counted the first one's row")
	var pending int64
	require.NoError(t, d.Conn(ctx).Raw("SELECT count(*) FROM gm_orders WHERE user_id = 'alice' AND status IN (?, ?)",
		StatusNew, StatusProcessing).Scan(&pending).Error)
	assert.Equal(t, int64(maxPending), pending)
}

// waitForLockWaiter returns once a session of d's database waits for a lock; it fails the test if
// the upload reporting on done finishes first (it did not wait), or after 10 s.
func waitForLockWaiter[T any](t *testing.T, d *db.DB, done <-chan T) {
	t.Helper()
	deadline := time.After(10 * time.Second)
	tick := time.NewTicker(2 * time.Millisecond)
	defer tick.Stop()
	for {
		var waiting int64
		require.NoError(t, d.Conn(context.Background()).Raw(`SELECT count(*) FROM pg_stat_activity
			WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting).Error)
		if waiting > 0 {
			return
		}
		select {
		case r := <-done:
			t.Fatalf("the second upload by the same user did not wait for the open one: %+v", r)
		case <-deadline:
			t.Fatal("no upload waits for a lock after 10 s")
		case <-tick.C:
		}
	}
}

// lockWaiters counts the sessions of d's database that wait for a lock.
func lockWaiters(t *testing.T, d *db.DB) int64 {
	t.Helper()
	var waiting int64
	require.NoError(t, d.Conn(context.Background()).Raw(`SELECT count(*) FROM pg_stat_activity
		WHERE datname = current_database() AND wait_event_type = 'Lock'`).Scan(&waiting).Error)
	return waiting
}

// TestReuploadWhileSettlingDoesNotDeadlock: a user uploads a number again while the accrual worker
// makes that order final. The upload holds the user's row and its insert waits for the order's row;
// making the order final changes the user's pending count, so it needs the user's row too. Unless
// both take the user's row first, each waits for the other and PostgreSQL aborts one (deadlock
// detected). Another open upload of the user holds the row while both line up behind it.
func TestReuploadWhileSettlingDoesNotDeadlock(t *testing.T) {
	open, ok := dbtest.Engines(t)["postgres"]
	if !ok {
		t.Skip("PostgreSQL only: SQLite's immediate transactions serialise every writer")
	}
	d := open(t)
	dbtest.CreateUser(t, d, "alice")
	s, q := NewStore(d), NewQueue(d)
	ctx := context.Background()
	n := ordernum.Number(num(26, 0))
	ok, err := s.Insert(ctx, "alice", n, time.Now(), 10)
	require.NoError(t, err)
	require.True(t, ok)

	holder, err := d.SQL().BeginTx(ctx, nil)
	require.NoError(t, err)
	defer func() { _ = holder.Rollback() }()
	_, err = holder.ExecContext(ctx, `SELECT id FROM gm_users WHERE id = 'alice' FOR NO KEY UPDATE`)
	require.NoError(t, err)

	upload, settle := make(chan error, 1), make(chan error, 1)
	waitFor := func(want int64, done ...chan error) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for lockWaiters(t, d) < want {
			select {
			case err := <-done[0]:
				t.Fatalf("finished without waiting for the user's row: %v", err)
			case <-deadline:
				t.Fatalf("fewer than %d sessions wait for a lock after 10 s", want)
			case <-time.After(2 * time.Millisecond):
			}
		}
	}
	go func() {
		_, err := s.Insert(ctx, "alice", n, time.Now(), 10)
		upload <- err
	}()
	waitFor(1, upload)
	go func() {
		settle <- d.InTx(ctx, func(ctx context.Context) error {
			_, err := q.MarkProcessed(ctx, n, nil)
			return err
		})
	}()
	waitFor(2, settle)
	require.NoError(t, holder.Commit())
	require.NoError(t, <-upload, "the upload again")
	require.NoError(t, <-settle, "making the order final")
	stored, counted := storedPending(t, d, "alice")
	assert.Equal(t, int64(0), counted)
	assert.Equal(t, counted, stored)
}
