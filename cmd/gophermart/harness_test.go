//go:build e2e

package main

import (
	"os"
	"strings"
	"testing"

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
