package accrual

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/cenkalti/backoff/v5"
)

// verdict is what an ask came to.
type verdict int

const (
	answered      verdict = iota // the accrual system told the order's status
	notRegistered                // 204: it does not know the order (yet)
	failed                       // no usable answer: 5xx, redirect, timeout, network, nonsense
	badAnswer                    // an impossible accrual: a human must look
	held                         // the gate stays closed past the lease: give the order back
	leaseLost                    // the lease expired before the request: the order is not ours
	stopped                      // the worker is stopping: the lease is given back by Stop
)

// outcome is an ask's verdict with what goes with it.
type outcome struct {
	verdict verdict
	result  Result        // answered
	err     error         // failed, badAnswer
	wait    time.Duration // held: how long the gate stays closed (for the log)
}

// asker asks the accrual system about one claimed order until it has an outcome: it waits at the
// gate, renews the lease (taking a shared send slot with it once the limit is known), sends the
// request and retries a failed one a few times with exponential backoff, as long as the lease allows.
// A 429 closes the gate for everyone (limit.go) and is not a failed try. A timed-out answer is not
// retried here: a slow accrual system would hold the order's worker for every try, so the order is
// given back with a backoff instead. Safe for concurrent use.
type asker struct {
	cfg    Config
	client Client
	orders Orders
	tx     Tx
	limit  *limiter
	stats  *counters
	log    *slog.Logger
}

// ask runs one claimed order's ask in s. ctx ends when the worker stops taking work; reqCtx, which
// bounds the request itself, only when Stop gives up waiting for requests in flight.
func (a *asker) ask(ctx, reqCtx context.Context, c claim, s *slot) outcome {
	job := c.job
	retry := a.retryBackoff()
	// The lease is renewed right before every request, so a job may wait at the gate as long as its
	// lease lasts, less the time a renewal may take.
	margin := min(time.Second, a.cfg.Lease/4)
	leaseEnd := c.leaseEnd
	for tries := 0; ; {
		if err := a.limit.refresh(ctx); err != nil && ctx.Err() == nil {
			a.log.WarnContext(ctx, "cannot read the shared accrual pause", "err", err)
		}
		t, err := a.limit.wait(ctx, leaseEnd.Add(-margin))
		if err != nil {
			var he *holdError
			if errors.As(err, &he) {
				return outcome{verdict: held, wait: he.wait}
			}
			return outcome{verdict: stopped}
		}
		renewedEnd := time.Now().Add(a.cfg.Lease)
		wait, ok, renewed, err := a.admit(ctx, c, leaseEnd, margin)
		switch {
		case err != nil:
			t.cancel()
			if ctx.Err() == nil {
				a.log.WarnContext(ctx, "cannot reserve the request or renew its lease; not sent",
					"order", string(job.Number), "err", err)
			}
			return outcome{verdict: stopped} // the lease stays held: Stop gives it back, or it expires
		case wait > 0: // every shared slot is taken: back to the gate, closed here until one frees
			t.cancel()
			a.limit.holdUntil(time.Now().Add(wait))
			continue
		case !ok:
			t.cancel()
			return outcome{verdict: leaseLost}
		}
		if renewed {
			leaseEnd = renewedEnd
		}

		a.stats.requests.Add(1)
		stop := s.watch()
		res, err := a.client.Order(reqCtx, job.Number)
		stop()
		var rl *RateLimitedError
		var bad *BadAnswerError
		switch {
		case err == nil:
			return outcome{verdict: answered, result: res}
		case errors.Is(err, ErrNotRegistered):
			a.stats.notRegistered.Add(1)
			return outcome{verdict: notRegistered}
		case errors.As(err, &rl):
			a.stats.rateLimited.Add(1)
			extended, serr := a.limit.rateLimited(reqCtx, rl)
			if serr != nil && reqCtx.Err() == nil {
				a.log.WarnContext(ctx, "cannot share the accrual pause", "err", serr)
			}
			if extended {
				a.log.WarnContext(ctx, "accrual system rate limit: every request paused",
					"retry_after", rl.RetryAfter.String(), "limit_per_minute", rl.Limit)
			}
			continue // back to the gate; not a failed try
		case errors.As(err, &bad):
			a.stats.badAnswers.Add(1)
			return outcome{verdict: badAnswer, err: err}
		case reqCtx.Err() != nil:
			return outcome{verdict: stopped}
		}
		a.stats.countFailure(err)
		if isTimeout(err) {
			return outcome{verdict: failed, err: err}
		}
		delay := retry.NextBackOff()
		if tries >= a.cfg.MaxRetries || time.Now().Add(delay).After(leaseEnd.Add(-margin)) {
			return outcome{verdict: failed, err: err}
		}
		tries++
		a.log.DebugContext(ctx, "accrual request failed; retrying", "order", string(job.Number), "err", err,
			"retry", tries)
		if !sleep(ctx, delay) {
			return outcome{verdict: stopped}
		}
	}
}

// retryBackoff is the delay sequence between the tries of one ask: RetryBackoff doubling per try,
// with 10 % jitter, never above MaxBackoff.
func (a *asker) retryBackoff() *backoff.ExponentialBackOff {
	b := &backoff.ExponentialBackOff{
		InitialInterval:     a.cfg.RetryBackoff,
		RandomizationFactor: 0.1,
		Multiplier:          2,
		MaxInterval:         a.cfg.MaxBackoff,
	}
	b.Reset()
	return b
}

// errLeaseLost rolls back a send slot reserved for a request whose lease could not be renewed.
var errLeaseLost = errors.New("order lease lost")

// admit readies c's request: once the accrual system's limit is known it takes one of the send
// slots every instance shares (or returns how long until one frees), and it renews c's lease right
// before the request, in one transaction, so that the request (bounded by RequestTimeout < Lease)
// always ends inside the lease and nobody else asks about the order meanwhile. It reports false when
// the lease had expired, and whether it renewed it. While no limit is known and the lease held until
// leaseEnd outlasts the request by margin (the common case: an ask right after its claim), the lease
// already covers the request and is not renewed: one write less per ask.
func (a *asker) admit(ctx context.Context, c claim, leaseEnd time.Time, margin time.Duration) (wait time.Duration, ok, renewed bool, err error) {
	if !a.limit.paced() {
		if time.Until(leaseEnd) > a.cfg.RequestTimeout+margin {
			return 0, true, false, nil
		}
		ok, err := a.orders.Renew(ctx, c.job.Number, c.token, a.cfg.Lease)
		return 0, ok, true, err
	}
	err = a.tx.InTx(ctx, func(ctx context.Context) error {
		var err error
		if wait, err = a.limit.reserveShared(ctx); err != nil || wait > 0 {
			return err
		}
		ok, err := a.orders.Renew(ctx, c.job.Number, c.token, a.cfg.Lease)
		if err == nil && !ok {
			return errLeaseLost
		}
		return err
	})
	switch {
	case errors.Is(err, errLeaseLost):
		return 0, false, true, nil
	case err != nil:
		return 0, false, false, err
	}
	return wait, wait == 0, wait == 0, nil
}

// isTimeout reports whether err is a request that ran out of its deadline.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()
}

// isRedirect reports whether err is a 3xx answer, which is never followed.
func isRedirect(err error) bool {
	var se *ServerError
	return errors.As(err, &se) && se.Status >= 300 && se.Status < 400
}
