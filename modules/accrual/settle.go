package accrual

import (
	"context"
	"log/slog"
	"math"
	"math/rand/v2"
	"time"
)

// settler records an ask's outcome in the queue: a final answer moves the order to INVALID or to
// PROCESSED and credits its owner in the same transaction; anything else gives the order back, due
// again after a backoff that grows with its attempts and is capped by MaxBackoff. Only the statement
// that moves an order out of a pending status credits, so re-polls and duplicate answers credit
// nothing. Safe for concurrent use.
type settler struct {
	cfg    Config
	orders Orders
	ledger Ledger
	tx     Tx
	leases *leases
	stats  *counters
	log    *slog.Logger
	// due is told when an order was given back, with when it is due again.
	due func(at time.Time)
	// paced reports whether the accrual system's rate limit is known.
	paced func() bool
}

// record applies o to c's order. ctx bounds the database work; when it ends (Stop gave up waiting),
// the lease stays held and Stop gives it back.
func (s *settler) record(ctx context.Context, c claim, o outcome) {
	job := c.job
	now := time.Now()
	next := job.Attempts + 1
	switch o.verdict {
	case answered:
		s.answer(ctx, c, o.result)
	case notRegistered: // stays NEW, asked less and less often
		s.requeue(ctx, c, false, next, now.Add(s.backoff(next-1, 2)))
	case failed:
		s.log.WarnContext(ctx, "accrual system failing; order rescheduled", "order", string(job.Number),
			"err", o.err, "attempts", next)
		s.requeue(ctx, c, false, next, now.Add(s.backoff(next-1, 2)))
	case badAnswer: // asking again at once would get the same answer
		s.log.ErrorContext(ctx, "accrual system answered an impossible accrual; order rescheduled",
			"order", string(job.Number), "user_id", job.UserID, "err", o.err, "attempts", next)
		s.requeue(ctx, c, job.Processing, next, now.Add(s.backoff(next-1, 2)))
	case held:
		// Do not sit on the lease: give the order back due at once. No instance claims while its gate
		// is closed, so it is asked when the gate opens, early too if an operator clears the pause.
		s.log.DebugContext(ctx, "accrual gate closed past the lease; order given back", "order", string(job.Number),
			"retry_after", o.wait.String())
		s.requeue(ctx, c, job.Processing, job.Attempts, now)
	case leaseLost: // someone else's now, or due again; either way not ours to ask about
		s.stats.leaseLost.Add(1)
		s.leases.drop(job.Number, c.token)
		s.log.WarnContext(ctx, "order lease expired before its request; dropped", "order", string(job.Number))
	case stopped:
	}
}

// answer records a status the accrual system told.
func (s *settler) answer(ctx context.Context, c claim, res Result) {
	job := c.job
	switch res.Status {
	case StatusRegistered, StatusProcessing:
		a := 0 // attempts count from the status change
		if job.Processing {
			a = job.Attempts + 1
		}
		s.requeue(ctx, c, true, a, time.Now().Add(s.repoll(a)))
	case StatusInvalid:
		changed, err := s.orders.MarkInvalid(ctx, job.Number)
		if err != nil {
			s.log.ErrorContext(ctx, "cannot record invalid order", "order", string(job.Number), "err", err)
			return
		}
		s.leases.drop(job.Number, c.token)
		if changed {
			s.stats.invalid.Add(1)
			s.log.InfoContext(ctx, "order invalid", "order", string(job.Number), "user_id", job.UserID)
		}
	case StatusProcessed:
		s.processed(ctx, c, res)
	}
}

// processed makes the order PROCESSED and credits its owner in one transaction.
func (s *settler) processed(ctx context.Context, c claim, res Result) {
	job := c.job
	var changed bool
	err := s.tx.InTx(ctx, func(ctx context.Context) error {
		ok, err := s.orders.MarkProcessed(ctx, job.Number, res.Accrual)
		if err != nil || !ok {
			return err
		}
		changed = true
		if res.Accrual != nil { // zero too: the credit row keeps settling idempotent
			return s.ledger.Credit(ctx, job.UserID, job.Number, *res.Accrual)
		}
		return nil
	})
	if err != nil {
		if ctx.Err() != nil {
			return // aborted by Stop: the lease is given back
		}
		a := job.Attempts + 1
		s.log.ErrorContext(ctx, "cannot settle processed order; rescheduled", "order", string(job.Number),
			"user_id", job.UserID, "err", err)
		s.requeue(ctx, c, job.Processing, a, time.Now().Add(s.backoff(a-1, 2)))
		return
	}
	s.leases.drop(job.Number, c.token)
	if !changed {
		return
	}
	s.stats.processed.Add(1)
	amount := ""
	if res.Accrual != nil {
		amount = res.Accrual.String()
		s.stats.credited.Add(int64(*res.Accrual))
	}
	s.log.InfoContext(ctx, "order processed", "order", string(job.Number), "user_id", job.UserID, "amount", amount)
}

// requeue gives the order back, due at at, if c's claim still holds it.
func (s *settler) requeue(ctx context.Context, c claim, processing bool, attempts int, at time.Time) {
	job := c.job
	ok, err := s.orders.Requeue(ctx, job.Number, c.token, processing, attempts, at)
	if err != nil {
		if ctx.Err() == nil {
			s.log.ErrorContext(ctx, "cannot reschedule order", "order", string(job.Number), "err", err)
		}
		return // the lease stays held: Stop gives it back, or it expires
	}
	s.leases.drop(job.Number, c.token)
	s.stats.requeued.Add(1)
	s.due(at)
	if !ok {
		s.log.WarnContext(ctx, "order lease lost before its answer was recorded", "order", string(job.Number))
	}
}

// quickRepoll is how often an order the accrual system is calculating is asked about while the
// accrual system has not limited the rate, for its first quickRepolls asks: it shows PROCESSED
// within about quickRepoll of being done. Once a limit is known, asks follow the growing backoff, so
// a rate-limited accrual system gets no more requests for it.
const (
	quickRepoll  = 100 * time.Millisecond
	quickRepolls = 20
)

// repoll is the delay before asking again about an order the accrual system is calculating, a being
// the asks since it said so.
func (s *settler) repoll(a int) time.Duration {
	if !s.paced() && a < quickRepolls {
		return min(quickRepoll, s.cfg.MinBackoff)
	}
	return s.backoff(a, 1.5)
}

// backoff is MinBackoff grown by factor per step, capped by MaxBackoff, less up to 10 % of jitter so
// that orders asked together spread out.
func (s *settler) backoff(step int, factor float64) time.Duration {
	d := float64(s.cfg.MaxBackoff)
	if step < 200 {
		d = math.Min(d, float64(s.cfg.MinBackoff)*math.Pow(factor, float64(max(step, 0))))
	}
	return time.Duration(d * (0.9 + 0.1*rand.Float64())) //nolint:gosec // jitter needs no secure randomness
}
