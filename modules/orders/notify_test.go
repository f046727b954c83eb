package orders

import (
	"context"
	"io"
	"log/slog"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/ordernum"
)

// countingWaker counts its wake-ups and signals each on woken.
type countingWaker struct {
	n     atomic.Int64
	woken chan struct{}
}

func newCountingWaker() *countingWaker { return &countingWaker{woken: make(chan struct{}, 100)} }

func (w *countingWaker) Wake() {
	w.n.Add(1)
	select {
	case w.woken <- struct{}{}:
	default:
	}
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// An accepted upload wakes every Waker in-process at once, on both engines; an upload of a number
// already known wakes nobody.
func TestNotificationsWakeOnUpload(t *testing.T) {
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			dbtest.CreateUser(t, d, "alice")
			a, b := newCountingWaker(), newCountingWaker()
			n := NewNotifications(d, []Waker{a, b}, quiet())
			svc := NewService(NewStore(d), n, Config{}, quiet())
			num := ordernum.Number(num(40, 1))
			out, err := svc.Upload(context.Background(), "alice", num)
			require.NoError(t, err)
			require.Equal(t, Accepted, out)
			assert.Equal(t, int64(1), a.n.Load())
			assert.Equal(t, int64(1), b.n.Load())
			out, err = svc.Upload(context.Background(), "alice", num)
			require.NoError(t, err)
			require.Equal(t, AlreadyUploaded, out)
			assert.Equal(t, int64(1), a.n.Load(), "nothing new, nobody woken")
		})
	}
}

// On SQLite there is nothing to listen to: the hooks do nothing.
func TestNotificationsSQLiteHooks(t *testing.T) {
	t.Parallel()
	d := dbtest.Migrated(t, dbtest.Open(t, "sqlite"))
	n := NewNotifications(d, nil, quiet())
	require.NoError(t, n.Start(context.Background()))
	require.NoError(t, n.Stop(context.Background()))
}

// On PostgreSQL an upload to one instance reaches the Wakers of another through NOTIFY, and so does
// an Announce (what `gophermart resync` sends); after Stop, nothing is heard any more.
func TestNotificationsAcrossInstances(t *testing.T) {
	open, ok := dbtest.Engines(t)["postgres"]
	if !ok {
		t.Skip("LISTEN/NOTIFY is PostgreSQL's: set " + dbtest.EnvDSN)
	}
	t.Parallel()
	d := open(t)
	dbtest.CreateUser(t, d, "alice")
	sibling := newCountingWaker()
	listener := NewNotifications(d, []Waker{sibling}, quiet())
	require.NoError(t, listener.Start(context.Background())) // subscribed on return
	<-sibling.woken                                          // the wake-up after subscribing
	uploader := NewNotifications(d, nil, quiet())
	require.NoError(t, uploader.Start(context.Background()))
	defer func() { assert.NoError(t, uploader.Stop(context.Background())) }()

	svc := NewService(NewStore(d), uploader, Config{}, quiet())
	_, err := svc.Upload(context.Background(), "alice", ordernum.Number(num(41, 1)))
	require.NoError(t, err)
	waitWoken(t, sibling, "the upload's NOTIFY")

	require.NoError(t, Announce(context.Background(), d, "resync"))
	waitWoken(t, sibling, "resync's NOTIFY")

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	require.NoError(t, listener.Stop(ctx))
}

func waitWoken(t *testing.T, w *countingWaker, what string) {
	t.Helper()
	select {
	case <-w.woken:
	case <-time.After(10 * time.Second):
		t.Fatalf("%s woke nobody within 10s", what)
	}
}

// Under a stream of uploads the siblings get one NOTIFY per announceGap, not one per upload: the
// first upload is announced at once, the ones during a gap by one NOTIFY at its end, and the last
// upload is always announced.
func TestNotificationsCoalesceAnnouncements(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := &Notifications{log: quiet(), due: make(chan struct{}, 1)}
		var sends []time.Time
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			n.announce(ctx, func(context.Context) error {
				sends = append(sends, time.Now())
				return nil
			})
		}()
		start := time.Now()
		const uploads = 100
		var last time.Time
		for range uploads { // one upload every 300 µs for 30 ms
			n.markDue()
			last = time.Now()
			time.Sleep(300 * time.Microsecond)
		}
		time.Sleep(3 * announceGap)
		synctest.Wait()
		cancel()
		<-done

		require.NotEmpty(t, sends)
		assert.Equal(t, start, sends[0], "the first upload is announced at once")
		assert.LessOrEqual(t, len(sends), int(last.Sub(start)/announceGap)+2, "sends at %v", sends)
		for i := 1; i < len(sends); i++ {
			assert.GreaterOrEqual(t, sends[i].Sub(sends[i-1]), announceGap, "NOTIFY %d came too soon", i)
		}
		assert.False(t, sends[len(sends)-1].Before(last), "the last upload is announced")
	})
}
