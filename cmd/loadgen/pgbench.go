package main

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// pgbenchName and pgbenchEndName are PostgreSQL's own select-only benchmark (pgbench -S), measured
// first and again near the end, like the ceiling; every scenario is compared with the higher of the
// two.
const (
	pgbenchName    = "pgbench"
	pgbenchEndName = "pgbench-end"
)

// pgbenchScale is the scale of the scratch pgbench database: 10 gives 1,000,000 accounts, about
// 150 MB with the index.
const pgbenchScale = 10

// pgbenchDB is the scratch database pgbench runs on, initialised with pgbench -i and dropped at the
// end of the run.
type pgbenchDB struct {
	*benchDB
	bin string // the pgbench program
}

// createPgbenchDB creates a fresh database on the admin DSN's server and fills it with pgbench -i.
func createPgbenchDB(ctx context.Context, admin, bin string) (*pgbenchDB, error) {
	d, _, err := createDB(ctx, admin)
	if err != nil {
		return nil, err
	}
	p := &pgbenchDB{benchDB: d, bin: bin}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Minute)
	defer cancel()
	// #nosec G204 -- the pgbench program named by the -pgbench flag, on our own scratch database.
	cmd := exec.CommandContext(ctx, bin, "-i", "-s", strconv.Itoa(pgbenchScale), "-q", d.uri)
	if out, err := cmd.CombinedOutput(); err != nil {
		return p, fmt.Errorf("pgbench -i on %s: %w\n%s", d.name, err, tailLines(out, 10))
	}
	return p, nil
}

// run runs the built-in select-only script (-S) with the given clients for d, without vacuuming
// first (-n: pgbench -i has just done it), and returns its result. The CPU columns count pgbench as
// the server under load and the backends of its database as pg.
func (p *pgbenchDB) run(ctx context.Context, name string, clients int, d time.Duration) Result {
	secs := max(int((d+time.Second-1)/time.Second), 1) // pgbench -T takes whole seconds
	// #nosec G204 -- as in createPgbenchDB.
	cmd := exec.CommandContext(ctx, p.bin, "-S", "-n", "-c", strconv.Itoa(clients), "-j", "2",
		"-T", strconv.Itoa(secs), p.uri)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return failed(name, fmt.Errorf("start pgbench: %w", err))
	}
	s := sampler{server: cmd.Process.Pid, pgPids: p.backends}
	from := s.sample()
	// Sampled just before the end: once pgbench exits, its /proc entry and its backends are gone.
	window := time.Duration(secs)*time.Second - 200*time.Millisecond
	var to cpuSample
	if sleepUntil(ctx, time.Now().Add(window)) {
		to = s.sample()
	}
	if err := cmd.Wait(); err != nil {
		return failed(name, fmt.Errorf("pgbench -S: %w\n%s", err, tailLines(out.Bytes(), 10)))
	}
	res, err := parsePgbench(out.String())
	if err != nil {
		return failed(name, err)
	}
	res.Scenario, res.Seconds = name, float64(secs)
	res.Note = fmt.Sprintf("pgbench -S -c %d -j 2 -T %d -n, scale %d; latency average %s (pgbench prints no "+
		"percentiles); srv is the pgbench client, server CPU/op is PostgreSQL's per transaction",
		clients, secs, pgbenchScale, formatMs(res.P50Ms))
	res.P50Ms = 0
	fillCPU(&res, from, to, window)
	if res.CPU != nil && res.PerSec > 0 {
		res.CPU.ServerUsPerOp = res.CPU.Postgres / res.PerSec * 1e6
	}
	return res
}

var (
	pgbenchTPS      = regexp.MustCompile(`(?m)^tps = ([0-9.]+) \((?:without initial connection time|excluding connections establishing)\)`)
	pgbenchLatency  = regexp.MustCompile(`(?m)^latency average = ([0-9.]+) ms`)
	pgbenchCount    = regexp.MustCompile(`(?m)^number of transactions actually processed: ([0-9]+)`)
	pgbenchFailures = regexp.MustCompile(`(?m)^number of failed transactions: ([0-9]+)`)
)

// parsePgbench reads pgbench's summary: the TPS without connection time (PerSec), the transactions
// (Count), the failed ones (Errors) and the average latency (P50Ms, for want of percentiles).
// PostgreSQL 13 and earlier say "excluding connections establishing"; both forms are read.
func parsePgbench(out string) (Result, error) {
	m := pgbenchTPS.FindStringSubmatch(out)
	if m == nil {
		return Result{}, fmt.Errorf("no tps line in pgbench's output:\n%s", tailLines([]byte(out), 10))
	}
	tps, err := strconv.ParseFloat(m[1], 64)
	if err != nil {
		return Result{}, fmt.Errorf("pgbench tps %q: %w", m[1], err)
	}
	res := Result{Unit: "tx/s", PerSec: tps}
	if m := pgbenchCount.FindStringSubmatch(out); m != nil {
		res.Count, _ = strconv.Atoi(m[1])
	}
	if m := pgbenchFailures.FindStringSubmatch(out); m != nil {
		if res.Errors, _ = strconv.Atoi(m[1]); res.Errors > 0 {
			res.ErrorKinds = map[string]int{"failed transaction": res.Errors}
		}
	}
	if m := pgbenchLatency.FindStringSubmatch(out); m != nil {
		res.P50Ms, _ = strconv.ParseFloat(m[1], 64)
	}
	return res, nil
}

// tailLines returns the last n lines of out.
func tailLines(out []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
