package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"time"
)

// profileSeconds is the length of a scenario's CPU profile: its measured window, in whole seconds
// (net/http/pprof takes an integer), at least one.
func profileSeconds(window time.Duration) int {
	return max(int((window+time.Second-1)/time.Second), 1)
}

// startProfile takes a CPU profile of the gophermart under load over the measured window of the
// scenario that starts now, into -profile DIR/<name>.pprof, and a heap profile at its end, into
// DIR/<name>.heap.pprof, when profiling. The returned wait blocks until both are written and returns
// what went wrong, if anything.
func (b *bench) startProfile(ctx context.Context, name string) (wait func() error) {
	if b.cfg.profileDir == "" || b.pprof == "" {
		return func() error { return nil }
	}
	secs := profileSeconds(b.cfg.duration)
	url := b.pprof + "/debug/pprof/profile?seconds=" + strconv.Itoa(secs)
	path := filepath.Join(b.cfg.profileDir, name+".pprof")
	from := time.Now().Add(b.cfg.warmup)
	done := make(chan error, 1)
	go func() {
		if !sleepUntil(ctx, from) {
			done <- ctx.Err()
			return
		}
		err := fetchProfile(ctx, url, path, time.Duration(secs)*time.Second+30*time.Second)
		heap := filepath.Join(b.cfg.profileDir, name+".heap.pprof")
		done <- errors.Join(err, fetchProfile(ctx, b.pprof+"/debug/pprof/heap", heap, 30*time.Second))
	}()
	return func() error { return <-done }
}

// fetchProfile GETs url and writes the body to path.
func fetchProfile(ctx context.Context, url, path string, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return fmt.Errorf("profile request: %w", err)
	}
	c := &http.Client{Transport: &http.Transport{Proxy: nil}}
	defer c.CloseIdleConnections()
	resp, err := c.Do(req)
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	defer func() { _ = resp.Body.Close() }()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("profile: status %d: %s", resp.StatusCode, msg)
	}
	f, err := os.Create(path) // #nosec G304 -- the -profile directory of whoever runs the benchmark
	if err != nil {
		return fmt.Errorf("profile: %w", err)
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		_ = f.Close()
		return fmt.Errorf("profile: write %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("profile: write %s: %w", path, err)
	}
	return nil
}
