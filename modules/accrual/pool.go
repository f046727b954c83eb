package accrual

import (
	"context"
	"sync"
	"time"
)

// slowAfter is how long a request may take before it stops counting as one of the pool's workers:
// an accrual system answers in milliseconds, so a request still running after this is slow (a
// dripping or stuck answer), and it moves to the slow lane, where it runs out its own deadline while
// its worker takes the next order.
const slowAfter = 250 * time.Millisecond

// slowLanePerWorker sizes the slow lane: up to this many slow requests per worker run beside the
// pool. When the lane is full a slow request keeps its worker, so the total of requests in flight
// stays bounded.
const slowLanePerWorker = 4

// pool bounds how many orders are worked on at once: Workers at full speed, plus the slow lane.
// Safe for concurrent use.
type pool struct {
	workers chan struct{} // a token per busy worker
	lane    chan struct{} // a token per slow request moved out of its worker
	freed   chan struct{} // capacity 1: a worker became free
	wg      sync.WaitGroup
}

func newPool(workers int) *pool {
	return &pool{
		workers: make(chan struct{}, workers),
		lane:    make(chan struct{}, workers*slowLanePerWorker),
		freed:   make(chan struct{}, 1),
	}
}

// slot is one job's place in the pool: a worker, or a place in the slow lane once its request has
// been slow. Safe for concurrent use.
type slot struct {
	p    *pool
	mu   sync.Mutex
	slow bool // moved to the slow lane
	done bool // released
}

// start runs fn in its own goroutine once a worker is free, and reports false, running nothing,
// when ctx ends first.
func (p *pool) start(ctx context.Context, fn func(*slot)) bool {
	select {
	case p.workers <- struct{}{}:
	case <-ctx.Done():
		return false
	}
	s := &slot{p: p}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		defer s.release()
		fn(s)
	}()
	return true
}

// wait blocks until every started job has ended.
func (p *pool) wait() { p.wg.Wait() }

// signal tells the dispatcher that a worker became free.
func (p *pool) signal() {
	select {
	case p.freed <- struct{}{}:
	default:
	}
}

// watch moves the slot to the slow lane, freeing its worker, if the request it guards is still
// running after slowAfter; stop must be called when the request ends.
func (s *slot) watch() (stop func()) {
	t := time.AfterFunc(slowAfter, s.moveToLane)
	return func() { t.Stop() }
}

func (s *slot) moveToLane() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.slow || s.done {
		return
	}
	select {
	case s.p.lane <- struct{}{}:
	default:
		return // the lane is full: keep the worker
	}
	s.slow = true
	<-s.p.workers
	s.p.signal()
}

// release gives back the worker or the lane place; later calls do nothing.
func (s *slot) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done {
		return
	}
	s.done = true
	if s.slow {
		<-s.p.lane
		return
	}
	<-s.p.workers
	s.p.signal()
}
