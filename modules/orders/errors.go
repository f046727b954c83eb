package orders

import "errors"

// ErrOwnedByAnother is returned when the order number was already uploaded by another user.
var ErrOwnedByAnother = errors.New("order number already uploaded by another user")

// ErrUnknownUser is returned when the caller's token names a user the database does not hold (e.g.
// a token signed with a configured secret before the database was reset): answered 401.
var ErrUnknownUser = errors.New("the token's user does not exist")
