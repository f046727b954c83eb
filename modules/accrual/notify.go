package accrual

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5/stdlib"

	"github.com/gophermart/gophermart/modules/platform/db"
)

// DueChannel is the PostgreSQL notification channel on which instances tell each other that orders
// are due now (payload: the sender's owner id, or "resync").
const DueChannel = "gm_orders_due"

// NotifyDue wakes every worker listening on d (PostgreSQL NOTIFY); from names the sender, whose own
// worker ignores it. On SQLite it does nothing: workers there rely on their poll tick.
func NotifyDue(ctx context.Context, d *db.DB, from string) error {
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
			n, err := pc.WaitForNotification(ctx)
			if err != nil {
				// Discard the connection: it is still subscribed, maybe mid-message.
				return errors.Join(driver.ErrBadConn, err)
			}
			onNotify(n.Payload)
		}
	})
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("listen %s: %w", DueChannel, err)
	}
	return nil
}
