//go:build e2e

package main

import (
	"bytes"
	"context"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The README's "Using it" block is what a newcomer pastes whole into a shell. It runs here as a
// script, twice in a row in one directory (the second run must start over by itself), with the
// binary built for the tests, on free ports; every answer it prints is the one the README shows.
func TestE2EReadmeQuickStart(t *testing.T) {
	if _, err := exec.LookPath("curl"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("the README's quick start needs curl")
		}
		t.Skip("the README's quick start needs curl")
	}
	block, want := quickStart(t)
	dir := t.TempDir()
	require.NoError(t, os.Mkdir(filepath.Join(dir, "bin"), 0o750))
	require.NoError(t, os.Symlink(binary(t, "gophermart"), filepath.Join(dir, "bin", "gophermart")))
	_, apiPort, err := net.SplitHostPort(freeAddr(t))
	require.NoError(t, err)
	_, accrualPort, err := net.SplitHostPort(freeAddr(t))
	require.NoError(t, err)
	script := strings.NewReplacer(
		"go build -o bin/gophermart ./cmd/gophermart", "true # built by the test",
		"localhost:8080", "localhost:"+apiPort,
		"127.0.0.1:8081", "127.0.0.1:"+accrualPort,
	).Replace(block)
	require.NotEqual(t, block, script)
	require.Contains(t, script, "true # built by the test", "the README builds bin/gophermart")

	for run := 1; run <= 2; run++ {
		stdout, stderr, err := runScript(t, dir, script, map[string]string{"RUN_ADDRESS": "localhost:" + apiPort})
		require.NoError(t, err, "run %d\nstdout:\n%s\nstderr:\n%s", run, stdout, stderr)
		got := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
		require.Len(t, got, len(want), "run %d: one line per answer shown in README\nstdout:\n%s\nstderr:\n%s", run, stdout, stderr)
		for i, w := range want {
			assert.Regexp(t, w, got[i], "run %d, answer %d", run, i+1)
		}
		assert.Contains(t, stderr, "gophermart started", "run %d: the start line", run)
		assert.Contains(t, stderr, `"msg":"stopped"`, "run %d: the stop line", run)
	}
}

// quickStart returns the shell block between the quickstart markers of README.md and, as anchored
// patterns, the answers it shows in its "# → " comments ("…" stands for anything).
func quickStart(t *testing.T) (string, []*regexp.Regexp) {
	t.Helper()
	raw, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	_, after, ok := strings.Cut(string(raw), "<!-- quickstart")
	require.True(t, ok, "README.md has a <!-- quickstart --> marker")
	block, _, ok := strings.Cut(after, "<!-- /quickstart -->")
	require.True(t, ok, "README.md has a <!-- /quickstart --> marker")
	_, block, ok = strings.Cut(block, "```sh\n")
	require.True(t, ok, "a sh block follows the marker")
	block, _, ok = strings.Cut(block, "```")
	require.True(t, ok)
	var want []*regexp.Regexp
	for _, line := range strings.Split(block, "\n") {
		if answer, ok := strings.CutPrefix(line, "# → "); ok {
			parts := strings.Split(answer, "…")
			for i, p := range parts {
				parts[i] = regexp.QuoteMeta(p)
			}
			want = append(want, regexp.MustCompile("^"+strings.Join(parts, ".*")+"$"))
		}
	}
	require.NotEmpty(t, want, "the block shows its answers")
	return block, want
}

// runScript runs script with bash -e in dir, with PATH, HOME and env only, in a process group of
// its own, which is killed at the end whatever happened, so that a failed run leaves no server
// behind.
func runScript(t *testing.T, dir, script string, env map[string]string) (string, string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-e", "-c", script)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Cancel = func() error { return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) }
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if cmd.Process != nil {
		if kerr := syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); kerr != nil && !errors.Is(kerr, syscall.ESRCH) {
			t.Logf("kill the script's process group: %v", kerr)
		}
	}
	return stdout.String(), stderr.String(), err
}
