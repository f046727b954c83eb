// Package proctest runs this repository's binaries as processes for end-to-end tests, exactly as
// the public acceptance tests do: built once per test run, started with no arguments and an explicit
// environment, waited for, and stopped with a signal whose exit code is checked.
package proctest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

var (
	buildMu sync.Mutex
	binDir  string
	built   = map[string]error{}
)

// Build builds ./cmd/<name> of this module once per test run, with the race detector when race is
// set, and returns the binary's path. Call Cleanup from TestMain to remove it afterwards.
func Build(tb testing.TB, name string, race bool) string {
	tb.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if binDir == "" {
		dir, err := os.MkdirTemp("", "gophermart-bin-")
		require.NoError(tb, err)
		binDir = dir
	}
	out := filepath.Join(binDir, fmt.Sprintf("%s-race=%t", name, race))
	err, done := built[out]
	if !done {
		args := []string{"build", "-o", out}
		if race {
			args = append(args, "-race")
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", append(args, "github.com/gophermart/gophermart/cmd/"+name)...) //nolint:gosec // builds one of our own commands
		if msg, berr := cmd.CombinedOutput(); berr != nil {
			err = fmt.Errorf("build %s: %w\n%s", name, berr, msg)
		}
		built[out] = err
	}
	require.NoError(tb, err)
	return out
}

// Cleanup removes the binaries Build made; call it from TestMain after m.Run.
func Cleanup() {
	buildMu.Lock()
	defer buildMu.Unlock()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
}

// FreeAddr returns a loopback address whose port nobody listens on right now.
func FreeAddr(tb testing.TB) string {
	tb.Helper()
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	addr := ln.Addr().String()
	require.NoError(tb, ln.Close())
	return addr
}

// Proc is a running binary with its output captured.
type Proc struct {
	tb     testing.TB
	cmd    *exec.Cmd
	out    *syncBuffer // stdout and stderr
	errOut *syncBuffer // stderr alone
	done   chan struct{}
	// Addr is the RUN_ADDRESS it was given.
	Addr string
}

// Start runs bin in dir with args and exactly env (plus PATH and HOME: nothing of the test's own
// environment leaks in), and kills it at cleanup if it is still running; a failed test logs its output.
func Start(tb testing.TB, bin, dir string, env map[string]string, args ...string) *Proc {
	tb.Helper()
	cmd := exec.Command(bin, args...) //nolint:gosec,noctx // a binary this package built; stopped by signal
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &Proc{tb: tb, cmd: cmd, out: &syncBuffer{}, errOut: &syncBuffer{}, Addr: env["RUN_ADDRESS"], done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, io.MultiWriter(p.out, p.errOut)
	require.NoError(tb, cmd.Start())
	go func() { _ = cmd.Wait(); close(p.done) }()
	tb.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if tb.Failed() {
			tb.Logf("%s output:\n%s", filepath.Base(bin), p.out.String())
		}
	})
	return p
}

// Output is everything the process wrote so far, stdout and stderr together.
func (p *Proc) Output() string { return p.out.String() }

// Stderr is what the process wrote to stderr so far.
func (p *Proc) Stderr() string { return p.errOut.String() }

// Exited is closed when the process has exited.
func (p *Proc) Exited() <-chan struct{} { return p.done }

// WaitHTTP waits until GET path answers below 500, failing if the process exits or a minute passes.
func (p *Proc) WaitHTTP(path string) {
	p.tb.Helper()
	p.waitFor(func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		defer cancel()
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.Addr+path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		_ = resp.Body.Close()
		return resp.StatusCode < 500
	})
}

// WaitListening waits until the process accepts connections, failing if it exits or a minute passes.
func (p *Proc) WaitListening() {
	p.tb.Helper()
	p.waitFor(func() bool {
		conn, err := (&net.Dialer{Timeout: time.Second}).DialContext(context.Background(), "tcp", p.Addr)
		if err != nil {
			return false
		}
		_ = conn.Close()
		return true
	})
}

func (p *Proc) waitFor(ready func() bool) {
	p.tb.Helper()
	deadline := time.Now().Add(time.Minute)
	for !ready() {
		select {
		case <-p.done:
			p.tb.Fatalf("process exited early (%v):\n%s", p.cmd.ProcessState, p.out.String())
		default:
		}
		if time.Now().After(deadline) {
			p.tb.Fatalf("%s not ready after a minute:\n%s", p.Addr, p.out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Signal sends sig (SIGKILL to simulate a crash) without waiting.
func (p *Proc) Signal(sig syscall.Signal) {
	p.tb.Helper()
	require.NoError(p.tb, p.cmd.Process.Signal(sig))
}

// Stop sends sig and returns the exit code, failing if the process does not exit within 30 s.
func (p *Proc) Stop(sig syscall.Signal) int {
	p.tb.Helper()
	require.NoError(p.tb, p.cmd.Process.Signal(sig))
	return p.Wait(30 * time.Second)
}

// Wait waits for the process to exit on its own and returns its exit code, failing after d.
func (p *Proc) Wait(d time.Duration) int {
	p.tb.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		p.tb.Fatalf("process did not exit within %s:\n%s", d, p.out.String())
	}
	return p.cmd.ProcessState.ExitCode()
}

// Run runs bin to completion with env and args, returning its exit code and output.
func Run(tb testing.TB, bin, dir string, env map[string]string, args ...string) (int, string) {
	tb.Helper()
	p := Start(tb, bin, dir, env, args...)
	return p.Wait(time.Minute), p.Output()
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(b []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(b)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
