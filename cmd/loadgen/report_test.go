package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func sampleReport() *Report {
	return &Report{
		Machine: Machine{
			Date: "2025-01-02T03:04:05Z", NumCPU: 2, GOMAXPROCS: 2, GoVersion: "go1.26.8", OS: "linux/amd64",
			CPUModel: "Test CPU", Postgres: "15.4", Commit: "abc1234",
		},
		Settings: Settings{Concurrency: 16, DurationS: 5, WarmupS: 1, Orders: 2000},
		Results: []Result{
			{Scenario: "ceiling", Unit: "req/s", Count: 100000, Seconds: 5, PerSec: 20000, P50Ms: 0.5, P99Ms: 2.25},
			{Scenario: "balance", Unit: "req/s", Count: 25000, Seconds: 5, PerSec: 5000, P50Ms: 3.04, P99Ms: 12.5},
			{
				Scenario: "withdraw", Unit: "req/s", Count: 5000, Seconds: 5, PerSec: 1000, P50Ms: 15, P99Ms: 123.4,
				Errors: 3, ErrorKinds: map[string]int{"status 500": 2, "timeout": 1},
			},
			{Scenario: "drain", Unit: "orders/s", Count: 2000, Seconds: 4, PerSec: 500, P50Ms: 700, P99Ms: 1500, Note: "2000 orders"},
			{Scenario: "list", Failed: "3 of 100 orders PROCESSED"},
		},
	}
}

func TestFillRatios(t *testing.T) {
	r := sampleReport()
	r.fillRatios()
	assert.InDelta(t, 1.0, r.Results[0].Ratio, 1e-9)
	assert.InDelta(t, 0.25, r.Results[1].Ratio, 1e-9)
	assert.InDelta(t, 0.05, r.Results[2].Ratio, 1e-9)
	assert.InDelta(t, 0.025, r.Results[3].Ratio, 1e-9)
	assert.Zero(t, r.Results[4].Ratio, "a failed scenario has no ratio")

	noCeiling := &Report{Results: []Result{{Scenario: "balance", PerSec: 10}}}
	noCeiling.fillRatios()
	assert.Zero(t, noCeiling.Results[0].Ratio)
}

func TestRow(t *testing.T) {
	r := sampleReport()
	r.fillRatios()
	assert.Equal(t, []string{"balance", "5000.0 req/s", "3.0 ms", "12.5 ms", "25000", "0", "25.0 %", "-", "-"}, r.Results[1].row())
	assert.Equal(t, []string{
		"withdraw", "1000.0 req/s", "15.0 ms", "123 ms", "5000", "3 (status 500: 2, timeout: 1)", "5.0 %", "-", "-",
	}, r.Results[2].row())
	assert.Equal(t, "0.500 ms", r.Results[0].row()[2])
	assert.Equal(t, "failed: 3 of 100 orders PROCESSED", r.Results[4].row()[1])
}

func TestFormatRatio(t *testing.T) {
	assert.Equal(t, "-", formatRatio(0))
	assert.Equal(t, "100.0 %", formatRatio(1))
	assert.Equal(t, "0.3 %", formatRatio(0.0034))
}

func TestWriteTable(t *testing.T) {
	r := sampleReport()
	r.fillRatios()
	var buf bytes.Buffer
	require.NoError(t, r.writeTable(&buf))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 2+len(r.Results))
	assert.Contains(t, lines[0], "nproc 2")
	assert.Contains(t, lines[0], "go1.26.8")
	assert.Contains(t, lines[0], "PostgreSQL 15.4")
	assert.Contains(t, lines[0], "concurrency 16, duration 5s, warm-up 1s, drain orders 2000")
	assert.True(t, strings.HasPrefix(lines[1], "scenario"), lines[1])
	// Columns are aligned: "throughput" starts where every row's second cell starts.
	col := strings.Index(lines[1], "throughput")
	assert.Equal(t, "20000.0", lines[2][col:col+7])
	assert.Equal(t, "5000.0 ", lines[3][col:col+7])
}

func TestMarkdown(t *testing.T) {
	r := sampleReport()
	r.fillRatios()
	md := r.markdown()
	assert.Contains(t, md, "| scenario | throughput | p50 | p99 | ok | errors | ratio | server CPU/op | busy cores |\n"+
		"| --- | --- | --- | --- | --- | --- | --- | --- | --- |\n")
	assert.Contains(t, md, "| balance | 5000.0 req/s | 3.0 ms | 12.5 ms | 25000 | 0 | 25.0 % | - | - |\n")
	assert.Contains(t, md, "| drain | 500.0 orders/s | 700 ms | 1500 ms | 2000 | 0 | 2.5 % | - | - |\n")
	assert.Contains(t, md, "- drain: 2000 orders\n")
	assert.Contains(t, md, "nproc 2")
}

func TestMarkdownEscapesPipes(t *testing.T) {
	r := &Report{Results: []Result{{Scenario: "x", Failed: "a|b"}}}
	assert.Contains(t, r.markdown(), `| x | failed: a\|b |`)
}

func TestOutputPaths(t *testing.T) {
	j, m := outputPaths("bench-results.json")
	assert.Equal(t, "bench-results.json", j)
	assert.Equal(t, "bench-results.md", m)
	j, m = outputPaths("out/run1")
	assert.Equal(t, "out/run1.json", j)
	assert.Equal(t, "out/run1.md", m)
}

func TestWriteFiles(t *testing.T) {
	r := sampleReport()
	r.fillRatios()
	out := filepath.Join(t.TempDir(), "sub", "res.json")
	require.NoError(t, r.writeFiles(out))

	data, err := os.ReadFile(out)
	require.NoError(t, err)
	var back Report
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Equal(t, *r, back)
	assert.Contains(t, string(data), `"ratio_to_ceiling": 0.25`)
	assert.Contains(t, string(data), `"nproc": 2`)

	md, err := os.ReadFile(filepath.Join(filepath.Dir(out), "res.md"))
	require.NoError(t, err)
	assert.Equal(t, r.markdown(), string(md))
}

func TestFillRatiosUsesTheBetterCeiling(t *testing.T) {
	r := &Report{Results: []Result{
		{Scenario: ceilingName, PerSec: 8000},
		{Scenario: "balance", PerSec: 2000},
		{Scenario: ceilingEndName, PerSec: 10000},
	}}
	r.fillRatios()
	assert.InDelta(t, 0.8, r.Results[0].Ratio, 1e-9)
	assert.InDelta(t, 0.2, r.Results[1].Ratio, 1e-9)
	assert.InDelta(t, 1.0, r.Results[2].Ratio, 1e-9)

	r = &Report{Results: []Result{
		{Scenario: ceilingName, PerSec: 8000},
		{Scenario: "balance", PerSec: 2000},
		{Scenario: ceilingEndName, Failed: "interrupted", PerSec: 1e9},
	}}
	r.fillRatios()
	assert.InDelta(t, 0.25, r.Results[1].Ratio, 1e-9, "a failed ceiling is ignored")
}

func TestRowCPUColumns(t *testing.T) {
	res := Result{Scenario: "balance", Unit: "req/s", Count: 10, PerSec: 2, CPU: &CPU{
		ServerUsPerOp: 312.4, Server: 1.054, Postgres: 0.3, Accrual: 0.001, Loadgen: 0.4, IRQ: 0.1, Other: 0.05, Machine: 1.9,
	}}
	row := res.row()
	require.Len(t, row, len(header))
	assert.Equal(t, "312 µs", row[7])
	assert.Equal(t, "1.90 = srv 1.05, pg 0.30, acc 0.00, gen 0.40, irq 0.10, other 0.05", row[8])
	res.CPU = nil
	assert.Equal(t, []string{"-", "-"}, res.row()[7:])
}

func TestFillRatiosToPgbenchAndFloor(t *testing.T) {
	r := &Report{Results: []Result{
		{Scenario: pgbenchName, Unit: "tx/s", PerSec: 8000},
		{Scenario: ceilingName, Unit: "req/s", PerSec: 40000},
		{Scenario: "floor-balance", Unit: "req/s", PerSec: 6000},
		{Scenario: "balance", Unit: "req/s", PerSec: 4000},
		{Scenario: "list", Unit: "req/s", PerSec: 1600},
		{Scenario: "drain", Unit: "orders/s", PerSec: 1000},
		{Scenario: "processed-latency", Unit: "orders/s", PerSec: 6, LatencyOnly: true},
		{Scenario: pgbenchEndName, Unit: "tx/s", PerSec: 10000},
		{Scenario: "floor-upload", Failed: "interrupted"},
		{Scenario: "upload", Unit: "req/s", PerSec: 2000},
	}}
	r.fillRatios()
	byName := map[string]Result{}
	for _, res := range r.Results {
		byName[res.Scenario] = res
	}
	assert.InDelta(t, 0.8, byName[pgbenchName].RatioPgbench, 1e-9, "to the better pgbench run")
	assert.InDelta(t, 1.0, byName[pgbenchEndName].RatioPgbench, 1e-9)
	assert.InDelta(t, 0.4, byName["balance"].RatioPgbench, 1e-9)
	assert.InDelta(t, 4000.0/6000, byName["balance"].RatioFloor, 1e-9)
	assert.Equal(t, "floor-balance", byName["balance"].Floor)
	assert.InDelta(t, 0.1, byName["balance"].Ratio, 1e-9)
	assert.InDelta(t, 0.16, byName["list"].RatioPgbench, 1e-9)
	assert.Zero(t, byName["list"].RatioFloor, "no floor-list measured")
	assert.Zero(t, byName["upload"].RatioFloor, "a failed floor gives no ratio")
	assert.Empty(t, byName["upload"].Floor)
	assert.Zero(t, byName["drain"].RatioPgbench, "orders/s are no transactions")
	assert.InDelta(t, 0.025, byName["drain"].Ratio, 1e-9, "the ceiling ratio stays for every row")
	pl := byName["processed-latency"]
	assert.Zero(t, pl.Ratio+pl.RatioPgbench+pl.RatioFloor, "a latency scenario gets no ratios")

	noPgbench := &Report{Results: []Result{{Scenario: "balance", Unit: "req/s", PerSec: 10}}}
	noPgbench.fillRatios()
	assert.Zero(t, noPgbench.Results[0].RatioPgbench)
}

func TestRatioRow(t *testing.T) {
	res := Result{
		Scenario: "balance", Unit: "req/s", PerSec: 3904.2, P50Ms: 3.04, P99Ms: 25, MaxMs: 130.2,
		RatioPgbench: 0.48, RatioFloor: 0.6857, Ratio: 0.0873, PeakRSSMiB: 131.04,
	}
	assert.Equal(t, []string{
		"balance", "3904.2 req/s", "3.0 ms", "25.0 ms", "130 ms", "0.48", "0.69", "0.087", "131.0 MiB",
	}, res.ratioRow())
	assert.Equal(t, []string{"pgbench", "8000.0 tx/s", "-", "-", "-", "1.00", "-", "-", "-"},
		Result{Scenario: "pgbench", Unit: "tx/s", PerSec: 8000, RatioPgbench: 1}.ratioRow())
	assert.Equal(t, "failed: x", Result{Scenario: "list", Failed: "x"}.ratioRow()[1])
	require.Len(t, res.ratioRow(), len(ratioHeader))
}

func TestWriteRatiosAndMarkdownCarryBothTables(t *testing.T) {
	r := sampleReport()
	r.RSS = []RSSPeak{{Process: "gophermart", StartMiB: 40.5, PeakMiB: 131.2, HWMMiB: 133.9, Samples: 900}}
	r.fillRatios()
	var buf bytes.Buffer
	require.NoError(t, r.writeRatios(&buf))
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	require.Len(t, lines, 1+len(r.Results)+2, "header, rows, blank line, memory line")
	assert.Contains(t, lines[0], "× pgbench -S")
	assert.Equal(t, "peak RSS (sampled every 100 ms): gophermart 131.2 MiB (VmHWM 133.9 MiB, 40.5 MiB when ready)", lines[len(lines)-1])
	md := r.markdown()
	assert.Contains(t, md, "| scenario | throughput | p50 | p99 | max | × pgbench -S | × floor | × ceiling | peak RSS |")
	assert.Contains(t, md, "| scenario | throughput | p50 | p99 | ok | errors | ratio | server CPU/op | busy cores |")
	assert.Contains(t, md, "gophermart 131.2 MiB")
}
