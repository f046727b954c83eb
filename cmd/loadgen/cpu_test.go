package main

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseStatCPU(t *testing.T) {
	tests := []struct {
		name   string
		give   string
		want   int64
		wantOK bool
	}{
		{
			name:   "plain",
			give:   "1234 (gophermart) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 75 0 0 20 0 9 0 100 2000000 300",
			want:   325,
			wantOK: true,
		},
		{
			name:   "command with spaces and parentheses",
			give:   "77 (a (b) c) R 1 77 77 0 -1 0 0 0 0 0 7 3 0 0 20 0 1 0 1 1 1",
			want:   10,
			wantOK: true,
		},
		{name: "no command", give: "1234 S 1 2 3", wantOK: false},
		{name: "truncated", give: "1 (x) S 1 2 3 4 5", wantOK: false},
		{name: "not a number", give: "1 (x) S 1 1 1 0 -1 0 0 0 0 0 u s 0 0 20 0 1 0 1 1 1", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseStatCPU(tt.give)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestParseMachine(t *testing.T) {
	tests := []struct {
		name   string
		give   string
		want   machineTicks
		wantOK bool
	}{
		// user nice system idle iowait irq softirq steal guest guest_nice
		{
			name: "ten fields", give: "cpu  100 5 50 1000 20 3 7 0 40 2\ncpu0 1 2 3 4 5 6 7 8 9 10\n",
			want: machineTicks{busy: 165, irq: 10}, wantOK: true,
		},
		{name: "seven fields (old kernel)", give: "cpu 100 5 50 1000 20 3 7\n", want: machineTicks{busy: 165, irq: 10}, wantOK: true},
		{name: "not the total line", give: "cpu0 100 5 50 1000 20 3 7\n"},
		{name: "garbage", give: "cpu 1 x 3 4 5 6 7\n"},
		{name: "too short", give: "cpu 1 2 3 4\n"},
		{name: "empty", give: ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseMachine(tt.give)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestFillCPU(t *testing.T) {
	res := Result{Count: 1000}
	fillCPU(&res,
		cpuSample{
			server: 10 * time.Second, accrual: time.Second, self: 4 * time.Second,
			pg:      map[int]time.Duration{1: 3 * time.Second, 2: 5 * time.Second}, // 2 exits in the window
			machine: 100 * time.Second, irq: 20 * time.Second, ok: true,
		},
		cpuSample{
			server: 15 * time.Second, accrual: 1500 * time.Millisecond, self: 6 * time.Second,
			pg:      map[int]time.Duration{1: 4 * time.Second, 3: 500 * time.Millisecond}, // 3 starts in it
			machine: 110 * time.Second, irq: 20500 * time.Millisecond, ok: true,
		},
		5*time.Second)
	require.NotNil(t, res.CPU)
	c := *res.CPU
	assert.InDelta(t, 1.0, c.Server, 1e-9)
	assert.InDelta(t, 0.1, c.Accrual, 1e-9)
	assert.InDelta(t, 0.3, c.Postgres, 1e-9) // 1 s of pid 1 and 0.5 s of pid 3
	assert.InDelta(t, 0.4, c.Loadgen, 1e-9)
	assert.InDelta(t, 0.1, c.IRQ, 1e-9)
	assert.InDelta(t, 2.0, c.Machine, 1e-9)
	assert.InDelta(t, 0.1, c.Other, 1e-9)
	assert.InDelta(t, 5000.0, c.ServerUsPerOp, 1e-9)

	none := Result{Count: 1000}
	fillCPU(&none, cpuSample{}, cpuSample{server: time.Second, ok: true}, time.Second)
	assert.Nil(t, none.CPU, "no sample, no numbers")
}

func TestCPUTimeOfThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/stat"); err != nil {
		t.Skip("no /proc on this system")
	}
	before, ok := cpuTime(os.Getpid())
	require.True(t, ok)
	x := 0
	for deadline := time.Now().Add(2 * time.Second); time.Now().Before(deadline); { // burn a few ticks
		for i := range 1_000_000 {
			x ^= i
		}
		if after, _ := cpuTime(os.Getpid()); after > before {
			return
		}
	}
	t.Fatalf("CPU time did not grow after 2 s of work (%d)", x)
}
