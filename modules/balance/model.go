package balance

import (
	"fmt"
	"strings"
	"time"

	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/points"
)

// Balance is what a user has: Current points to spend, and Withdrawn, the total spent so far.
type Balance struct {
	Current   points.Amount
	Withdrawn points.Amount
}

// Withdrawal is points a user spent on an order.
type Withdrawal struct {
	Order  ordernum.Number
	UserID string
	Sum    points.Amount
	// ProcessedAt is when the withdrawal was committed, UTC, microsecond precision.
	ProcessedAt time.Time
}

// Page is one page of a keyset-paginated list of withdrawals: Next is the opaque cursor of the
// following page, "" on the last one.
type Page struct {
	Items []Withdrawal
	Next  string
}

// Violation is a user whose balance row disagrees with the ledger: the credits and withdrawals
// recorded for them.
type Violation struct {
	UserID string
	// HasBalance tells whether the user has a gm_balances row at all (no row counts as 0 / 0).
	HasBalance bool
	// Current and Withdrawn are the balance row's values.
	Current   points.Amount
	Withdrawn points.Amount
	// Credited is the sum of the user's credits, Spent the sum of their withdrawals.
	Credited points.Amount
	Spent    points.Amount
}

// String says what is wrong, e.g. "user u1: current 5.00 != credited 10.00 - spent 0.00".
func (v Violation) String() string {
	var why []string
	if v.Current != v.Credited-v.Spent {
		why = append(why, fmt.Sprintf("current %s != credited %s - spent %s", v.Current, v.Credited, v.Spent))
	}
	if v.Withdrawn != v.Spent {
		why = append(why, fmt.Sprintf("withdrawn %s != spent %s", v.Withdrawn, v.Spent))
	}
	if v.Current < 0 {
		why = append(why, fmt.Sprintf("current %s < 0", v.Current))
	}
	if !v.HasBalance {
		why = append(why, "no balance row")
	}
	return "user " + v.UserID + ": " + strings.Join(why, "; ")
}
