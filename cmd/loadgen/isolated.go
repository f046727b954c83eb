package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// processedWorkers is how many users of processed-latency upload at once, each waiting for its
// order to be PROCESSED before the next: a light load, so that the latency is the pipeline's own.
const processedWorkers = 4

// processedPoll is how often processed-latency lists a user's orders while it waits.
const processedPoll = 10 * time.Millisecond

// processedTimeout bounds the wait for one order of processed-latency.
const processedTimeout = 30 * time.Second

// processedLatency measures how long an order takes from its upload's 202 to the first
// GET /api/user/orders that shows it PROCESSED, when the accrual service computes a purchase in
// -accrual-delay. It runs a gophermart and accrual pair of its own on a fresh database, the accrual
// service keeping each purchase half the delay in REGISTERED and half in PROCESSING and logging
// every GET /api/orders/{number} it gets. Each of processedWorkers users, in a closed loop for the
// run's warm-up and window: registers a purchase in the accrual service, uploads its number, and
// polls its orders every processedPoll until the order is PROCESSED.
func (b *bench) processedLatency(ctx context.Context) (res Result) {
	const name = "processed-latency"
	dir := filepath.Join(b.tmp, name)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return failed(name, err)
	}
	database, _, err := createDB(ctx, b.cfg.dsn)
	if err != nil {
		return failed(name, err)
	}
	defer func() {
		if err := database.drop(); err != nil {
			b.stopErrs = append(b.stopErrs, err)
		}
	}()
	accAddr, err := freeAddr()
	if err != nil {
		return failed(name, err)
	}
	requestLog := filepath.Join(dir, "accrual-requests.jsonl")
	acc, err := startProc(name+"-accrual", b.accBin, dir, map[string]string{
		"RUN_ADDRESS": accAddr, "DATABASE_URI": database.uri,
		"ACCRUAL_PROCESSING_DELAY": (b.cfg.accrualDelay / 2).String(), "ACCRUAL_REQUEST_LOG": requestLog,
	})
	if err != nil {
		return failed(name, err)
	}
	defer b.stopSingle(acc)
	if err := acc.waitReady(ctx, acceptsConnections(accAddr)); err != nil {
		return failed(name, err)
	}
	gm, pprofURL, err := b.startGophermart(ctx, name+"-gophermart", dir, map[string]string{
		"DATABASE_URI": database.uri, "ACCRUAL_SYSTEM_ADDRESS": "http://" + accAddr,
	})
	if gm != nil {
		defer b.stopSingle(gm)
	}
	if err != nil {
		return failed(name, err)
	}
	w := watchRSS(gm.cmd.Process.Pid)
	defer func() {
		peak := w.finish("gophermart (" + name + ")")
		b.rssPeaks = append(b.rssPeaks, peak)
		res.PeakRSSMiB = peak.PeakMiB
	}()
	restore := b.use(target{
		gm: "http://" + gm.addr, acc: "http://" + accAddr, pprof: pprofURL, rss: w,
		cpu: sampler{server: gm.cmd.Process.Pid, accrual: acc.cmd.Process.Pid, pgPids: database.backends},
	})
	defer restore()

	if err := b.registerMechanic(ctx); err != nil {
		return failed(name, err)
	}
	tokens, err := b.users(ctx, name, processedWorkers)
	if err != nil {
		return failed(name, err)
	}
	wait := b.startProfile(ctx, name)
	res = b.processedLoop(ctx, name, tokens)
	if err := wait(); err != nil && res.Failed == "" {
		res.Note = joinNotes(res.Note, err.Error())
	}
	if res.Failed != "" {
		return res
	}
	asks, byStatus, err := countAccrualRequests(requestLog, b.processedOrders)
	if err != nil {
		res.Note = joinNotes(res.Note, err.Error())
	} else {
		res.AccrualRequests = asks
		res.Note = joinNotes(res.Note, fmt.Sprintf("accrual got %d GET /api/orders/{number} for them, %.2f per order (%s)",
			asks, float64(asks)/float64(max(res.Count, 1)), formatStatuses(byStatus)))
	}
	return res
}

// processedLoop is processed-latency's load: see processedLatency. Orders whose upload starts in
// the window are measured, even when they become PROCESSED after it.
func (b *bench) processedLoop(ctx context.Context, name string, tokens []string) Result {
	start := time.Now()
	measureFrom := start.Add(b.cfg.warmup)
	end := measureFrom.Add(b.cfg.duration)
	var (
		mu       sync.Mutex
		lat      []time.Duration
		measured = map[string]bool{}
		errs     = &errorKinds{}
		wg       sync.WaitGroup
	)
	from := b.cpu.sample()
	for w := range tokens {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil && time.Now().Before(end) {
				n := b.nums.next()
				t0 := time.Now()
				d, kind := b.uploadUntilProcessed(ctx, tokens[w], n)
				if t0.Before(measureFrom) || ctx.Err() != nil {
					continue
				}
				mu.Lock()
				measured[n] = true
				if kind != "" {
					errs.add(kind)
				} else {
					lat = append(lat, d)
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(measureFrom)
	to := b.cpu.sample()
	if ctx.Err() != nil {
		return failed(name, ctx.Err())
	}
	b.processedOrders = measured
	s := summarize(lat)
	res := Result{
		Scenario: name, Unit: "orders/s", Count: s.count, Seconds: elapsed.Seconds(),
		PerSec: float64(s.count) / elapsed.Seconds(), P50Ms: ms(s.p50), P99Ms: ms(s.p99), MaxMs: ms(s.max),
		Errors: errs.total, ErrorKinds: errs.kinds, LatencyOnly: true,
		Note: fmt.Sprintf("%d users, one order at a time each; the accrual service computes a purchase in %s "+
			"(ACCRUAL_PROCESSING_DELAY=%s, spent in REGISTERED and again in PROCESSING); latency from the upload's "+
			"202 to the first GET /api/user/orders showing PROCESSED, polled every %s; target p50 <= %s",
			len(tokens), b.cfg.accrualDelay, b.cfg.accrualDelay/2, processedPoll, b.cfg.accrualDelay+100*time.Millisecond),
	}
	fillCPU(&res, from, to, elapsed)
	return res
}

// uploadUntilProcessed registers a purchase for n in the accrual service, uploads n as the user of
// token and polls until it is PROCESSED. It returns the time from the 202 to the poll that saw
// PROCESSED, or the kind of error.
func (b *bench) uploadUntilProcessed(ctx context.Context, token, n string) (time.Duration, string) {
	if err := b.registerPurchase(ctx, n, 1000); err != nil {
		return 0, "register purchase"
	}
	status, err := b.upload(ctx, token, n)
	accepted := time.Now()
	if err != nil || status != http.StatusAccepted {
		return 0, "upload " + errorKind(status, err)
	}
	ctx, cancel := context.WithTimeout(ctx, processedTimeout)
	defer cancel()
	for {
		if !sleepUntil(ctx, time.Now().Add(processedPoll)) {
			return 0, "not PROCESSED in " + processedTimeout.String()
		}
		items, err := b.listOrders(ctx, token)
		seen := time.Now()
		if err != nil {
			continue
		}
		for _, it := range items {
			if it.Number != n {
				continue
			}
			switch it.Status {
			case "PROCESSED":
				return seen.Sub(accepted), ""
			case "INVALID":
				return 0, "INVALID"
			}
		}
	}
}

// countAccrualRequests counts the lines of the accrual service's request log about the given orders,
// in all and by answered status.
func countAccrualRequests(path string, orders map[string]bool) (int, map[int]int, error) {
	f, err := os.Open(path) // #nosec G304 -- our own temporary directory
	if err != nil {
		return 0, nil, fmt.Errorf("accrual request log: %w", err)
	}
	defer func() { _ = f.Close() }()
	total, byStatus := 0, map[int]int{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var rec struct {
			Order  string `json:"order"`
			Status int    `json:"status"`
		}
		if json.Unmarshal(sc.Bytes(), &rec) != nil || !orders[rec.Order] {
			continue
		}
		total++
		byStatus[rec.Status]++
	}
	if err := sc.Err(); err != nil {
		return 0, nil, fmt.Errorf("accrual request log: %w", err)
	}
	return total, byStatus, nil
}

// formatStatuses prints status counts in status order: "200: 12, 204: 3".
func formatStatuses(byStatus map[int]int) string {
	out := ""
	for status := 100; status < 600; status++ {
		if n, ok := byStatus[status]; ok {
			if out != "" {
				out += ", "
			}
			out += strconv.Itoa(status) + ": " + strconv.Itoa(n)
		}
	}
	return out
}

// sqliteUpload loads POST /api/user/orders on a gophermart of its own started on the defaults, as a
// user who sets nothing but RUN_ADDRESS would: the SQLite file gophermart.db in its working
// directory, and the built-in accrual service, which the worker asks about every upload at once.
func (b *bench) sqliteUpload(ctx context.Context) (res Result) {
	const name = "sqlite-upload"
	dir := filepath.Join(b.tmp, name)
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return failed(name, err)
	}
	gm, pprofURL, err := b.startGophermart(ctx, "gophermart-sqlite", dir, map[string]string{})
	if gm != nil {
		defer b.stopSingle(gm)
	}
	if err != nil {
		return failed(name, err)
	}
	w := watchRSS(gm.cmd.Process.Pid)
	defer func() {
		peak := w.finish("gophermart (" + name + ")")
		b.rssPeaks = append(b.rssPeaks, peak)
		res.PeakRSSMiB = peak.PeakMiB
	}()
	restore := b.use(target{gm: "http://" + gm.addr, pprof: pprofURL, rss: w, cpu: sampler{server: gm.cmd.Process.Pid}})
	defer restore()
	tokens, err := b.users(ctx, name, b.cfg.concurrency)
	if err != nil {
		return failed(name, err)
	}
	res = b.load(ctx, name, []int{http.StatusAccepted}, b.uploadOp(tokens))
	res.Note = joinNotes("gophermart with RUN_ADDRESS only: SQLite file, built-in accrual service, worker running", res.Note)
	return res
}

// stopSingle stops a server of a single scenario, keeping an unclean exit for the run's error.
func (b *bench) stopSingle(p *proc) {
	b.c.CloseIdleConnections()
	if err := p.stop(); err != nil && !errors.Is(err, context.Canceled) {
		b.stopErrs = append(b.stopErrs, fmt.Errorf("%w; log:\n%s", err, p.tail(20)))
	}
}
