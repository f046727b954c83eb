package orders

import "errors"

// ErrOwnedByAnother is returned when the order number was already uploaded by another user.
var ErrOwnedByAnother = errors.New("order number already uploaded by another user")
