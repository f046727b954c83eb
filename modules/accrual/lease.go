package accrual

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gophermart/gophermart/modules/platform/ordernum"
	"github.com/gophermart/gophermart/modules/platform/queue"
)

// claim is one order leased from the queue: the job, the claim's lease token, and when the lease
// ends unless renewed.
type claim struct {
	job      queue.Job
	token    string
	leaseEnd time.Time
}

// leases is the book of the orders this instance holds. Every claim gets its own lease token (the
// instance's owner id, a colon and the claim's sequence number, stored in gm_orders.lease_owner), so
// that a stale job of this instance can never renew or end a newer claim on the same order. An order
// is in the book from its claim until its answer is recorded or it is given back; Stop gives back
// whatever is still in it. Safe for concurrent use.
type leases struct {
	owner string
	seq   atomic.Uint64

	mu   sync.Mutex
	held map[ordernum.Number]string // order -> the token of the claim that holds it
}

func newLeases(owner string) *leases {
	return &leases{owner: owner, held: map[ordernum.Number]string{}}
}

// token returns the lease token of a new claim.
func (l *leases) token() string {
	return l.owner + ":" + strconv.FormatUint(l.seq.Add(1), 10)
}

// hold records that token's claim leased n (replacing an older claim of this instance on n).
func (l *leases) hold(n ordernum.Number, token string) {
	l.mu.Lock()
	l.held[n] = token
	l.mu.Unlock()
}

// drop forgets n, unless a newer claim than token's holds it.
func (l *leases) drop(n ordernum.Number, token string) {
	l.mu.Lock()
	if l.held[n] == token {
		delete(l.held, n)
	}
	l.mu.Unlock()
}

// count returns how many orders are held.
func (l *leases) count() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.held)
}

// releaseAll gives every held order back to the queue, due at at, so that another instance or the
// next start asks about it at once instead of after the lease. It tries every claim even when one
// fails, and returns how many orders it gave back with every error met; what it could not give back
// returns by itself when its lease expires.
func (l *leases) releaseAll(ctx context.Context, orders Orders, at time.Time) (int64, error) {
	l.mu.Lock()
	byToken := map[string][]ordernum.Number{}
	for n, token := range l.held {
		byToken[token] = append(byToken[token], n)
	}
	l.mu.Unlock()
	var released int64
	var errs []error
	for token, numbers := range byToken {
		n, err := orders.Release(ctx, token, numbers, at)
		released += n
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, num := range numbers {
			l.drop(num, token)
		}
	}
	return released, errors.Join(errs...)
}
