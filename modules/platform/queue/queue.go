// Package queue holds the one type shared by the durable order queue (kept by the orders module) and
// its consumer (the accrual worker), which may not import each other.
package queue

import "github.com/gophermart/gophermart/modules/platform/ordernum"

// Job is one pending order claimed from the queue: the claimer holds a lease on it until it reports
// an outcome, gives it back, or the lease expires.
type Job struct {
	// Number is the order number.
	Number ordernum.Number
	// UserID is the owner of the order, to be credited.
	UserID string
	// Processing tells that the accrual system already acknowledged the order (status PROCESSING);
	// otherwise it is NEW.
	Processing bool
	// Attempts counts the asks since the order's last status change.
	Attempts int
}
