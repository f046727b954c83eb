package calculator

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"github.com/gophermart/gophermart/modules/platform/points"
)

// batchSize is how many due orders one pass loads at a time.
const batchSize = 100

// retryDelay is how long the loop waits after a database error before it tries again.
const retryDelay = time.Second

// idleWait is how long the loop sleeps with nothing pending; a registration wakes it sooner.
const idleWait = time.Minute

// Processor moves registered orders through REGISTERED -> PROCESSING -> PROCESSED in the background.
// It works from the database (acc_orders.next_step_at), so a restart continues where it stopped (no
// order then waits longer than this run's delay), and
// every step is a conditional update, so several instances on one database never step an order twice.
type Processor struct {
	store *Store
	delay time.Duration
	log   *slog.Logger
	wake  chan struct{}

	mu     sync.Mutex
	cancel context.CancelFunc
	done   chan struct{}
}

// NewProcessor returns a stopped Processor over store that keeps each order cfg.ProcessingDelay in each step.
func NewProcessor(cfg Config, store *Store, log *slog.Logger) *Processor {
	return &Processor{store: store, delay: max(cfg.ProcessingDelay, 0), log: log, wake: make(chan struct{}, 1)}
}

// Delay is the time an order spends in each step.
func (p *Processor) Delay() time.Duration { return p.delay }

// Wake makes the loop look at the queue now, e.g. after a registration. It never blocks.
func (p *Processor) Wake() {
	select {
	case p.wake <- struct{}{}:
	default:
	}
}

// Start runs the loop in the background with its own context, until Stop. Starting twice is a no-op.
func (p *Processor) Start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.cancel != nil {
		return
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.cancel, p.done = cancel, make(chan struct{})
	go p.loop(ctx, p.done)
}

// Stop cancels the loop and waits for it to return, or for ctx to end.
func (p *Processor) Stop(ctx context.Context) error {
	p.mu.Lock()
	cancel, done := p.cancel, p.done
	p.cancel, p.done = nil, nil
	p.mu.Unlock()
	if cancel == nil {
		return nil
	}
	cancel()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (p *Processor) loop(ctx context.Context, done chan struct{}) {
	defer close(done)
	if err := p.store.CapDue(ctx, now().Add(p.delay)); err != nil {
		p.log.ErrorContext(ctx, "processing orders", "err", err)
	}
	timer := time.NewTimer(idleWait) // Reset discards a stale fire (Go 1.23 timers)
	defer timer.Stop()
	for {
		wait := idleWait
		next, pending, err := p.RunOnce(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil:
			p.log.ErrorContext(ctx, "processing orders", "err", err)
			wait = retryDelay
		case pending:
			wait = max(time.Until(next), 0)
		}
		timer.Reset(wait)
		select {
		case <-ctx.Done():
			return
		case <-p.wake:
		case <-timer.C:
		}
	}
}

// RunOnce takes every step that is due now and tells when the next one is due (pending is false if
// no order is waiting).
func (p *Processor) RunOnce(ctx context.Context) (next time.Time, pending bool, err error) {
	var mechanics []Mechanic
	loaded := false
	for {
		due, err := p.store.Due(ctx, now(), batchSize)
		if err != nil {
			return time.Time{}, false, err
		}
		for _, o := range due {
			switch o.Status {
			case StatusRegistered:
				if _, err := p.store.StartProcessing(ctx, o.Number, now().Add(p.delay)); err != nil {
					return time.Time{}, false, err
				}
				p.log.DebugContext(ctx, "order processing", "order", o.Number, "status", StatusProcessing)
			case StatusProcessing:
				if !loaded {
					if mechanics, err = p.store.Mechanics(ctx); err != nil {
						return time.Time{}, false, err
					}
					loaded = true
				}
				if err := p.finish(ctx, o.Number, mechanics); err != nil {
					return time.Time{}, false, err
				}
			}
		}
		if len(due) < batchSize {
			break
		}
	}
	return p.store.NextDue(ctx)
}

// finishTimeout bounds the write that makes an order final, which a stop does not interrupt.
const finishTimeout = 10 * time.Second

// finish computes an order's accrual and makes it final: PROCESSED, or INVALID when the accrual
// cannot be represented.
func (p *Processor) finish(ctx context.Context, n string, mechanics []Mechanic) error {
	goods, err := p.store.Goods(ctx, n)
	if err != nil {
		return err
	}
	total, matched, err := Calculate(goods, mechanics)
	status := StatusProcessed
	var accrual *points.Amount
	switch {
	case errors.Is(err, errTotalOutOfRange):
		status = StatusInvalid
		p.log.WarnContext(ctx, "order accrual out of range: order is INVALID", "order", n)
	case err != nil:
		return err
	case matched:
		accrual = &total
	}
	// A stop cancels ctx; a write already sent still commits on the server, and cancelling the wait
	// for its answer would only lose the news of it. So the write runs to its end, bounded on its own.
	wctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), finishTimeout)
	defer cancel()
	changed, err := p.store.Finish(wctx, n, status, accrual)
	if err != nil {
		return err
	}
	if changed {
		args := []any{"order", n, "status", status}
		if accrual != nil {
			args = append(args, "amount", accrual.String())
		}
		p.log.InfoContext(ctx, "order processed", args...)
	}
	return nil
}
