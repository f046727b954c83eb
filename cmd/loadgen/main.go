// Command loadgen is Gophermart's load benchmark. It builds the real gophermart and accrual binaries,
// runs them as processes against a fresh PostgreSQL database on the local server, loads each endpoint
// with a fixed number of closed-loop workers for a fixed time, and compares every scenario, in the
// same run, with PostgreSQL's own select-only benchmark (pgbench -S), with a floor server that does
// the endpoint's least work (bare fiber + pgx + token check + the same SQL) and with a bare fiber
// handler (the ceiling). It samples the server's memory throughout, can take a CPU profile of every
// scenario, and prints tables that it also writes as JSON and Markdown. All traffic goes to 127.0.0.1.
//
//	go run ./cmd/loadgen [-concurrency 32] [-duration 5s] [-warmup 1s] [-orders 2000] [-profile DIR] [-out bench-results.json]
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

// allScenarios lists the scenarios in the order they run.
//   - pgbench and the ceiling are measured first and again near the end, since other work on the
//     machine may disturb either; ratios are taken to the higher of the two.
//   - A floor runs right before the scenario it is the floor of, so both see the same machine.
//   - processed-latency runs its own gophermart and accrual pair on its own database.
//   - upload runs last on the main pair: its orders are unknown to the accrual service and stay in
//     gophermart's queue, asked about again and again, which would load PostgreSQL and the accrual
//     service during any scenario after it. The main pair is stopped after it.
//   - sqlite-upload runs a gophermart of its own on the defaults: an SQLite file, the built-in
//     accrual service.
var allScenarios = []string{
	pgbenchName, ceilingName, "healthz", "register", "login", "floor-balance", "balance", "floor-list", "list",
	"withdraw", "drain", "drain-cold", ceilingEndName, pgbenchEndName, "processed-latency", "floor-upload", "upload",
	"sqlite-upload",
}

// config is the command line.
type config struct {
	concurrency  int
	duration     time.Duration
	warmup       time.Duration
	orders       int
	drainTimeout time.Duration
	accrualDelay time.Duration // processed-latency: accrual answers PROCESSED this long after registration
	dsn          string
	out          string
	scenarios    []string
	binDir       string // prebuilt gophermart and accrual; "" builds them
	pgbench      string // the pgbench program
	profileDir   string // "": no CPU profiles
	serveCeiling string // internal: run as the ceiling server on this address
	serveFloor   string // internal: run as the floor server on this address
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
	if cfg.serveFloor != "" {
		if err := serveFloor(cfg.serveFloor); err != nil {
			fmt.Fprintln(stderr, "loadgen floor:", err)
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
		fmt.Fprintln(stdout)
		_ = rep.writeRatios(stdout)
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
	fs.IntVar(&cfg.concurrency, "concurrency", 32, "closed-loop workers per scenario (and pgbench clients)")
	fs.DurationVar(&cfg.duration, "duration", 5*time.Second, "measured time per scenario (pgbench -T, rounded up to seconds)")
	fs.DurationVar(&cfg.warmup, "warmup", time.Second, "time per scenario before measuring starts")
	fs.IntVar(&cfg.orders, "orders", 2000, "orders of the accrual drain scenario")
	fs.DurationVar(&cfg.drainTimeout, "drain-timeout", 2*time.Minute, "longest wait for the drain's orders to be PROCESSED")
	fs.DurationVar(&cfg.accrualDelay, "accrual-delay", 500*time.Millisecond,
		"processed-latency: the accrual service answers PROCESSED this long after a purchase is registered (half REGISTERED, half PROCESSING)")
	fs.StringVar(&cfg.dsn, "dsn", dsn, "admin DSN of the local PostgreSQL server (env GOPHERMART_TEST_DSN); fresh databases are created on it")
	fs.StringVar(&cfg.out, "out", "bench-results.json", "JSON result file; the Markdown goes next to it with the .md extension")
	fs.StringVar(&cfg.binDir, "bin-dir", "", "use the gophermart and accrual binaries in this directory instead of building them")
	fs.StringVar(&cfg.pgbench, "pgbench", "pgbench", "the pgbench program (PATH is searched)")
	fs.StringVar(&cfg.profileDir, "profile", "", "write a CPU profile of gophermart over each scenario's measured window to DIR/<scenario>.pprof")
	scenarios := fs.String("scenarios", "all", "comma-separated scenarios to run, of: "+strings.Join(allScenarios, ","))
	fs.StringVar(&cfg.serveCeiling, "serve-ceiling", "", "internal: serve the ceiling handler on this address")
	fs.StringVar(&cfg.serveFloor, "serve-floor", "", "internal: serve the floor handlers on this address (env "+floorDSNEnv+", "+floorSecretEnv+")")
	if err := fs.Parse(args); err != nil {
		return cfg, err
	}
	if fs.NArg() > 0 {
		return cfg, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if cfg.concurrency < 1 || cfg.duration <= 0 || cfg.warmup < 0 || cfg.orders < 1 || cfg.drainTimeout <= 0 || cfg.accrualDelay < 0 {
		return cfg, errors.New("-concurrency, -duration, -orders and -drain-timeout must be positive, -warmup and -accrual-delay not negative")
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

// benchmark sets up the databases and the servers, runs the selected scenarios and tears everything
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
	if cfg.profileDir != "" {
		if err := os.MkdirAll(cfg.profileDir, 0o750); err != nil {
			return nil, fmt.Errorf("profile directory: %w", err)
		}
	}

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
		return nil, fmt.Errorf("find own executable for the ceiling and floor servers: %w", err)
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
	if slices.Contains(cfg.scenarios, "processed-latency") {
		rep.Settings.AccrualDelayMs = ms(cfg.accrualDelay)
	}
	b := &bench{
		cfg: cfg, c: newClient(cfg.concurrency), runID: randomDigits(6),
		nums: newNumbers("7" + randomDigits(5)), win: window{warmup: cfg.warmup, duration: cfg.duration},
		tmp: tmp, self: self, gmBin: gmBin, accBin: accBin,
	}
	cl.add(func() error { b.c.CloseIdleConnections(); return nil })

	var pgb *pgbenchDB
	if slices.Contains(cfg.scenarios, pgbenchName) || slices.Contains(cfg.scenarios, pgbenchEndName) {
		logf("pgbench -i -s %d", pgbenchScale)
		pgb, err = createPgbenchDB(ctx, cfg.dsn, cfg.pgbench)
		if pgb != nil {
			cl.add(pgb.drop)
		}
		if err != nil {
			return rep, err
		}
	}

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

	gm, pprofURL, err := b.startGophermart(ctx, "gophermart", tmp, map[string]string{
		"DATABASE_URI": database.uri, "ACCRUAL_SYSTEM_ADDRESS": b.acc,
	})
	if gm != nil {
		cl.add(gm.stop)
	}
	if err != nil {
		return rep, err
	}
	b.gm, b.pprof = "http://"+gm.addr, pprofURL
	b.cpu = sampler{server: gm.cmd.Process.Pid, accrual: acc.cmd.Process.Pid, pgPids: database.backends}
	b.rss = watchRSS(gm.cmd.Process.Pid)
	logf("gophermart on %s, accrual on %s", gm.addr, accAddr)

	// The floor verifies gophermart's tokens, so it needs gophermart's secret: generated at its first
	// start and kept in the database, since the benchmark leaves every setting at its default.
	secret, err := readSetting(ctx, database.uri, "jwt_secret")
	if err != nil {
		return rep, err
	}
	b.floorEnv = map[string]string{floorDSNEnv: database.uri, floorSecretEnv: secret, floorConnsEnv: "20"}

	if err := b.registerMechanic(ctx); err != nil {
		return rep, err
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

	// stopMain stops the main pair, once, keeping gophermart's memory peak for the report.
	mainStopped := false
	stopMain := func() error {
		if mainStopped {
			return nil
		}
		mainStopped = true
		rep.RSS = append([]RSSPeak{b.rss.finish("gophermart")}, rep.RSS...)
		b.c.CloseIdleConnections()
		var errs []error
		for _, p := range []*proc{gm, acc} {
			if serr := p.stop(); serr != nil {
				errs = append(errs, fmt.Errorf("%w; log:\n%s", serr, p.tail(20)))
			}
		}
		return errors.Join(errs...)
	}
	for _, name := range cfg.scenarios {
		if ctx.Err() != nil {
			break
		}
		logf("scenario %s", name)
		if name == "sqlite-upload" {
			err = errors.Join(err, stopMain())
		} else if mainStopped {
			rep.Results = append(rep.Results, failed(name, errors.New("the main servers were stopped for sqlite-upload; run it last")))
			continue
		}
		b.rss.mark()
		res := b.scenario(ctx, name, pgb)
		if onMainServer(name) && !mainStopped && res.Failed == "" {
			res.PeakRSSMiB = b.rss.windowPeak()
		}
		logf("  %s", strings.Join(res.row(), "  "))
		rep.Results = append(rep.Results, res)
	}
	// Stop the servers now, so that an unclean exit is reported with this run.
	err = errors.Join(err, stopMain())
	rep.RSS = append(rep.RSS, b.rssPeaks...)
	err = errors.Join(err, errors.Join(b.stopErrs...))
	if ctx.Err() != nil {
		err = errors.Join(err, errors.New("interrupted"))
	}
	return rep, err
}

// onMainServer reports whether scenario name loads the main gophermart (whose memory its row shows)
// rather than a server of its own or none.
func onMainServer(name string) bool {
	switch name {
	case pgbenchName, pgbenchEndName, ceilingName, ceilingEndName, "floor-balance", "floor-list", "floor-upload",
		"processed-latency", "sqlite-upload":
		return false
	}
	return true
}

// scenario runs one scenario by name.
func (b *bench) scenario(ctx context.Context, name string, pgb *pgbenchDB) Result {
	switch name {
	case pgbenchName, pgbenchEndName:
		if pgb == nil {
			return failed(name, errors.New("no pgbench database"))
		}
		return pgb.run(ctx, name, b.cfg.concurrency, b.cfg.duration)
	case ceilingName, ceilingEndName:
		return b.runCeiling(ctx, name)
	case "healthz":
		return b.healthz(ctx)
	case "register":
		return b.registerLoad(ctx)
	case "login":
		return b.loginLoad(ctx)
	case "floor-balance", "balance", "upload":
		tokens, err := b.workers(ctx)
		if err != nil {
			return failed(name, err)
		}
		switch name {
		case "floor-balance":
			return b.runFloor(ctx, name, "/api/user/balance", tokens)
		case "balance":
			return b.balanceLoad(ctx, tokens)
		default:
			return b.uploadLoad(ctx, tokens)
		}
	case "floor-list", "list":
		tokens, err := b.listers(ctx)
		if err != nil {
			return failed(name, err)
		}
		if name == "floor-list" {
			return b.runFloor(ctx, name, "/api/user/orders", tokens)
		}
		return b.listLoad(ctx, tokens)
	case "floor-upload":
		tokens, err := b.users(ctx, "floor-upload", b.cfg.concurrency)
		if err != nil {
			return failed(name, err)
		}
		return b.runFloor(ctx, name, "", tokens)
	case "withdraw":
		return b.withdrawLoad(ctx)
	case "drain":
		return b.drain(ctx, name, true)
	case "drain-cold":
		return b.drain(ctx, name, false)
	case "processed-latency":
		return b.processedLatency(ctx)
	case "sqlite-upload":
		return b.sqliteUpload(ctx)
	}
	return failed(name, errors.New("unknown scenario"))
}

// runCeiling starts the ceiling server (this program in its -serve-ceiling mode), loads it and stops it.
func (b *bench) runCeiling(ctx context.Context, name string) (res Result) {
	addr, err := freeAddr()
	if err != nil {
		return failed(name, err)
	}
	p, err := startProc(name, b.self, b.tmp, map[string]string{"RUN_ADDRESS": addr}, "-serve-ceiling", addr)
	if err != nil {
		return failed(name, err)
	}
	w := watchRSS(p.cmd.Process.Pid)
	restore := b.use(target{gm: b.gm, acc: b.acc, cpu: b.cpu.with(p.cmd.Process.Pid), rss: w})
	defer func() {
		restore()
		b.c.CloseIdleConnections() // a graceful shutdown waits for keep-alive connections to close
		_ = p.stop()
	}()
	if err := p.waitReady(ctx, acceptsConnections(addr)); err != nil {
		return failed(name, err)
	}
	res = b.ceiling(ctx, name, "http://"+addr)
	res.PeakRSSMiB = w.finish(name).PeakMiB
	return res
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
