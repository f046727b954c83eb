package db

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The gate lets writers in one at a time, in the order they came, and a writer whose context ends
// while it waits leaves the line without entering.
func TestWriteGateIsFIFO(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newWriteGate()
		require.NoError(t, g.enter(context.Background()))
		const writers = 20
		var (
			mu    sync.Mutex
			order []int
			wg    sync.WaitGroup
		)
		for i := range writers {
			wg.Add(1)
			go func() {
				defer wg.Done()
				if err := g.enter(context.Background()); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				order = append(order, i)
				mu.Unlock()
				g.leave()
			}()
			synctest.Wait() // writer i is in line before writer i+1 comes
		}
		ctx, cancel := context.WithCancel(context.Background())
		gaveUp := make(chan error, 1)
		go func() { gaveUp <- g.enter(ctx) }()
		synctest.Wait()
		assert.Len(t, g.waiting, writers+1)
		cancel()
		require.ErrorIs(t, <-gaveUp, context.Canceled)

		g.leave()
		wg.Wait()
		want := make([]int, writers)
		for i := range want {
			want[i] = i
		}
		assert.Equal(t, want, order)
		assert.Empty(t, g.waiting)
		require.NoError(t, g.enter(context.Background()), "free again: nobody holds it")
	})
}

// On SQLite, transactions and writes of one process wait at the gate, not in SQLite's busy handler,
// and commit in the order they came; a write inside a transaction, or a transaction inside a write,
// joins the turn it is in.
func TestSQLiteWritersQueueFairly(t *testing.T) {
	d, err := Open(Config{URI: "sqlite://" + filepath.Join(t.TempDir(), "gate.db")})
	require.NoError(t, err)
	t.Cleanup(func() { _ = d.Close() })
	ctx := context.Background()
	require.NoError(t, d.Conn(ctx).Exec("CREATE TABLE seen (seq INTEGER PRIMARY KEY AUTOINCREMENT, writer INTEGER)").Error)

	release := make(chan struct{})
	holding := make(chan struct{})
	holder := make(chan error, 1)
	go func() {
		holder <- d.InTx(ctx, func(ctx context.Context) error {
			close(holding)
			<-release
			return d.Write(ctx, func(ctx context.Context) error { // joins the transaction
				return d.Conn(ctx).Exec("INSERT INTO seen (writer) VALUES (-1)").Error
			})
		})
	}()
	<-holding

	const writers = 12
	errs := make(chan error, writers)
	for i := range writers {
		go func() {
			if i%2 == 0 {
				errs <- d.InTx(ctx, func(ctx context.Context) error {
					return d.Conn(ctx).Exec("INSERT INTO seen (writer) VALUES (?)", i).Error
				})
				return
			}
			errs <- d.Write(ctx, func(ctx context.Context) error {
				return d.InTx(ctx, func(ctx context.Context) error { // joins the write's turn
					return d.Conn(ctx).Exec("INSERT INTO seen (writer) VALUES (?)", i).Error
				})
			})
		}()
		waitForWaiters(t, d, i+1)
	}
	close(release)
	require.NoError(t, <-holder)
	for range writers {
		require.NoError(t, <-errs)
	}
	var got []int
	require.NoError(t, d.Conn(ctx).Raw("SELECT writer FROM seen ORDER BY seq").Scan(&got).Error)
	want := []int{-1}
	for i := range writers {
		want = append(want, i)
	}
	assert.Equal(t, want, got, "writers commit in the order they came")
}

// waitForWaiters returns once n writers wait at d's gate; it fails the test after 10 s.
func waitForWaiters(t *testing.T, d *DB, n int) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for len(d.gate.waiting) < n {
		if time.Now().After(deadline) {
			t.Fatalf("%d writers wait at the gate after 10 s, want %d", len(d.gate.waiting), n)
		}
		time.Sleep(time.Millisecond)
	}
}
