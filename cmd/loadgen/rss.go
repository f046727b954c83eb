package main

import (
	"bufio"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// rssEvery is how often a process's resident set size is sampled.
const rssEvery = 100 * time.Millisecond

// parseStatusKiB returns field (e.g. "VmRSS", "VmHWM") of the text of /proc/<pid>/status, in KiB.
func parseStatusKiB(status, field string) (int64, bool) {
	sc := bufio.NewScanner(strings.NewReader(status))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok || k != field {
			continue
		}
		f := strings.Fields(v) // "  131072 kB"
		if len(f) != 2 || f[1] != "kB" {
			return 0, false
		}
		n, err := strconv.ParseInt(f[0], 10, 64)
		return n, err == nil
	}
	return 0, false
}

// statusKiB reads field of /proc/pid/status (false where /proc is missing or the process is gone).
func statusKiB(pid int, field string) (int64, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, false
	}
	return parseStatusKiB(string(data), field)
}

// rssWatch samples a process's VmRSS every rssEvery until finish. It keeps the peak over its whole
// life and over the current mark window, so that a scenario can report its own peak. Safe for
// concurrent use.
type rssWatch struct {
	pid  int
	stop chan struct{}
	done chan struct{}

	mu      sync.Mutex
	start   int64 // KiB, the first sample
	peak    int64 // KiB, over the whole watch
	window  int64 // KiB, since the last mark
	samples int
	hwm     int64 // KiB: the kernel's own peak (VmHWM), read by finish
}

// watchRSS starts sampling pid now: for a server, once it is ready, so that the first sample is its
// footprint before any load.
func watchRSS(pid int) *rssWatch {
	w := &rssWatch{pid: pid, stop: make(chan struct{}), done: make(chan struct{})}
	w.sampleOnce()
	go func() {
		defer close(w.done)
		t := time.NewTicker(rssEvery)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
				w.sampleOnce()
			}
		}
	}()
	return w
}

func (w *rssWatch) sampleOnce() {
	kib, ok := statusKiB(w.pid, "VmRSS")
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.samples == 0 {
		w.start = kib
	}
	w.samples++
	w.peak = max(w.peak, kib)
	w.window = max(w.window, kib)
}

// mark starts a new window: windowPeak reports the peak since now.
func (w *rssWatch) mark() {
	kib, _ := statusKiB(w.pid, "VmRSS")
	w.mu.Lock()
	defer w.mu.Unlock()
	w.window = kib
}

// windowPeak is the peak VmRSS since the last mark, in MiB (0 when nothing was sampled).
func (w *rssWatch) windowPeak() float64 {
	w.sampleOnce()
	w.mu.Lock()
	defer w.mu.Unlock()
	return mib(w.window)
}

// finish takes a last sample and VmHWM, stops sampling and returns the process's peaks. Call it
// while the process still runs, before it is stopped; calling it again returns the same peaks.
func (w *rssWatch) finish(name string) RSSPeak {
	select {
	case <-w.done:
	default:
		w.sampleOnce()
		if hwm, ok := statusKiB(w.pid, "VmHWM"); ok {
			w.mu.Lock()
			w.hwm = hwm
			w.mu.Unlock()
		}
		close(w.stop)
		<-w.done
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	return RSSPeak{Process: name, StartMiB: mib(w.start), PeakMiB: mib(w.peak), HWMMiB: mib(w.hwm), Samples: w.samples}
}

// mib converts KiB to MiB.
func mib(kib int64) float64 { return float64(kib) / 1024 }
