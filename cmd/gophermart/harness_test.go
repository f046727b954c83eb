//go:build e2e

package main

import (
	"encoding/json"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gophermart/gophermart/modules/platform/proctest"
)

// The end-to-end tests run the real binaries as processes, exactly as the public acceptance tests
// do: no arguments, configuration only through RUN_ADDRESS, DATABASE_URI and ACCRUAL_SYSTEM_ADDRESS.

// binary builds the named command once per test run: gophermart with the race detector.
func binary(t *testing.T, name string) string {
	t.Helper()
	return proctest.Build(t, name, name == "gophermart")
}

func TestMain(m *testing.M) {
	code := m.Run()
	proctest.Cleanup()
	os.Exit(code)
}

var (
	freeAddr = proctest.FreeAddr
	start    = proctest.Start
	run      = proctest.Run
)

func containsLine(out, s string) bool {
	for _, l := range strings.Split(out, "\n") {
		if strings.Contains(l, s) {
			return true
		}
	}
	return false
}

// builtinAccrualAddr waits for the start log of p to name the built-in accrual service's URL and
// returns its host:port.
func builtinAccrualAddr(t *testing.T, p *proctest.Proc) string {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		for _, l := range strings.Split(p.Output(), "\n") {
			var rec struct {
				Msg string `json:"msg"`
				URL string `json:"url"`
			}
			if json.Unmarshal([]byte(l), &rec) != nil || !strings.Contains(rec.Msg, "built-in accrual service") {
				continue
			}
			u, err := url.Parse(rec.URL)
			if err != nil || u.Host == "" {
				t.Fatalf("built-in accrual service URL %q in %q", rec.URL, l)
			}
			return u.Host
		}
		if time.Now().After(deadline) {
			t.Fatalf("no built-in accrual service URL in the log:\n%s", p.Output())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
