package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Result is one scenario's measurement.
type Result struct {
	Scenario string `json:"scenario"`
	// Unit is what PerSec counts: "req/s" for request scenarios, "orders/s" for the accrual drain.
	Unit string `json:"unit"`
	// Count is how many requests (or orders) succeeded inside the measured window.
	Count int `json:"count"`
	// Errors counts transport failures and answers other than the scenario's expected statuses.
	Errors int `json:"errors"`
	// ErrorKinds counts errors by kind ("status 500", "transport"), for diagnosis.
	ErrorKinds map[string]int `json:"error_kinds,omitempty"`
	// Seconds is the measured window (warm-up excluded).
	Seconds float64 `json:"seconds"`
	// PerSec is Count / Seconds.
	PerSec float64 `json:"per_sec"`
	// P50Ms and P99Ms are latency percentiles of the successful requests, in milliseconds.
	P50Ms float64 `json:"p50_ms"`
	P99Ms float64 `json:"p99_ms"`
	// MaxMs is the slowest successful request (or order), in milliseconds.
	MaxMs float64 `json:"max_ms,omitempty"`
	// Ratio is PerSec divided by the ceiling scenario's PerSec (0 when there is no ceiling).
	Ratio float64 `json:"ratio_to_ceiling"`
	// RatioPgbench is PerSec divided by pgbench -S's transactions per second in the same run, for
	// request scenarios (0 when pgbench did not run).
	RatioPgbench float64 `json:"ratio_to_pgbench,omitempty"`
	// Floor names the scenario of this one's floor server, if it has one.
	Floor string `json:"floor,omitempty"`
	// RatioFloor is PerSec divided by the floor's PerSec (0 when there is none).
	RatioFloor float64 `json:"ratio_to_floor,omitempty"`
	// PeakRSSMiB is the highest resident set size of the server under load sampled during the
	// scenario (warm-up included), in MiB.
	PeakRSSMiB float64 `json:"peak_rss_mib,omitempty"`
	// LatencyOnly marks a scenario measured for its latency, whose rate is no throughput: it gets no
	// ratios.
	LatencyOnly bool `json:"latency_only,omitempty"`
	// AccrualRequests counts the GET /api/orders/{number} the accrual service got for the scenario's
	// orders, where it was counted.
	AccrualRequests int `json:"accrual_requests,omitempty"`
	// CPU is where the machine's CPU time went during the window (nil where /proc is missing).
	CPU *CPU `json:"cpu,omitempty"`
	// Failed is why the scenario could not be measured ("" when it was).
	Failed string `json:"failed,omitempty"`
	// Note says anything that qualifies the numbers.
	Note string `json:"note,omitempty"`
}

// CPU is the CPU time used during a scenario's window, divided by the window: how many cores each
// part kept busy. The machine has Machine.NumCPU cores in all.
type CPU struct {
	// ServerUsPerOp is the CPU time of the server under load (gophermart, or the ceiling server) per
	// successful request (or order), in microseconds.
	ServerUsPerOp float64 `json:"server_us_per_op"`
	Server        float64 `json:"server"`
	Accrual       float64 `json:"accrual"`
	// Postgres counts the backends serving the benchmark's database.
	Postgres float64 `json:"postgres"`
	Loadgen  float64 `json:"loadgen"`
	// IRQ is interrupt time, charged to no process: mostly the loopback traffic of the benchmark.
	IRQ float64 `json:"irq"`
	// Other is the rest of the busy time: other processes on the machine and the kernel's own work.
	Other float64 `json:"other"`
	// Machine is the busy time of all CPUs together.
	Machine float64 `json:"machine"`
}

// Machine describes where the run happened.
type Machine struct {
	Date       string `json:"date"`
	NumCPU     int    `json:"nproc"`
	GOMAXPROCS int    `json:"gomaxprocs"`
	GoVersion  string `json:"go_version"`
	OS         string `json:"os"`
	CPUModel   string `json:"cpu_model,omitempty"`
	Postgres   string `json:"postgres,omitempty"`
	Commit     string `json:"commit,omitempty"`
	// IdleBusyCores is how many cores were busy during the second before the first scenario, with the
	// servers up and idle: other work on the machine shares its cores with the benchmark.
	IdleBusyCores float64 `json:"busy_cores_before,omitempty"`
}

// Settings are the load parameters of the run.
type Settings struct {
	Concurrency int     `json:"concurrency"`
	DurationS   float64 `json:"duration_s"`
	WarmupS     float64 `json:"warmup_s"`
	Orders      int     `json:"drain_orders"`
	// AccrualDelayMs is how long after registration the processed-latency scenario's accrual service
	// answers PROCESSED.
	AccrualDelayMs float64 `json:"accrual_delay_ms,omitempty"`
}

// RSSPeak is the memory high-water mark of one server process over its life in the run.
type RSSPeak struct {
	Process string `json:"process"`
	// StartMiB is the first VmRSS sampled, once the server was ready and before any load, in MiB.
	StartMiB float64 `json:"start_mib"`
	// PeakMiB is the highest VmRSS sampled (every 100 ms), in MiB.
	PeakMiB float64 `json:"peak_mib"`
	// HWMMiB is the kernel's own peak resident set size (VmHWM) read just before the process was
	// stopped, in MiB: it misses no short spike between samples.
	HWMMiB  float64 `json:"hwm_mib"`
	Samples int     `json:"samples"`
}

// Report is the whole run, as written to the JSON file.
type Report struct {
	Machine  Machine   `json:"machine"`
	Settings Settings  `json:"settings"`
	Results  []Result  `json:"results"`
	RSS      []RSSPeak `json:"peak_rss,omitempty"`
}

// ceilingName and ceilingEndName are the bare fiber handler measured first and last; every
// scenario is compared with the higher of the two.
const (
	ceilingName    = "ceiling"
	ceilingEndName = "ceiling-end"
)

// floorOf names the floor scenario of each scenario that has one.
var floorOf = map[string]string{
	"balance": "floor-balance",
	"list":    "floor-list",
	"upload":  "floor-upload",
}

// fillRatios sets every result's Ratio against the best ceiling result, if one was measured; the
// RatioPgbench of every request scenario (and of pgbench's own rows) against the better pgbench -S
// result; and the RatioFloor of every scenario whose floor was measured.
func (r *Report) fillRatios() {
	var ceiling, pgbench float64
	perSec := map[string]float64{}
	for _, res := range r.Results {
		if res.Failed != "" {
			continue
		}
		perSec[res.Scenario] = res.PerSec
		switch res.Scenario {
		case ceilingName, ceilingEndName:
			ceiling = max(ceiling, res.PerSec)
		case pgbenchName, pgbenchEndName:
			pgbench = max(pgbench, res.PerSec)
		}
	}
	for i := range r.Results {
		res := &r.Results[i]
		res.Ratio, res.RatioPgbench, res.RatioFloor, res.Floor = 0, 0, 0, ""
		if res.Failed != "" || res.LatencyOnly {
			continue
		}
		res.Ratio = ratio(res.PerSec, ceiling)
		if res.Unit == "req/s" || res.Unit == "tx/s" {
			res.RatioPgbench = ratio(res.PerSec, pgbench)
		}
		if f, ok := floorOf[res.Scenario]; ok {
			if fps, ok := perSec[f]; ok {
				res.Floor, res.RatioFloor = f, ratio(res.PerSec, fps)
			}
		}
	}
}

// ratio is a / b, or 0 when there is no b.
func ratio(a, b float64) float64 {
	if b <= 0 {
		return 0
	}
	return a / b
}

// row is a result's cells as the table and the Markdown show them.
func (res Result) row() []string {
	if res.Failed != "" {
		return []string{res.Scenario, "failed: " + res.Failed, "", "", "", "", "", "", ""}
	}
	cpu, cores := "-", "-"
	if c := res.CPU; c != nil {
		cpu = strconv.FormatFloat(c.ServerUsPerOp, 'f', 0, 64) + " µs"
		f := func(v float64) string { return strconv.FormatFloat(v, 'f', 2, 64) }
		cores = fmt.Sprintf("%s = srv %s, pg %s, acc %s, gen %s, irq %s, other %s",
			f(c.Machine), f(c.Server), f(c.Postgres), f(c.Accrual), f(c.Loadgen), f(c.IRQ), f(c.Other))
	}
	return []string{
		res.Scenario,
		strconv.FormatFloat(res.PerSec, 'f', 1, 64) + " " + res.Unit,
		latencyCell(res.P50Ms),
		latencyCell(res.P99Ms),
		strconv.Itoa(res.Count),
		errorsCell(res),
		formatRatio(res.Ratio),
		cpu,
		cores,
	}
}

var header = []string{"scenario", "throughput", "p50", "p99", "ok", "errors", "ratio", "server CPU/op", "busy cores"}

// ratioHeader heads the first table: each scenario against the references measured in the same run.
var ratioHeader = []string{"scenario", "throughput", "p50", "p99", "max", "× pgbench -S", "× floor", "× ceiling", "peak RSS"}

// ratioRow is a result's cells in the ratio table.
func (res Result) ratioRow() []string {
	if res.Failed != "" {
		return []string{res.Scenario, "failed: " + res.Failed, "", "", "", "", "", "", ""}
	}
	rss := "-"
	if res.PeakRSSMiB > 0 {
		rss = strconv.FormatFloat(res.PeakRSSMiB, 'f', 1, 64) + " MiB"
	}
	return []string{
		res.Scenario,
		strconv.FormatFloat(res.PerSec, 'f', 1, 64) + " " + res.Unit,
		latencyCell(res.P50Ms),
		latencyCell(res.P99Ms),
		latencyCell(res.MaxMs),
		formatTimes(res.RatioPgbench),
		formatTimes(res.RatioFloor),
		formatTimes(res.Ratio),
		rss,
	}
}

// formatTimes prints a ratio as a plain number (0.48), or "-" when there is none.
func formatTimes(r float64) string {
	switch {
	case r <= 0:
		return "-"
	case r < 0.1:
		return strconv.FormatFloat(r, 'f', 3, 64)
	default:
		return strconv.FormatFloat(r, 'f', 2, 64)
	}
}

// rssLine sums up the servers' memory peaks, or "" when none was measured.
func (r *Report) rssLine() string {
	if len(r.RSS) == 0 {
		return ""
	}
	parts := make([]string, len(r.RSS))
	for i, p := range r.RSS {
		parts[i] = fmt.Sprintf("%s %.1f MiB (VmHWM %.1f MiB, %.1f MiB when ready)", p.Process, p.PeakMiB, p.HWMMiB, p.StartMiB)
	}
	return "peak RSS (sampled every 100 ms): " + strings.Join(parts, ", ")
}

// formatMs prints milliseconds with precision that suits their size: 0.123 ms, 12.3 ms, 1234 ms.
func formatMs(ms float64) string {
	switch {
	case ms < 1:
		return strconv.FormatFloat(ms, 'f', 3, 64) + " ms"
	case ms < 100:
		return strconv.FormatFloat(ms, 'f', 1, 64) + " ms"
	default:
		return strconv.FormatFloat(ms, 'f', 0, 64) + " ms"
	}
}

// latencyCell is formatMs, or "-" for a latency that was not measured.
func latencyCell(ms float64) string {
	if ms <= 0 {
		return "-"
	}
	return formatMs(ms)
}

// formatRatio prints a ratio to the ceiling as a percentage, or "-" when there is none.
func formatRatio(r float64) string {
	if r <= 0 {
		return "-"
	}
	return strconv.FormatFloat(r*100, 'f', 1, 64) + " %"
}

// errorsCell is the error count, followed by its kinds when there are any.
func errorsCell(res Result) string {
	if res.Errors == 0 {
		return "0"
	}
	kinds := slices.Sorted(maps.Keys(res.ErrorKinds))
	parts := make([]string, len(kinds))
	for i, k := range kinds {
		parts[i] = fmt.Sprintf("%s: %d", k, res.ErrorKinds[k])
	}
	return fmt.Sprintf("%d (%s)", res.Errors, strings.Join(parts, ", "))
}

// machineLine is the one-line description of the machine and settings.
func (r *Report) machineLine() string {
	m, s := r.Machine, r.Settings
	line := fmt.Sprintf("%s, nproc %d, GOMAXPROCS %d, %s %s", m.Date, m.NumCPU, m.GOMAXPROCS, m.GoVersion, m.OS)
	if m.CPUModel != "" {
		line += ", " + m.CPUModel
	}
	if m.Postgres != "" {
		line += ", PostgreSQL " + m.Postgres
	}
	if m.Commit != "" {
		line += ", commit " + m.Commit
	}
	if m.IdleBusyCores > 0 {
		line += fmt.Sprintf(", %.2f cores busy before the first scenario", m.IdleBusyCores)
	}
	return line + fmt.Sprintf("; concurrency %d, duration %gs, warm-up %gs, drain orders %d",
		s.Concurrency, s.DurationS, s.WarmupS, s.Orders)
}

// writeTable prints the results as an aligned text table.
func (r *Report) writeTable(w io.Writer) error {
	fmt.Fprintln(w, r.machineLine())
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(header, "\t"))
	for _, res := range r.Results {
		fmt.Fprintln(tw, strings.Join(res.row(), "\t"))
	}
	return tw.Flush()
}

// writeRatios prints the ratio table as aligned text, then the memory peaks.
func (r *Report) writeRatios(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, strings.Join(ratioHeader, "\t"))
	for _, res := range r.Results {
		fmt.Fprintln(tw, strings.Join(res.ratioRow(), "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if line := r.rssLine(); line != "" {
		fmt.Fprintln(w)
		fmt.Fprintln(w, line)
	}
	return nil
}

// markdown renders the results as a Markdown table with the machine facts and notes.
func (r *Report) markdown() string {
	var b strings.Builder
	b.WriteString("# Load benchmark results\n\n")
	b.WriteString(r.machineLine() + "\n\n")
	table := func(head []string, row func(Result) []string) {
		b.WriteString("| " + strings.Join(head, " | ") + " |\n")
		b.WriteString("|" + strings.Repeat(" --- |", len(head)) + "\n")
		for _, res := range r.Results {
			cells := row(res)
			for i, c := range cells {
				cells[i] = strings.ReplaceAll(c, "|", `\|`)
			}
			b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
		}
	}
	table(header, Result.row)
	b.WriteString("\n")
	table(ratioHeader, Result.ratioRow)
	if line := r.rssLine(); line != "" {
		b.WriteString("\n" + line + "\n")
	}
	var notes []string
	for _, res := range r.Results {
		if res.Note != "" {
			notes = append(notes, fmt.Sprintf("- %s: %s", res.Scenario, res.Note))
		}
	}
	if len(notes) > 0 {
		b.WriteString("\n" + strings.Join(notes, "\n") + "\n")
	}
	return b.String()
}

// outputPaths returns the JSON and Markdown paths for -out: "x.json" gives x.json and x.md; a name
// without the .json extension gets both extensions added.
func outputPaths(out string) (jsonPath, mdPath string) {
	base := strings.TrimSuffix(out, ".json")
	return base + ".json", base + ".md"
}

// writeFiles writes the report as JSON and as Markdown next to it.
func (r *Report) writeFiles(out string) error {
	jsonPath, mdPath := outputPaths(out)
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("encode report: %w", err)
	}
	if dir := filepath.Dir(jsonPath); dir != "." {
		if err := os.MkdirAll(dir, 0o750); err != nil {
			return fmt.Errorf("create %s: %w", dir, err)
		}
	}
	// #nosec G703 -- the path is the -out flag of whoever runs the benchmark.
	if err := os.WriteFile(jsonPath, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", jsonPath, err)
	}
	// #nosec G703 -- the path is the -out flag of whoever runs the benchmark.
	if err := os.WriteFile(mdPath, []byte(r.markdown()), 0o600); err != nil {
		return fmt.Errorf("write %s: %w", mdPath, err)
	}
	return nil
}
