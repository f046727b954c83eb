package orders

import (
	"time"

	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/points"
)

// Order is an order number a user uploaded, with what the accrual system said about it.
type Order struct {
	Number ordernum.Number
	UserID string
	// Status is one of StatusNew, StatusProcessing, StatusInvalid, StatusProcessed.
	Status string
	// Accrual is the amount credited for the order; nil until the accrual system gave one.
	Accrual *points.Amount
	// UploadedAt is when the order was accepted, UTC, microsecond precision.
	UploadedAt time.Time
}

// Credited returns the accrual to show the user: only a PROCESSED order with an amount has one.
func (o Order) Credited() (points.Amount, bool) {
	if o.Status != StatusProcessed || o.Accrual == nil {
		return 0, false
	}
	return *o.Accrual, true
}

// Outcome is the result of an upload the client counts as a success.
type Outcome int

// The successful outcomes of Upload.
const (
	// Accepted means the number is new: it is stored as NEW and will be asked about (HTTP 202).
	Accepted Outcome = iota + 1
	// AlreadyUploaded means this user had uploaded the number before; nothing changed (HTTP 200).
	AlreadyUploaded
)

// Page is one page of a keyset-paginated list: Next is the opaque cursor of the following page, ""
// on the last one.
type Page struct {
	Items []Order
	Next  string
}

// Notifier learns about newly accepted orders so that the accrual worker asks about them at once
// instead of on its next poll.
type Notifier interface {
	// Notify is called after the order's row is committed. It must not block.
	Notify(n ordernum.Number)
}

// NopNotifier ignores every notification (for tests, and commands that run no worker).
type NopNotifier struct{}

// Notify does nothing.
func (NopNotifier) Notify(ordernum.Number) {}
