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

// errNegativeCredit is returned when asked to credit a negative amount: a bug in the caller.
var errNegativeCredit = errors.New("credit amount is negative")

// ErrBalanceOverflow is returned by Credit when the credit would take a balance over MaxBalance: the
// credit is refused whole (nothing recorded) and a human must look at the accrual system's answers.
var ErrBalanceOverflow = errors.New("credit would take the balance over its maximum")

// ErrUnknownUser is returned when the caller's token names a user the database does not hold (e.g.
// a token signed with a configured secret before the database was reset): answered 401.
var ErrUnknownUser = errors.New("the token's user does not exist")
