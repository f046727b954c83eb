// Command loadgen is Gophermart's load benchmark. It builds the real gophermart and accrual binaries,
// runs them as processes against a fresh PostgreSQL database on the local server, loads each endpoint
// with a fixed number of closed-loop workers for a fixed time, and compares every scenario with a
// bare fiber handler loaded the same way (the ceiling). It prints a table and writes it as JSON and
// Markdown. All traffic goes to 127.0.0.1.
//
//	go run ./cmd/loadgen [-concurrency 16] [-duration 5s] [-warmup 1s] [-orders 2000] [-out bench-results.json]
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

// defaultDSN is the admin DSN of the local PostgreSQL server, used unless -dsn or GOPHERMART_TEST_DSN
// says otherwise.
const defaultDSN = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"

// allScenarios lists the scenarios in the order they run. The ceiling is measured first and again
// near the end, since other work on the machine may disturb either; ratios are taken to the higher
// of the two. upload runs last: its orders are unknown to the accrual service and stay in
// gophermart's queue, asked about again and again, which would load PostgreSQL and the accrual
// service during any scenario after it.
var allScenarios = []string{
	ceilingName, "healthz", "register", "login", "balance", "list", "withdraw", "drain", "drain-cold",
	ceilingEndName, "upload",
}

// config is the command line.
type config struct {
	concurrency  int
	duration     time.Duration
	warmup       time.Duration
	orders       int
	drainTimeout time.Duration
	dsn          string
	out          string
	scenarios    []string
	binDir       string // prebuilt gophermart and accrual; "" builds them
	serveCeiling string // internal: run as the ceiling server on this address
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run is the whole command; it returns the exit code: 0 all measured, 1 a failure, 2 bad usage.
func run(args []string, stdout, stderr io.Writer) int {
	cfg, err := parseFlags(args, stderr)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0
		}
		fmt.Fprintln(stderr, "loadgen:", err)
		return 2
	}
	if cfg.serveCeiling != "" {
		if err := serveCeiling(cfg.serveCeiling); err != nil {
			fmt.Fprintln(stderr, "loadgen ceiling:", err)
			return 1
		}
		return 0
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := benchmark(ctx, cfg, stderr)
	if rep != nil && len(rep.Results) > 0 {
		rep.fillRatios()
		fmt.Fprintln(stdout)
		_ = rep.writeTable(stdout)
		if werr := rep.writeFiles(cfg.out); werr != nil {
			err = errors.Join(err, werr)
		} else {
			jsonPath, mdPath := outputPaths(cfg.out)
			fmt.Fprintf(stdout, "\nwritten: %s, %s\n", jsonPath, mdPath)
		}
		for _, res := range rep.Results {
			if res.Failed != "" {
				err = errors.Join(err, fmt.Errorf("scenario %s: %s", res.Scenario, res.Failed))
			}
		}
	}
	if err != nil {
		fmt.Fprintln(stderr, "loadgen:", err)
		return 1
	}
	return 0
}

func parseFlags(args []string, stderr io.Writer) (config, error) {
	var cfg config
	fs := flag.NewFlagSet("loadgen", flag.ContinueOnError)
	fs.SetOutput(stderr)
	dsn := os.Getenv("GOPHERMART_TEST_DSN")
	if dsn == "" {
		dsn = defaultDSN
	}
	fs.IntVar(&cfg.concurrency, "concurrency", 16, "closed-loop workers per scenario")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "measured time per scenario")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "time per scenario before measuring starts")
	fs.IntVar(&cfg.orders, "orders", 2000, "orders of the accrual drain scenario")
	fs.DurationVar(&cfg.drainTimeout, "drain-timeout", 2*time.Minute, "longest wait for the drain's orders to be PROCESSED")
	fs.StringVar(&cfg.dsn, "dsn", dsn, "admin DSN of the local PostgreSQL server (env GOPHERMART_TEST_DSN); a fresh database is created on it")
	fs.StringVar(&cfg.out, "out", "bench-results.json", "JSON result file; the Markdown goes next to it with the .md extension")
	fs.StringVar(&cfg.binDir, "bin-dir", "", "use the gophermart and accrual binaries in this directory instead of building them")
	scenarios := fs.String("scenarios", "all", "comma-separated scenarios to run, of: "+strings.Join(allScenarios, ","))
	fs.StringVar(&cfg.serveCeiling, "serve-ceiling", "", "internal: serve the ceiling handler on this address")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.concurrency < 1 || cfg.duration <= 0 || cfg.warmup < 0 || cfg.orders < 1 || cfg.drainTimeout <= 0 {
		return cfg, errors.New("-concurrency, -duration, -orders and -drain-timeout must be positive, -warmup not negative")
	}
	if *scenarios == "all" {
		cfg.scenarios = allScenarios
	} else {
		for s := range strings.SplitSeq(*scenarios, ",") {
			s = strings.TrimSpace(s)
			if !slices.Contains(allScenarios, s) {
				return cfg, fmt.Errorf("unknown scenario %q; known: %s", s, strings.Join(allScenarios, ","))
			}
			cfg.scenarios = append(cfg.scenarios, s)
		}
	}
	return cfg, nil
}

// cleanups runs deferred teardown steps in reverse order and collects their errors.
type cleanups struct {
	steps []func() error
}

func (c *cleanups) add(f func() error) { c.steps = append(c.steps, f) }

func (c *cleanups) run() error {
	var errs []error
	for i := len(c.steps) - 1; i >= 0; i-- {
		errs = append(errs, c.steps[i]())
	}
	c.steps = nil
	return errors.Join(errs...)
}

// benchmark sets up the database and the servers, runs the selected scenarios and tears everything
// down again, whatever happens. The report holds every scenario that ran.
func benchmark(ctx context.Context, cfg config, logw io.Writer) (rep *Report, err error) {
	if err := checkLoopback(cfg.dsn); err != nil {
		return nil, err
	}
	logf := func(format string, a ...any) {
		fmt.Fprintf(logw, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, a...)...)
	}
	var cl cleanups
	defer func() { err = errors.Join(err, cl.run()) }()

	tmp, err := os.MkdirTemp("", "gmbench-")
	if err != nil {
		return nil, fmt.Errorf("temporary directory: %w", err)
	}
	cl.add(func() error { return os.RemoveAll(tmp) })

	gmBin, accBin := filepath.Join(cfg.binDir, "gophermart"), filepath.Join(cfg.binDir, "accrual")
	if cfg.binDir == "" {
		logf("building gophermart and accrual (no -race)")
		if gmBin, err = buildBinary(ctx, tmp, "gophermart"); err != nil {
			return nil, err
		}
		if accBin, err = buildBinary(ctx, tmp, "accrual"); err != nil {
			return nil, err
		}
	}
	self, err := os.Executable()
	if err != nil {
		return nil, fmt.Errorf("find own executable for the ceiling server: %w", err)
	}

	database, pgVersion, err := createDB(ctx, cfg.dsn)
	if err != nil {
		return nil, err
	}
	logf("database %s created", database.name)
	cl.add(database.drop)

	rep = &Report{
		Machine: machine(ctx, pgVersion),
		Settings: Settings{
			Concurrency: cfg.concurrency, DurationS: cfg.duration.Seconds(), WarmupS: cfg.warmup.Seconds(), Orders: cfg.orders,
		},
	}
	b := &bench{
		cfg: cfg, c: newClient(cfg.concurrency), runID: randomDigits(6),
		nums: newNumbers("7" + randomDigits(5)), win: window{warmup: cfg.warmup, duration: cfg.duration},
	}
	cl.add(func() error { b.c.CloseIdleConnections(); return nil })

	accAddr, err := freeAddr()
	if err != nil {
		return rep, err
	}
	acc, err := startProc("accrual", accBin, tmp, map[string]string{"RUN_ADDRESS": accAddr, "DATABASE_URI": database.uri})
	if err != nil {
		return rep, err
	}
	cl.add(acc.stop)
	if err := acc.waitReady(ctx, acceptsConnections(accAddr)); err != nil {
		return rep, err
	}
	b.acc = "http://" + accAddr

	gmAddr, err := freeAddr()
	if err != nil {
		return rep, err
	}
	gm, err := startProc("gophermart", gmBin, tmp, map[string]string{
		"RUN_ADDRESS": gmAddr, "DATABASE_URI": database.uri, "ACCRUAL_SYSTEM_ADDRESS": b.acc,
		// The upload and drain scenarios give one user thousands of pending orders; the per-user cap
		// (1000 by default) would answer them 429, which is not what they measure.
		"GOPHERMART_MAX_PENDING_ORDERS": "100000000",
	})
	if err != nil {
		return rep, err
	}
	cl.add(gm.stop)
	b.gm = "http://" + gmAddr
	b.cpu = sampler{server: gm.cmd.Process.Pid, accrual: acc.cmd.Process.Pid, pgPids: database.backends}
	if err := gm.waitReady(ctx, answers200(b.c, b.gm+"/readyz")); err != nil {
		return rep, err
	}
	logf("gophermart on %s, accrual on %s", gmAddr, accAddr)

	if slices.ContainsFunc(cfg.scenarios, func(s string) bool { return s == "list" || s == "withdraw" || strings.HasPrefix(s, "drain") }) {
		if err := b.registerMechanic(ctx); err != nil {
			return rep, err
		}
	}
	// What else keeps the machine busy while the servers idle.
	quiet := sampler{}
	before := quiet.sample()
	if sleepUntil(ctx, time.Now().Add(time.Second)) {
		var res Result
		fillCPU(&res, before, quiet.sample(), time.Second)
		if res.CPU != nil {
			rep.Machine.IdleBusyCores = res.CPU.Machine
		}
	}
	var workerTokens []string // one user per worker, for balance and upload
	for _, name := range cfg.scenarios {
		if ctx.Err() != nil {
			break
		}
		logf("scenario %s", name)
		var res Result
		switch name {
		case ceilingName, ceilingEndName:
			res = b.runCeiling(ctx, name, self, tmp)
		case "healthz":
			res = b.healthz(ctx)
		case "register":
			res = b.registerLoad(ctx)
		case "login":
			res = b.loginLoad(ctx)
		case "balance", "upload":
			if workerTokens == nil {
				tokens, uerr := b.users(ctx, "worker", cfg.concurrency)
				if uerr != nil {
					res = failed(name, uerr)
					break
				}
				workerTokens = tokens
			}
			if name == "balance" {
				res = b.balanceLoad(ctx, workerTokens)
			} else {
				res = b.uploadLoad(ctx, workerTokens)
			}
		case "list":
			res = b.listLoad(ctx)
		case "withdraw":
			res = b.withdrawLoad(ctx)
		case "drain":
			res = b.drain(ctx, name, true)
		case "drain-cold":
			res = b.drain(ctx, name, false)
		}
		logf("  %s", strings.Join(res.row(), "  "))
		rep.Results = append(rep.Results, res)
	}
	// Stop the servers now, so that an unclean exit is reported with this run.
	b.c.CloseIdleConnections()
	for _, p := range []*proc{gm, acc} {
		if serr := p.stop(); serr != nil {
			err = errors.Join(err, fmt.Errorf("%w; log:\n%s", serr, p.tail(20)))
		}
	}
	if ctx.Err() != nil {
		err = errors.Join(err, errors.New("interrupted"))
	}
	return rep, err
}

// runCeiling starts the ceiling server (this program in its -serve-ceiling mode), loads it and stops it.
func (b *bench) runCeiling(ctx context.Context, name, self, logDir string) Result {
	addr, err := freeAddr()
	if err != nil {
		return failed(name, err)
	}
	p, err := startProc(name, self, logDir, map[string]string{"RUN_ADDRESS": addr}, "-serve-ceiling", addr)
	if err != nil {
		return failed(name, err)
	}
	saved := b.cpu
	b.cpu.server = p.cmd.Process.Pid
	defer func() {
		b.cpu = saved
		b.c.CloseIdleConnections() // a graceful shutdown waits for keep-alive connections to close
		_ = p.stop()
	}()
	if err := p.waitReady(ctx, acceptsConnections(addr)); err != nil {
		return failed(name, err)
	}
	return b.ceiling(ctx, name, "http://"+addr)
}

// machine collects the facts of the machine that go with the numbers.
func machine(ctx context.Context, pgVersion string) Machine {
	m := Machine{
		Date:       time.Now().UTC().Format(time.RFC3339),
		NumCPU:     runtime.NumCPU(),
		GOMAXPROCS: runtime.GOMAXPROCS(0),
		GoVersion:  runtime.Version(),
		OS:         runtime.GOOS + "/" + runtime.GOARCH,
		CPUModel:   cpuModel(),
		Postgres:   pgVersion,
	}
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if out, err := exec.CommandContext(ctx, "git", "rev-parse", "--short", "HEAD").Output(); err == nil {
		m.Commit = strings.TrimSpace(string(out))
		if st, err := exec.CommandContext(ctx, "git", "status", "--porcelain", "--untracked-files=no").Output(); err == nil && len(st) > 0 {
			m.Commit += "+dirty"
		}
	}
	return m
}

// cpuModel is the "model name" of /proc/cpuinfo, or "" where there is none.
func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	defer func() { _ = f.Close() }()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}
