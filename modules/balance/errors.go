package balance

import "errors"

// ErrInsufficientFunds is returned when the balance is lower than the sum to withdraw.
var ErrInsufficientFunds = errors.New("not enough points")

// ErrOrderUsed is returned when the order number of a withdrawal was already used, by another user
// or with another sum.
var ErrOrderUsed = errors.New("order number already used for another withdrawal")

// ErrInvalidSum is returned for a withdrawal sum that is not positive (after rounding to
// hundredths) or above points.Max.
var ErrInvalidSum = errors.New("sum must be positive, at most 1e12 points")

// ErrBadCursor is returned for a page cursor this service did not make.
var ErrBadCursor = errors.New("malformed cursor")

// ErrBadLimit is returned for a page size outside 1..MaxPageLimit.
var ErrBadLimit = errors.New("limit must be an integer from 1 to 500")

// errNegativeCredit is returned when asked to credit a negative amount: a bug in the caller.
var errNegativeCredit = errors.New("credit amount is negative")
