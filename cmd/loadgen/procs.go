package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gophermart/gophermart/modules/platform/db"
)

// modulePath is this repository's module; binaries are built from its cmd/ packages.
const modulePath = "github.com/gophermart/gophermart"

// buildBinary builds cmd/name of this module into dir (no race detector, CGO off, as `make build`)
// and returns the binary's path.
func buildBinary(ctx context.Context, dir, name string) (string, error) {
	out := filepath.Join(dir, name)
	// #nosec G204 -- fixed program and package path; out is our own temporary directory.
	cmd := exec.CommandContext(ctx, "go", "build", "-o", out, modulePath+"/cmd/"+name)
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("build %s: %w\n%s", name, err, msg)
	}
	return out, nil
}

// freeAddr returns a loopback address whose port nobody listens on right now.
func freeAddr() (string, error) {
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	addr := ln.Addr().String()
	return addr, ln.Close()
}

// proc is a running server process whose output goes to a log file.
type proc struct {
	name    string
	addr    string
	cmd     *exec.Cmd
	logPath string
	log     *os.File
	done    chan struct{}
	err     error // the Wait result, valid once done is closed
}

// startProc runs bin with no arguments (unless args are given) and exactly env plus PATH and HOME,
// like the acceptance tests do, in logDir, writing its output to logDir/<name>.log. Whatever files a
// server makes in its working directory (the default SQLite database) therefore stay in logDir.
func startProc(name, bin, logDir string, env map[string]string, args ...string) (*proc, error) {
	logPath := filepath.Join(logDir, name+".log")
	f, err := os.Create(logPath) // #nosec G304 -- our own temporary directory
	if err != nil {
		return nil, fmt.Errorf("create %s: %w", logPath, err)
	}
	// No context: a server is stopped by proc.stop, with SIGTERM, never killed by a cancellation.
	cmd := exec.CommandContext(context.Background(), bin, args...) // #nosec G204 -- a binary we just built, or ourselves
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Dir = logDir
	cmd.SysProcAttr = procAttr()
	if err := cmd.Start(); err != nil {
		_ = f.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, addr: env["RUN_ADDRESS"], cmd: cmd, logPath: logPath, log: f, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		_ = f.Close()
		close(p.done)
	}()
	return p, nil
}

// startGophermart starts gophermart in dir with env plus a free RUN_ADDRESS (and, when profiling, a
// free GOPHERMART_PPROF_ADDRESS) and waits for GET /readyz to answer 200. It returns the process
// (nil if it could not start; to be stopped by the caller otherwise) and the pprof base URL ("" when
// not profiling).
func (b *bench) startGophermart(ctx context.Context, name, dir string, env map[string]string) (*proc, string, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, "", err
	}
	env["RUN_ADDRESS"] = addr
	// The upload and drain scenarios give one user thousands of pending orders; the per-user cap
	// (1000 by default) would answer them 429, which is not what they measure.
	env["GOPHERMART_MAX_PENDING_ORDERS"] = "100000000"
	pprofURL := ""
	if b.cfg.profileDir != "" {
		paddr, err := freeAddr()
		if err != nil {
			return nil, "", err
		}
		env["GOPHERMART_PPROF_ADDRESS"] = paddr
		pprofURL = "http://" + paddr
	}
	p, err := startProc(name, b.gmBin, dir, env)
	if err != nil {
		return nil, "", err
	}
	if err := p.waitReady(ctx, answers200(b.c, "http://"+addr+"/readyz")); err != nil {
		return p, "", err
	}
	return p, pprofURL, nil
}

// readyTimeout bounds the wait for a server to come up.
const readyTimeout = 60 * time.Second

// waitReady waits until check succeeds, the process exits, or readyTimeout passes.
func (p *proc) waitReady(ctx context.Context, check func(ctx context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var last error
	for {
		select {
		case <-p.done:
			return errors.Join(fmt.Errorf("%s exited before it was ready; log:\n%s", p.name, p.tail(30)), p.err)
		default:
		}
		cctx, ccancel := context.WithTimeout(ctx, time.Second)
		last = check(cctx)
		ccancel()
		if last == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%s not ready after %s (%w); log:\n%s", p.name, readyTimeout, last, p.tail(30))
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// acceptsConnections checks that something accepts TCP connections on addr.
func acceptsConnections(addr string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		var d net.Dialer
		c, err := d.DialContext(ctx, "tcp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
}

// answers200 checks that GET url answers 200.
func answers200(c *http.Client, url string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		resp, err := do(ctx, c, request{method: http.MethodGet, url: url}, false)
		if err != nil {
			return err
		}
		if resp.status != http.StatusOK {
			return fmt.Errorf("GET %s: status %d", url, resp.status)
		}
		return nil
	}
}

// stopTimeout is how long a server gets to exit after SIGTERM before it is killed.
const stopTimeout = 20 * time.Second

// stop sends SIGTERM and waits for the exit; after stopTimeout it kills the process. It returns an
// error if the process had to be killed or exited with a non-zero code. Safe to call twice.
func (p *proc) stop() error {
	select {
	case <-p.done:
		return p.exitErr()
	default:
	}
	if err := p.cmd.Process.Signal(syscall.SIGTERM); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("signal %s: %w", p.name, err)
	}
	select {
	case <-p.done:
		return p.exitErr()
	case <-time.After(stopTimeout):
		_ = p.cmd.Process.Kill()
		<-p.done
		return fmt.Errorf("%s did not exit within %s of SIGTERM: killed", p.name, stopTimeout)
	}
}

func (p *proc) exitErr() error {
	if p.err != nil {
		return fmt.Errorf("%s exited: %w", p.name, p.err)
	}
	return nil
}

// tail returns the last n lines of the process's log.
func (p *proc) tail(n int) string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := bytes.Split(bytes.TrimRight(data, "\n"), []byte("\n"))
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return string(bytes.Join(lines, []byte("\n")))
}

// checkLoopback refuses an admin DSN whose host is not the local machine: all traffic of a run stays
// on 127.0.0.1.
func checkLoopback(dsn string) error {
	u, err := url.Parse(dsn)
	if err != nil {
		return fmt.Errorf("admin DSN: %w", err)
	}
	if u.Scheme != "postgres" && u.Scheme != "postgresql" {
		return fmt.Errorf("admin DSN: want postgres://, got %q", u.Scheme+"://")
	}
	switch u.Hostname() {
	case "127.0.0.1", "localhost", "::1":
		return nil
	}
	return fmt.Errorf("admin DSN: host %q is not loopback; the benchmark only talks to 127.0.0.1", u.Hostname())
}

// benchDB is the fresh database of one run.
type benchDB struct {
	admin string // admin DSN
	name  string
	uri   string // DSN of the fresh database
	conn  *db.DB // on the admin DSN, for backends
}

// createDB creates gmbench_<random> on the server of the admin DSN and returns it with the server's
// version.
func createDB(ctx context.Context, admin string) (*benchDB, string, error) {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "gmbench_" + hex.EncodeToString(b)
	a, err := db.Open(db.Config{URI: admin, MaxOpenConns: 1})
	if err != nil {
		return nil, "", fmt.Errorf("open admin database: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var version string
	if err := a.SQL().QueryRowContext(ctx, "SHOW server_version").Scan(&version); err != nil {
		_ = a.Close()
		return nil, "", fmt.Errorf("query server version: %w", err)
	}
	u, err := url.Parse(admin)
	if err != nil {
		_ = a.Close()
		return nil, "", fmt.Errorf("admin DSN: %w", err)
	}
	u.Path = "/" + name
	if _, err := a.SQL().ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		_ = a.Close()
		return nil, "", fmt.Errorf("create database %s: %w", name, err)
	}
	return &benchDB{admin: admin, name: name, uri: u.String(), conn: a}, strings.Fields(version)[0], nil
}

// readSetting returns the value of a gm_settings row in the database at uri.
func readSetting(ctx context.Context, uri, name string) (string, error) {
	d, err := db.Open(db.Config{URI: uri, MaxOpenConns: 1})
	if err != nil {
		return "", fmt.Errorf("open benchmark database: %w", err)
	}
	defer func() { _ = d.Close() }()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	var v string
	if err := d.SQL().QueryRowContext(ctx, "SELECT value FROM gm_settings WHERE name = $1", name).Scan(&v); err != nil {
		return "", fmt.Errorf("read setting %s: %w", name, err)
	}
	return v, nil
}

// backends returns the pids of the PostgreSQL backends connected to the database now (none on error).
func (d *benchDB) backends() []int {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	rows, err := d.conn.SQL().QueryContext(ctx, "SELECT pid FROM pg_stat_activity WHERE datname = $1", d.name)
	if err != nil {
		return nil
	}
	defer func() { _ = rows.Close() }()
	var pids []int
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) == nil {
			pids = append(pids, pid)
		}
	}
	if rows.Err() != nil {
		return nil
	}
	return pids
}

// drop removes the database, closing whatever connections are left, and closes the admin connection.
func (d *benchDB) drop() error {
	defer func() { _ = d.conn.Close() }()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := d.conn.SQL().ExecContext(ctx, "DROP DATABASE IF EXISTS "+d.name+" WITH (FORCE)"); err != nil {
		return fmt.Errorf("drop database %s: %w", d.name, err)
	}
	return nil
}
