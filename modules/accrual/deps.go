package accrual

import (
	"context"
	"time"

	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/points"
	"github.com/gophermart/gophermart/modules/platform/queue"
)

// Orders is the durable queue of pending orders, kept in the orders table (implemented by
// *orders.Queue; cmd binds it). Every method joins the transaction carried by ctx, if any.
type Orders interface {
	// Claim leases up to limit due orders, oldest due first, to owner for lease. Orders leased by
	// someone else are skipped; a lease that expires makes its order due again.
	Claim(ctx context.Context, owner string, limit int, lease time.Duration) ([]queue.Job, error)
	// Requeue ends owner's lease on n and makes it due at at, with attempts asks since its last
	// status change; processing moves a NEW order to PROCESSING (statuses only move forward). It
	// reports false, changing nothing, when owner no longer holds n or n is final.
	Requeue(ctx context.Context, n ordernum.Number, owner string, processing bool, attempts int, at time.Time) (bool, error)
	// Renew extends owner's lease on n to lease from now, only while owner holds it unexpired; it
	// reports false, changing nothing, otherwise (the order is someone else's now, or due again).
	Renew(ctx context.Context, n ordernum.Number, owner string, lease time.Duration) (bool, error)
	// Release ends owner's leases on the given orders and makes them due at at.
	Release(ctx context.Context, owner string, numbers []ordernum.Number, at time.Time) (int64, error)
	// MarkInvalid makes n INVALID (final). It reports false when n was final already.
	MarkInvalid(ctx context.Context, n ordernum.Number) (bool, error)
	// MarkProcessed makes n PROCESSED (final) with the accrual (nil: none). It reports false, changing
	// nothing, when n was final already: the caller credits only on true.
	MarkProcessed(ctx context.Context, n ordernum.Number, accrual *points.Amount) (bool, error)
	// NextDue returns when the earliest pending order is due (false when none is pending).
	NextDue(ctx context.Context) (time.Time, bool, error)
	// Pending counts the orders not final yet.
	Pending(ctx context.Context) (int64, error)
}

// Ledger credits user balances (implemented by *balance.Service; cmd binds it).
type Ledger interface {
	// Credit adds amount to userID's balance for order, inside the transaction carried by ctx,
	// exactly once per order: a second call for the same order is a no-op.
	Credit(ctx context.Context, userID string, order ordernum.Number, amount points.Amount) error
}

// Tx runs work in one database transaction (implemented by *db.DB; cmd binds it).
type Tx interface {
	// InTx runs fn in one transaction carried by the ctx it passes; nested calls join it.
	InTx(ctx context.Context, fn func(ctx context.Context) error) error
}
