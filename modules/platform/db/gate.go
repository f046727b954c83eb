package db

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"
)

// writeGate lets one writer at a time into an SQLite database, first come first served. SQLite
// itself admits one writer at a time too, but a writer that finds the database locked sleeps in the
// busy handler and tries again later, so under load whoever happens to retry at the right moment
// wins and an unlucky writer waits for seconds. Writers of this process queue here instead, before
// BEGIN IMMEDIATE, and are let in in the order they came: a Go channel hands its buffered slot to the
// sender that has waited longest. Writers of other processes still meet the busy handler.
type writeGate struct {
	slot    chan struct{} // capacity 1: full while a writer is in
	waiting chan struct{} // a token per writer waiting to enter (tests read its length)
}

func newWriteGate() *writeGate {
	return &writeGate{slot: make(chan struct{}, 1), waiting: make(chan struct{}, 1<<16)}
}

// enter waits until the gate is free and takes it, or returns ctx's error.
func (g *writeGate) enter(ctx context.Context) error {
	select {
	case g.slot <- struct{}{}:
		return nil
	default:
	}
	select {
	case g.waiting <- struct{}{}:
		defer func() { <-g.waiting }()
	default: // more waiters than counted: they still queue, only uncounted
	}
	select {
	case g.slot <- struct{}{}:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("wait to write: %w", ctx.Err())
	}
}

// leave frees the gate for the next writer in line.
func (g *writeGate) leave() { <-g.slot }

type gateKey struct{}

// Write runs fn, a write outside any transaction (one autocommit statement, or several that need
// not be atomic), as a writer of the database: on SQLite it first waits its turn at the write gate,
// so that it queues fairly behind the writers of this process instead of in SQLite's busy handler.
// Inside a transaction, or a Write already, fn simply runs. On PostgreSQL fn simply runs.
func (d *DB) Write(ctx context.Context, fn func(ctx context.Context) error) error {
	if d.gate == nil || InTx(ctx) || ctx.Value(gateKey{}) != nil {
		return fn(ctx)
	}
	if err := d.gate.enter(ctx); err != nil {
		return err
	}
	defer d.gate.leave()
	return fn(context.WithValue(ctx, gateKey{}, true))
}

// ErrNotPostgres is returned by Pgx on another engine.
var ErrNotPostgres = errors.New("not a PostgreSQL database")

// Pgx runs fn on one pgx connection of the pool, for what database/sql cannot express, such as a
// pipeline of statements sent in one round trip (pgx.Batch). fn must leave the connection idle:
// outside any transaction, every result read. It does not join the transaction carried by ctx;
// callers check InTx first. On another engine it returns ErrNotPostgres.
func (d *DB) Pgx(ctx context.Context, fn func(ctx context.Context, c *pgx.Conn) error) error {
	if d.dialect != Postgres {
		return ErrNotPostgres
	}
	conn, err := d.sql.Conn(ctx)
	if err != nil {
		return err
	}
	defer func() { _ = conn.Close() }()
	return conn.Raw(func(dc any) error {
		sc, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("driver connection is %T, not pgx", dc)
		}
		pc := sc.Conn()
		err := fn(ctx, pc)
		if pc.PgConn().TxStatus() != 'I' {
			// Never hand back a connection inside a transaction: discard it.
			return errors.Join(driver.ErrBadConn, err, errors.New("pgx connection left inside a transaction"))
		}
		return err
	})
}
