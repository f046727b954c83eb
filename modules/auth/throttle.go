package auth

import (
	"container/list"
	"sync"
	"time"
)

// defaultThrottleEntries caps how many (login, address) pairs the throttle remembers. An entry is a
// few hundred bytes, so the tracker stays under a few tens of MiB whatever arrives.
const defaultThrottleEntries = 50_000

// busyRetry is the Retry-After given when a pair is at its limit only because attempts are in flight.
const busyRetry = time.Second

// throttleKey is one (login key, client address) pair: keyed on the pair so that failures from one
// address never lock the account's owner out at another.
type throttleKey struct {
	login string // lower-cased, at most MaxLoginLen bytes
	ip    string
}

type throttleEntry struct {
	key      throttleKey
	failures []time.Time // oldest first, at most max, all within the window after pruning
	inflight int         // attempts admitted and not yet finished
	elem     *list.Element
}

// throttle counts failed logins per pair in memory. After max failures within window, the pair's
// attempts are refused, without any hashing, until the oldest of those failures leaves the window.
// Attempts in flight count against the limit too, so that parallel guesses cannot overshoot it.
// Safe for concurrent use.
type throttle struct {
	mu      sync.Mutex
	max     int
	window  time.Duration
	cap     int
	entries map[throttleKey]*throttleEntry
	order   *list.List // of *throttleEntry, least recently touched first
	now     func() time.Time
}

func newThrottle(maxFailures int, window time.Duration, capacity int) *throttle {
	return &throttle{
		max: maxFailures, window: window, cap: capacity,
		entries: make(map[throttleKey]*throttleEntry), order: list.New(), now: time.Now,
	}
}

// begin admits an attempt for k, or says how long until one will be admitted.
func (t *throttle) begin(k throttleKey) (retryAfter time.Duration, ok bool) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	e := t.entries[k]
	if e == nil {
		t.makeRoom(now)
		e = &throttleEntry{key: k}
		e.elem = t.order.PushBack(e)
		t.entries[k] = e
	} else {
		t.prune(e, now)
	}
	if len(e.failures) >= t.max {
		return e.failures[len(e.failures)-t.max].Add(t.window).Sub(now), false
	}
	if len(e.failures)+e.inflight >= t.max {
		return busyRetry, false
	}
	e.inflight++
	t.order.MoveToBack(e.elem)
	return 0, true
}

// outcome is how an admitted attempt ended.
type outcome int

const (
	succeeded outcome = iota // the pair was right: forget the pair's failures
	failed                   // the pair was wrong: count a failure
	aborted                  // no answer (busy, database error): count nothing
)

// end records the outcome of an attempt admitted by begin.
func (t *throttle) end(k throttleKey, o outcome) {
	t.mu.Lock()
	defer t.mu.Unlock()
	e := t.entries[k]
	if e == nil { // cannot happen: entries with attempts in flight are never removed
		return
	}
	e.inflight--
	now := t.now()
	t.prune(e, now)
	switch o {
	case succeeded:
		e.failures = e.failures[:0]
		if e.inflight == 0 {
			t.remove(e)
		}
	case failed:
		if len(e.failures) >= t.max { // keep only the newest max: enough to decide
			e.failures = append(e.failures[:0], e.failures[len(e.failures)-t.max+1:]...)
		}
		e.failures = append(e.failures, now)
		t.order.MoveToBack(e.elem)
	case aborted:
		if e.inflight == 0 && len(e.failures) == 0 {
			t.remove(e)
		}
	}
}

// len is how many pairs are remembered.
func (t *throttle) len() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return len(t.entries)
}

// prune drops failures that have left the window.
func (t *throttle) prune(e *throttleEntry, now time.Time) {
	i := 0
	for i < len(e.failures) && now.Sub(e.failures[i]) >= t.window {
		i++
	}
	if i > 0 {
		e.failures = append(e.failures[:0], e.failures[i:]...)
	}
}

func (t *throttle) remove(e *throttleEntry) {
	t.order.Remove(e.elem)
	delete(t.entries, e.key)
}

// makeRoom keeps the map under its cap before an insert. Idle pairs whose failures have all expired
// are dropped first: the list is ordered by last touch, which for an idle pair is its newest failure,
// so the sweep stops at the first idle pair still inside the window. If the map is still full, the
// least recently touched idle pairs go. Pairs with attempts in flight are kept (there are at most as
// many as requests being served).
func (t *throttle) makeRoom(now time.Time) {
	for el := t.order.Front(); el != nil; {
		next := el.Next()
		if e, _ := el.Value.(*throttleEntry); e.inflight == 0 {
			t.prune(e, now)
			if len(e.failures) > 0 {
				break
			}
			t.remove(e)
		}
		el = next
	}
	for el := t.order.Front(); el != nil && len(t.entries) >= t.cap; {
		next := el.Next()
		if e, _ := el.Value.(*throttleEntry); e.inflight == 0 {
			t.remove(e)
		}
		el = next
	}
}
