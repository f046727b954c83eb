package orders

import "errors"

// ErrOwnedByAnother is returned when the order number was already uploaded by another user.
var ErrOwnedByAnother = errors.New("order number already uploaded by another user")

// ErrBadCursor is returned for a page cursor this service did not make.
var ErrBadCursor = errors.New("malformed cursor")

// ErrBadLimit is returned for a page size outside 1..MaxPageLimit.
var ErrBadLimit = errors.New("limit must be an integer from 1 to 500")
