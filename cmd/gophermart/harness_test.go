//go:build e2e

package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// The end-to-end tests run the real binaries as processes, exactly as the public acceptance tests
// do: no arguments, configuration only through RUN_ADDRESS, DATABASE_URI and ACCRUAL_SYSTEM_ADDRESS.

var (
	buildMu  sync.Mutex
	binDir   string
	builtBin = map[string]error{}
)

// binary builds the named command of this repository once per test run (gophermart with the race
// detector) and returns its path.
func binary(t *testing.T, name string) string {
	t.Helper()
	buildMu.Lock()
	defer buildMu.Unlock()
	if binDir == "" {
		dir, err := os.MkdirTemp("", "gophermart-e2e-")
		require.NoError(t, err)
		binDir = dir
	}
	out := filepath.Join(binDir, name)
	err, done := builtBin[name]
	if !done {
		args := []string{"build", "-o", out}
		if name == "gophermart" {
			args = append(args, "-race")
		}
		cmd := exec.Command("go", append(args, "github.com/gophermart/gophermart/cmd/"+name)...)
		if msg, berr := cmd.CombinedOutput(); berr != nil {
			err = fmt.Errorf("build %s: %w\n%s", name, berr, msg)
		}
		builtBin[name] = err
	}
	require.NoError(t, err)
	return out
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		_ = os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// freeAddr returns a loopback address with a port nobody listens on right now.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return addr
}

// proc is a running binary with its output captured.
type proc struct {
	t    *testing.T
	cmd  *exec.Cmd
	out  *syncBuffer
	addr string
	done chan struct{}
	err  error
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// start runs bin with exactly env (plus PATH and HOME) and args, in dir, and kills it at cleanup.
func start(t *testing.T, bin, dir string, env map[string]string, args ...string) *proc {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	p := &proc{t: t, cmd: cmd, out: &syncBuffer{}, addr: env["RUN_ADDRESS"], done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = p.out, p.out
	require.NoError(t, cmd.Start())
	go func() { p.err = cmd.Wait(); close(p.done) }()
	t.Cleanup(func() {
		select {
		case <-p.done:
		default:
			_ = cmd.Process.Kill()
			<-p.done
		}
		if t.Failed() {
			t.Logf("%s output:\n%s", filepath.Base(bin), p.out.String())
		}
	})
	return p
}

// waitReady waits until GET path on the process answers 200, or fails after a deadline.
func (p *proc) waitReady(path string) {
	p.t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		select {
		case <-p.done:
			p.t.Fatalf("process exited early (%v):\n%s", p.err, p.out.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+p.addr+path, nil)
		resp, err := http.DefaultClient.Do(req)
		cancel()
		if err == nil {
			_ = resp.Body.Close()
			if resp.StatusCode < 500 {
				return
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	p.t.Fatalf("%s not ready after 60s:\n%s", p.addr, p.out.String())
}

// stop sends sig and returns the exit code, failing the test if the process does not exit in time.
func (p *proc) stop(sig syscall.Signal) int {
	p.t.Helper()
	require.NoError(p.t, p.cmd.Process.Signal(sig))
	return p.wait(30 * time.Second)
}

// wait waits for the process to exit on its own and returns its exit code.
func (p *proc) wait(d time.Duration) int {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(d):
		p.t.Fatalf("process did not exit within %s:\n%s", d, p.out.String())
	}
	return p.cmd.ProcessState.ExitCode()
}

// run runs bin to completion with env and args, returning its exit code and output.
func run(t *testing.T, bin, dir string, env map[string]string, args ...string) (int, string) {
	t.Helper()
	p := start(t, bin, dir, env, args...)
	code := p.wait(60 * time.Second)
	return code, p.out.String()
}

func containsLine(out, s string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}
