package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// password is every benchmark user's password.
const password = "bench-password-123"

// rewardMatch is the accrual mechanic every benchmark purchase matches: 5 % of the price.
const rewardMatch = "bench"

// bench holds what the scenarios share: the client, the servers' base URLs and the generators.
type bench struct {
	cfg   config
	c     *http.Client
	gm    string // gophermart base URL
	acc   string // accrual base URL
	pprof string // pprof base URL of the gophermart under load; "" when not profiling
	runID string // distinguishes this run's logins
	nums  *numbers
	win   window
	// cpu samples the CPU times of the server under load (gophermart, or the ceiling or floor server
	// while it runs), the accrual service and the database's backends.
	cpu sampler
	// rss samples the memory of the server under load.
	rss *rssWatch

	tmp             string            // the run's temporary directory
	self            string            // this program, for the ceiling and floor servers
	gmBin, accBin   string            // the binaries under test
	floorEnv        map[string]string // the floor server's database and secret
	workerTokens    []string          // one user per worker, one credited order each: balance, upload
	listerTokens    []string          // one user per worker, listOrders orders each: list
	rssPeaks        []RSSPeak         // of the gophermart instances of single scenarios
	stopErrs        []error           // servers of single scenarios that did not exit cleanly
	processedOrders map[string]bool   // the orders processed-latency measured
}

// target is the server a scenario loads, with what samples it.
type target struct {
	gm, acc, pprof string
	cpu            sampler
	rss            *rssWatch
}

// use makes t the server under load and returns the function that restores the previous one.
func (b *bench) use(t target) (restore func()) {
	saved := target{gm: b.gm, acc: b.acc, pprof: b.pprof, cpu: b.cpu, rss: b.rss}
	b.gm, b.acc, b.pprof, b.cpu, b.rss = t.gm, t.acc, t.pprof, t.cpu, t.rss
	return func() { b.gm, b.acc, b.pprof, b.cpu, b.rss = saved.gm, saved.acc, saved.pprof, saved.cpu, saved.rss }
}

// load runs one closed-loop scenario with the run's concurrency and window, taking a CPU profile
// of its window when profiling.
func (b *bench) load(ctx context.Context, name string, expect []int, fn op) Result {
	wait := b.startProfile(ctx, name)
	res := runLoad(ctx, name, b.cfg.concurrency, b.win, expect, fn, b.cpu.sample)
	if err := wait(); err != nil && res.Failed == "" {
		res.Note = joinNotes(res.Note, err.Error())
	}
	return res
}

// joinNotes joins the non-empty notes with "; ".
func joinNotes(notes ...string) string {
	var out []string
	for _, n := range notes {
		if n != "" {
			out = append(out, n)
		}
	}
	return strings.Join(out, "; ")
}

// get is a load op for a GET with the given Authorization value.
func (b *bench) get(url, token string) op {
	return func(ctx context.Context, _ int) (int, error) {
		r, err := do(ctx, b.c, request{method: http.MethodGet, url: url, token: token}, false)
		return r.status, err
	}
}

// credentials is a register or login body.
func credentials(login string) []byte {
	body, _ := json.Marshal(map[string]string{"login": login, "password": password}) // cannot fail
	return body
}

// registerAttempts bounds register's retries of a 503: the server answers 503 when every
// password-hashing slot stayed busy for its whole wait, which a setup registering many users at
// once on a loaded machine can meet; the setup is not what is measured, so it asks again.
const registerAttempts = 20

// register creates a user and returns its Authorization value ("Bearer ...").
func (b *bench) register(ctx context.Context, login string) (string, error) {
	var r response
	var err error
	for attempt := 1; ; attempt++ {
		r, err = do(ctx, b.c, request{
			method: http.MethodPost, url: b.gm + "/api/user/register",
			contentType: "application/json", body: credentials(login),
		}, false)
		if err != nil || r.status != http.StatusServiceUnavailable || attempt == registerAttempts {
			break
		}
		select {
		case <-ctx.Done():
			return "", fmt.Errorf("register %s: %w", login, ctx.Err())
		case <-time.After(time.Duration(attempt) * 100 * time.Millisecond):
		}
	}
	if err != nil {
		return "", fmt.Errorf("register %s: %w", login, err)
	}
	token := r.header.Get("Authorization")
	if r.status != http.StatusOK || token == "" {
		return "", fmt.Errorf("register %s: status %d, Authorization %q", login, r.status, token)
	}
	return token, nil
}

// users registers n users named prefix-0 … prefix-(n-1) and returns their tokens.
func (b *bench) users(ctx context.Context, prefix string, n int) ([]string, error) {
	tokens := make([]string, n)
	err := parallel(ctx, b.cfg.concurrency, n, func(ctx context.Context, i int) error {
		t, err := b.register(ctx, fmt.Sprintf("%s-%s-%d", prefix, b.runID, i))
		tokens[i] = t
		return err
	})
	return tokens, err
}

// upload sends an order number to gophermart and returns the status.
func (b *bench) upload(ctx context.Context, token, number string) (int, error) {
	r, err := do(ctx, b.c, request{
		method: http.MethodPost, url: b.gm + "/api/user/orders", token: token,
		contentType: "text/plain", body: []byte(number),
	}, false)
	return r.status, err
}

// expectStatus turns an unexpected status or a transport error into an error.
func expectStatus(what string, status int, err error, want int) error {
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if status != want {
		return fmt.Errorf("%s: status %d, want %d", what, status, want)
	}
	return nil
}

// registerMechanic registers the benchmark's reward mechanic in the accrual service.
func (b *bench) registerMechanic(ctx context.Context) error {
	r, err := do(ctx, b.c, request{
		method: http.MethodPost, url: b.acc + "/api/goods", contentType: "application/json",
		body: []byte(`{"match":"` + rewardMatch + `","reward":5,"reward_type":"%"}`),
	}, false)
	return expectStatus("register mechanic", r.status, err, http.StatusOK)
}

// registerPurchase registers an order in the accrual service: one good priced price points, which
// earns 5 % of it.
func (b *bench) registerPurchase(ctx context.Context, number string, price int) error {
	body := fmt.Sprintf(`{"order":%q,"goods":[{"description":"%s crate","price":%d}]}`, number, rewardMatch, price)
	r, err := do(ctx, b.c, request{
		method: http.MethodPost, url: b.acc + "/api/orders", contentType: "application/json", body: []byte(body),
	}, false)
	return expectStatus("register purchase "+number, r.status, err, http.StatusAccepted)
}

// orderItem is an element of GET /api/user/orders.
type orderItem struct {
	Number string `json:"number"`
	Status string `json:"status"`
}

// listOrders returns the caller's orders (none on 204).
func (b *bench) listOrders(ctx context.Context, token string) ([]orderItem, error) {
	r, err := do(ctx, b.c, request{method: http.MethodGet, url: b.gm + "/api/user/orders", token: token}, true)
	if err != nil {
		return nil, fmt.Errorf("list orders: %w", err)
	}
	switch r.status {
	case http.StatusNoContent:
		return nil, nil
	case http.StatusOK:
	default:
		return nil, fmt.Errorf("list orders: status %d", r.status)
	}
	var items []orderItem
	if err := json.Unmarshal(r.body, &items); err != nil {
		return nil, fmt.Errorf("list orders: %w", err)
	}
	return items, nil
}

// setupTimeout bounds each wait of a scenario's preparation.
const setupTimeout = 60 * time.Second

// waitProcessed polls the caller's orders until want of them are PROCESSED.
func (b *bench) waitProcessed(ctx context.Context, token string, want int) error {
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	for {
		items, err := b.listOrders(ctx, token)
		done := 0
		for _, it := range items {
			if it.Status == "PROCESSED" {
				done++
			}
		}
		if err == nil && done >= want {
			return nil
		}
		select {
		case <-ctx.Done():
			return errors.Join(fmt.Errorf("%d of %d orders PROCESSED after %s", done, want, setupTimeout), err)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// credited uploads, through the accrual flow, purchases worth price each for the user and waits until
// all of them are PROCESSED (so credited).
func (b *bench) credited(ctx context.Context, token string, count, price int) error {
	nums := make([]string, count)
	for i := range nums {
		nums[i] = b.nums.next()
	}
	err := parallel(ctx, b.cfg.concurrency, count, func(ctx context.Context, i int) error {
		if err := b.registerPurchase(ctx, nums[i], price); err != nil {
			return err
		}
		status, err := b.upload(ctx, token, nums[i])
		return expectStatus("upload "+nums[i], status, err, http.StatusAccepted)
	})
	if err != nil {
		return err
	}
	return b.waitProcessed(ctx, token, count)
}

// ceiling loads a bare fiber handler: the most this client and machine can do.
func (b *bench) ceiling(ctx context.Context, name, url string) Result {
	return b.load(ctx, name, []int{http.StatusOK}, b.get(url+"/", ""))
}

// healthz loads gophermart's GET /healthz: its middleware stack with no database work.
func (b *bench) healthz(ctx context.Context) Result {
	return b.load(ctx, "healthz", []int{http.StatusOK}, b.get(b.gm+"/healthz", ""))
}

// registerLoad registers a new, unique user per request.
func (b *bench) registerLoad(ctx context.Context) Result {
	next := make([]int, b.cfg.concurrency) // worker w only touches next[w]
	return b.load(ctx, "register", []int{http.StatusOK}, func(ctx context.Context, w int) (int, error) {
		next[w]++
		login := "reg-" + b.runID + "-" + strconv.Itoa(w) + "-" + strconv.Itoa(next[w])
		r, err := do(ctx, b.c, request{
			method: http.MethodPost, url: b.gm + "/api/user/register",
			contentType: "application/json", body: credentials(login),
		}, false)
		return r.status, err
	})
}

// loginLoad logs in existing users, one per worker: the per-(login, address) throttle admits only a
// few attempts of one pair at a time, as it should.
func (b *bench) loginLoad(ctx context.Context) Result {
	bodies := make([][]byte, b.cfg.concurrency)
	if _, err := b.users(ctx, "login", b.cfg.concurrency); err != nil {
		return failed("login", err)
	}
	for w := range bodies {
		bodies[w] = credentials(fmt.Sprintf("login-%s-%d", b.runID, w))
	}
	return b.load(ctx, "login", []int{http.StatusOK}, func(ctx context.Context, w int) (int, error) {
		r, err := do(ctx, b.c, request{
			method: http.MethodPost, url: b.gm + "/api/user/login", contentType: "application/json", body: bodies[w],
		}, false)
		return r.status, err
	})
}

// uploadLoad uploads fresh Luhn-valid numbers, unknown to the accrual service, one user per worker.
func (b *bench) uploadLoad(ctx context.Context, tokens []string) Result {
	return b.load(ctx, "upload", []int{http.StatusAccepted}, b.uploadOp(tokens))
}

// uploadOp is a load op uploading a fresh number for worker w's user.
func (b *bench) uploadOp(tokens []string) op {
	return func(ctx context.Context, w int) (int, error) {
		return b.upload(ctx, tokens[w], b.nums.next())
	}
}

// listOrders is how many orders each user of the list scenario has.
const listOrders = 50

// listLoad lists orders, one user per worker, each with listOrders PROCESSED orders, as a client
// that accepts gzip (the answer is about 5 KB of JSON, 1 KB gzipped).
func (b *bench) listLoad(ctx context.Context, tokens []string) Result {
	res := b.load(ctx, "list", []int{http.StatusOK}, b.getGzip("/api/user/orders", tokens))
	res.Note = joinNotes(fmt.Sprintf("%d users x %d PROCESSED orders, Accept-Encoding: gzip", len(tokens), listOrders), res.Note)
	return res
}

// getGzip is a load op for a GET of path by worker w's user, accepting gzip.
func (b *bench) getGzip(path string, tokens []string) op {
	return func(ctx context.Context, w int) (int, error) {
		r, err := do(ctx, b.c, request{method: http.MethodGet, url: b.gm + path, token: tokens[w], gzip: true}, false)
		return r.status, err
	}
}

// balanceLoad reads balances, one user per worker.
func (b *bench) balanceLoad(ctx context.Context, tokens []string) Result {
	return b.load(ctx, "balance", []int{http.StatusOK}, func(ctx context.Context, w int) (int, error) {
		r, err := do(ctx, b.c, request{method: http.MethodGet, url: b.gm + "/api/user/balance", token: tokens[w]}, false)
		return r.status, err
	})
}

// workers returns the users of balance and upload, one per worker, registering them and crediting
// each with one order the first time, so that a balance read finds a row.
func (b *bench) workers(ctx context.Context) ([]string, error) {
	if b.workerTokens == nil {
		tokens, err := b.creditedUsers(ctx, "worker", b.cfg.concurrency, 1)
		if err != nil {
			return nil, err
		}
		b.workerTokens = tokens
	}
	return b.workerTokens, nil
}

// listers returns the users of list, one per worker, each with listOrders PROCESSED orders.
func (b *bench) listers(ctx context.Context) ([]string, error) {
	if b.listerTokens == nil {
		tokens, err := b.creditedUsers(ctx, "list", b.cfg.concurrency, listOrders)
		if err != nil {
			return nil, err
		}
		b.listerTokens = tokens
	}
	return b.listerTokens, nil
}

// creditedUsers registers n users and gives each perUser orders PROCESSED and credited: the
// purchases are registered in the accrual service and computed before the uploads, so every order
// is PROCESSED at the first ask.
func (b *bench) creditedUsers(ctx context.Context, prefix string, n, perUser int) ([]string, error) {
	tokens, err := b.users(ctx, prefix, n)
	if err != nil {
		return nil, err
	}
	nums := make([]string, n*perUser)
	for i := range nums {
		nums[i] = b.nums.next()
	}
	if err := parallel(ctx, b.cfg.concurrency, len(nums), func(ctx context.Context, i int) error {
		return b.registerPurchase(ctx, nums[i], 1000)
	}); err != nil {
		return nil, err
	}
	if err := b.waitAccrual(ctx, nums); err != nil {
		return nil, err
	}
	if err := parallel(ctx, b.cfg.concurrency, len(nums), func(ctx context.Context, i int) error {
		status, err := b.upload(ctx, tokens[i/perUser], nums[i])
		return expectStatus("upload "+nums[i], status, err, http.StatusAccepted)
	}); err != nil {
		return nil, err
	}
	for _, t := range tokens {
		if err := b.waitProcessed(ctx, t, perUser); err != nil {
			return nil, err
		}
	}
	return tokens, nil
}

// withdrawLoad has every worker withdraw 1 point at a time, each time for a new order number, from
// one user credited with 5,000,000 points through the accrual flow.
func (b *bench) withdrawLoad(ctx context.Context) Result {
	tokens, err := b.users(ctx, "rich", 1)
	if err != nil {
		return failed("withdraw", err)
	}
	if err := b.credited(ctx, tokens[0], 1, 100_000_000); err != nil {
		return failed("withdraw", err)
	}
	url := b.gm + "/api/user/balance/withdraw"
	return b.load(ctx, "withdraw", []int{http.StatusOK}, func(ctx context.Context, _ int) (int, error) {
		body := []byte(`{"order":"` + b.nums.next() + `","sum":1}`)
		r, err := do(ctx, b.c, request{
			method: http.MethodPost, url: url, token: tokens[0], contentType: "application/json", body: body,
		}, false)
		return r.status, err
	})
}

// drainPoll is how often the drain scenario lists the orders; it is the resolution of its timings.
const drainPoll = 100 * time.Millisecond

// drain registers cfg.orders purchases in the accrual service, uploads them all to gophermart (with
// the run's concurrency) and measures orders/s from the first upload until every one is PROCESSED,
// as seen by polling GET /api/user/orders. Its p50/p99 are of each order's time from the start of its
// upload to the poll that first saw it PROCESSED.
//
// With accrualFirst, the uploads start once the accrual service has computed every purchase, so
// each order is PROCESSED at the first ask and the rate is gophermart's own; without it they start
// right after the registrations, while the accrual service still answers REGISTERED or PROCESSING,
// and the rate includes the worker's re-ask delays.
func (b *bench) drain(ctx context.Context, name string, accrualFirst bool) Result {
	n := b.cfg.orders
	tokens, err := b.users(ctx, name, 1)
	if err != nil {
		return failed(name, err)
	}
	token := tokens[0]
	nums := make([]string, n)
	index := make(map[string]int, n)
	for i := range nums {
		nums[i] = b.nums.next()
		index[nums[i]] = i
	}
	err = parallel(ctx, b.cfg.concurrency, n, func(ctx context.Context, i int) error {
		return b.registerPurchase(ctx, nums[i], 1000)
	})
	if err != nil {
		return failed(name, err)
	}
	var computed string
	if accrualFirst {
		t0 := time.Now()
		if err := b.waitAccrual(ctx, nums); err != nil {
			return failed(name, err)
		}
		computed = fmt.Sprintf("; the accrual service computed them in %.2f s, before the first upload", time.Since(t0).Seconds())
	}

	// started is written by the uploaders, seen by the poller; both are read once those are done.
	started := make([]time.Time, n) // each upload's start
	seen := make([]time.Time, n)    // the poll that first saw the order PROCESSED
	uploadErrs := &errorKinds{}
	begin := time.Now()
	cpuFrom := b.cpu.sample()
	pollCtx, stopPoll := context.WithTimeout(ctx, b.cfg.drainTimeout)
	defer stopPoll()
	type pollOutcome struct {
		processed, invalid int
		last               time.Time
		cpu                cpuSample // at last
		err                error
	}
	polled := make(chan pollOutcome, 1)
	go func() {
		var out pollOutcome
		for {
			select {
			case <-pollCtx.Done():
				out.err = fmt.Errorf("%d of %d orders PROCESSED after %s", out.processed, n, b.cfg.drainTimeout)
				polled <- out
				return
			case <-time.After(drainPoll):
			}
			items, err := b.listOrders(pollCtx, token)
			now, cpu := time.Now(), b.cpu.sample()
			if err != nil {
				continue // counted through the timeout if it persists
			}
			out.invalid = 0
			for _, it := range items {
				i, ok := index[it.Number]
				switch {
				case !ok:
				case it.Status == "PROCESSED" && seen[i].IsZero():
					seen[i] = now
					out.processed++
					out.last = now
				case it.Status == "INVALID":
					out.invalid++
				}
			}
			if out.last.Equal(now) {
				out.cpu = cpu
			}
			if out.processed+out.invalid+uploadErrs.count() >= n {
				polled <- out
				return
			}
		}
	}()
	_ = parallel(ctx, b.cfg.concurrency, n, func(ctx context.Context, i int) error {
		started[i] = time.Now()
		status, err := b.upload(ctx, token, nums[i])
		if err != nil || status != http.StatusAccepted {
			uploadErrs.add("upload " + errorKind(status, err))
		}
		return nil
	})
	uploaded := time.Since(begin)
	out := <-polled
	stopPoll()
	if out.err != nil && out.processed == 0 {
		return failed(name, out.err)
	}

	lat := make([]time.Duration, 0, n)
	for i := range seen {
		if !seen[i].IsZero() {
			lat = append(lat, seen[i].Sub(started[i]))
		}
	}
	s := summarize(lat)
	elapsed := out.last.Sub(begin)
	res := Result{
		Scenario: name, Unit: "orders/s", Count: s.count, Seconds: elapsed.Seconds(),
		PerSec: float64(s.count) / elapsed.Seconds(), P50Ms: ms(s.p50), P99Ms: ms(s.p99), MaxMs: ms(s.max),
		Errors: n - s.count, ErrorKinds: uploadErrs.snapshot(),
		Note: fmt.Sprintf("%d orders%s; uploads took %.2f s, all PROCESSED %.2f s after the first upload "+
			"(poll every %s); p50/p99: upload start to PROCESSED seen",
			n, computed, uploaded.Seconds(), elapsed.Seconds(), drainPoll),
	}
	fillCPU(&res, cpuFrom, out.cpu, elapsed)
	if out.invalid > 0 {
		res.ErrorKinds["INVALID"] = out.invalid
	}
	if missing := n - s.count - out.invalid - uploadErrs.count(); missing > 0 {
		res.ErrorKinds["not PROCESSED in time"] = missing
	}
	if len(res.ErrorKinds) == 0 {
		res.ErrorKinds = nil
	}
	return res
}

// waitAccrual polls the accrual service until it answers PROCESSED for every number.
func (b *bench) waitAccrual(ctx context.Context, nums []string) error {
	ctx, cancel := context.WithTimeout(ctx, b.cfg.drainTimeout)
	defer cancel()
	pending := nums
	for {
		done := make([]bool, len(pending))
		err := parallel(ctx, b.cfg.concurrency, len(pending), func(ctx context.Context, i int) error {
			r, err := do(ctx, b.c, request{method: http.MethodGet, url: b.acc + "/api/orders/" + pending[i]}, true)
			if err != nil {
				return fmt.Errorf("ask accrual about %s: %w", pending[i], err)
			}
			var body struct {
				Status string `json:"status"`
			}
			if r.status == http.StatusOK && json.Unmarshal(r.body, &body) == nil {
				done[i] = body.Status == "PROCESSED"
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("%d of %d purchases computed by the accrual service: %w", len(nums)-len(pending), len(nums), err)
		}
		var left []string
		for i, d := range done {
			if !d {
				left = append(left, pending[i])
			}
		}
		if pending = left; len(pending) == 0 {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%d of %d purchases computed by the accrual service after %s",
				len(nums)-len(pending), len(nums), b.cfg.drainTimeout)
		case <-time.After(drainPoll):
		}
	}
}

func (e *errorKinds) count() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.total
}

func (e *errorKinds) snapshot() map[string]int {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := make(map[string]int, len(e.kinds))
	for k, v := range e.kinds {
		out[k] = v
	}
	return out
}

// failed is the result of a scenario that could not be measured.
func failed(name string, err error) Result {
	msg := err.Error()
	if errors.Is(err, context.Canceled) {
		msg = "interrupted"
	}
	return Result{Scenario: name, Failed: msg}
}
