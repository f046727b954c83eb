package orders

import "errors"

// ErrOwnedByAnother is returned when the order number was already uploaded by another user.
var ErrOwnedByAnother = errors.New("order number already uploaded by another user")

// ErrUnknownUser is returned when the caller's token names a user the database does not hold (e.g.
// a token signed with a configured secret before the database was reset): answered 401.
var ErrUnknownUser = errors.New("the token's user does not exist")

// ErrTooManyPending is returned when a user uploads a new number while MaxPending of their orders
// are still pending (NEW or PROCESSING): answered 429, since the refusal lifts by itself as the
// accrual system makes those orders final.
var ErrTooManyPending = errors.New("too many orders awaiting accrual; upload more once some are processed")
