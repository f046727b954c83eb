package orders

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/stdlib"
	"go.uber.org/fx"

	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/ordernum"
)

// DueChannel is the PostgreSQL notification channel on which instances tell each other that orders
// are due now (payload: the sender's id, or "resync").
const DueChannel = "gm_orders_due"

// Waker is woken whenever orders may be due now: after an upload to this process, or when a
// sibling instance or `gophermart resync` announces due orders (implemented by the accrual worker;
// cmd adds it to the group with AsWaker).
type Waker interface {
	// Wake makes the waker look for due orders now. It must not block.
	Wake()
}

// wakersGroup is the fx value group of the Wakers that Notifications wakes.
const wakersGroup = `group:"orders.wakers"`

// AsWaker annotates a constructor returning a Waker so that Notifications wakes it.
func AsWaker(f any) any { return fx.Annotate(f, fx.ResultTags(wakersGroup)) }

// Notifications tells whoever asks the accrual system about orders that some are due now. An
// accepted upload wakes this process's Wakers at once and, on PostgreSQL, is announced to sibling
// instances with NOTIFY, so that an idle sibling helps too; while started, it LISTENs for the
// siblings' (and resync's) announcements and wakes the Wakers on each. On SQLite, which has no
// notifications, other processes rely on their poll tick. It is the Service's Notifier. Safe for
// concurrent use.
type Notifications struct {
	db     *db.DB
	wakers []Waker
	log    *slog.Logger
	id     string        // payload of this instance's NOTIFY, ignored when it comes back
	due    chan struct{} // capacity 1: an upload the siblings have not heard of yet

	mu     sync.Mutex
	cancel context.CancelFunc // stops the listener and the announcer
	done   sync.WaitGroup
}

// NewNotifications returns the notifications on d that wake wakers. It does no I/O until Start.
func NewNotifications(d *db.DB, wakers []Waker, log *slog.Logger) *Notifications {
	return &Notifications{db: d, wakers: wakers, log: log, id: uuid.NewString(), due: make(chan struct{}, 1)}
}

// Notify implements Notifier: it wakes the Wakers now and has the siblings told (one NOTIFY for a
// burst of uploads). It never blocks.
func (n *Notifications) Notify(ordernum.Number) {
	n.wake()
	if n.db.Dialect() == db.Postgres {
		n.markDue()
	}
}

// markDue records that the siblings have an upload to hear of. It never blocks.
func (n *Notifications) markDue() {
	select {
	case n.due <- struct{}{}:
	default:
	}
}

func (n *Notifications) wake() {
	for _, w := range n.wakers {
		w.Wake()
	}
}

// announceTimeout bounds one NOTIFY.
const announceTimeout = 5 * time.Second

// announceGap is the least time between two NOTIFYs of an instance. Under a stream of uploads one
// NOTIFY per gap covers them all: each NOTIFY is a round trip, serialises on PostgreSQL's
// notification queue and wakes every listening instance, while a sibling told 10 ms later loses
// nothing (this instance's own worker is woken in process at once).
const announceGap = 10 * time.Millisecond

// relisten is the pause before listening again after the notification connection failed.
const relisten = time.Second

// Start LISTENs on DueChannel (PostgreSQL) and starts telling the siblings of uploads, both on a
// context of their own, until Stop. It returns once subscribed (so nothing announced after Start
// is missed) or, if the first LISTEN fails, after logging it: listening is then retried every
// second, and the poll tick covers the gap. On SQLite it does nothing.
func (n *Notifications) Start(ctx context.Context) error {
	if n.db.Dialect() != db.Postgres {
		return nil
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cancel != nil {
		return errors.New("order notifications started twice")
	}
	runCtx, cancel := context.WithCancel(context.Background())
	n.cancel = cancel
	first := make(chan error, 1)
	n.done.Add(2)
	go func() {
		defer n.done.Done()
		n.listen(runCtx, first)
	}()
	go func() {
		defer n.done.Done()
		n.announce(runCtx, func(ctx context.Context) error { return Announce(ctx, n.db, n.id) })
	}()
	select {
	case err := <-first:
		if err != nil {
			n.log.WarnContext(ctx, "cannot listen for due orders announced by other instances; retrying", "err", err)
		}
		return nil
	case <-ctx.Done():
		return fmt.Errorf("listen %s: %w", DueChannel, ctx.Err())
	}
}

// Stop stops listening and announcing, waiting for both until ctx ends.
func (n *Notifications) Stop(ctx context.Context) error {
	n.mu.Lock()
	cancel := n.cancel
	n.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	stopped := make(chan struct{})
	go func() {
		n.done.Wait()
		close(stopped)
	}()
	select {
	case <-stopped:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("stop order notifications: %w", ctx.Err())
	}
}

// listen wakes the Wakers on every announcement of another instance, reconnecting after a failure,
// until ctx ends. The outcome of the first LISTEN goes to first.
func (n *Notifications) listen(ctx context.Context, first chan<- error) {
	report := func(err error) {
		if first != nil {
			first <- err
			first = nil
		}
	}
	for ctx.Err() == nil {
		err := listenDue(ctx, n.db, func() {
			report(nil)
			n.wake() // whatever was announced before the subscription was missed
		}, func(from string) {
			if from != n.id {
				n.wake()
			}
		})
		if err != nil {
			if first == nil {
				n.log.WarnContext(ctx, "lost the connection listening for due orders; reconnecting", "err", err)
			}
			report(err)
		}
		t := time.NewTimer(relisten)
		select {
		case <-ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
}

// announce tells the siblings of uploads with send (a NOTIFY) until ctx ends: the first upload at
// once, then at most one NOTIFY per announceGap, each covering every upload since the one before.
func (n *Notifications) announce(ctx context.Context, send func(context.Context) error) {
	gap := time.NewTimer(0)
	defer gap.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.due:
		}
		actx, cancel := context.WithTimeout(ctx, announceTimeout)
		err := send(actx)
		cancel()
		if err != nil && ctx.Err() == nil {
			n.log.WarnContext(ctx, "cannot tell other instances of an upload", "err", err)
		}
		gap.Reset(announceGap)
		select {
		case <-ctx.Done():
			return
		case <-gap.C:
		}
	}
}

// Announce tells every instance listening on d that orders are due now (PostgreSQL NOTIFY on
// DueChannel); from names the sender, whose own Notifications ignore it. On SQLite it does nothing.
func Announce(ctx context.Context, d *db.DB, from string) error {
	if d.Dialect() != db.Postgres {
		return nil
	}
	if err := d.Conn(ctx).Exec("SELECT pg_notify(?, ?)", DueChannel, from).Error; err != nil {
		return fmt.Errorf("notify %s: %w", DueChannel, err)
	}
	return nil
}

// listenDue holds one connection of d's pool for itself, LISTENs on DueChannel and calls onNotify
// with each payload, until ctx ends or the connection fails. subscribed is called once listening, as
// notifications sent before may have been missed. The connection is discarded afterwards, never
// returned to the pool while subscribed.
func listenDue(ctx context.Context, d *db.DB, subscribed func(), onNotify func(payload string)) error {
	conn, err := d.SQL().Conn(ctx)
	if err != nil {
		return fmt.Errorf("listen %s: %w", DueChannel, err)
	}
	defer func() { _ = conn.Close() }()
	err = conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("listen %s: driver connection is %T, not pgx", DueChannel, dc)
		}
		pc := sc.Conn()
		if _, err := pc.Exec(ctx, "LISTEN "+DueChannel); err != nil {
			return errors.Join(driver.ErrBadConn, err)
		}
		subscribed()
		for {
			nt, err := pc.WaitForNotification(ctx)
			if err != nil {
				// Discard the connection: it is still subscribed, maybe mid-message.
				return errors.Join(driver.ErrBadConn, err)
			}
			onNotify(nt.Payload)
		}
	})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("listen %s: %w", DueChannel, err)
	}
	return nil
}
