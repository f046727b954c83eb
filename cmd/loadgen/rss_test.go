package main

import (
	"os"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Lines of /proc/<pid>/status around the memory fields.
const procStatus = `Name:	gophermart
Umask:	0022
State:	S (sleeping)
Pid:	4242
VmPeak:	 1261884 kB
VmSize:	 1261884 kB
VmHWM:	  134336 kB
VmRSS:	   65536 kB
RssAnon:	   50000 kB
Threads:	9
`

func TestParseStatusKiB(t *testing.T) {
	tests := []struct {
		name   string
		status string
		field  string
		want   int64
		wantOK bool
	}{
		{name: "VmRSS", status: procStatus, field: "VmRSS", want: 65536, wantOK: true},
		{name: "VmHWM", status: procStatus, field: "VmHWM", want: 134336, wantOK: true},
		{name: "not a prefix match", status: procStatus, field: "Vm", wantOK: false},
		{name: "missing", status: "Name:\tx\n", field: "VmRSS", wantOK: false},
		{name: "kernel thread without memory", status: "Name:\tkthreadd\nThreads:\t1\n", field: "VmRSS", wantOK: false},
		{name: "bad unit", status: "VmRSS:\t12 MB\n", field: "VmRSS", wantOK: false},
		{name: "bad number", status: "VmRSS:\tx kB\n", field: "VmRSS", wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, ok := parseStatusKiB(tt.status, tt.field)
			assert.Equal(t, tt.wantOK, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestWatchRSSOfThisProcess(t *testing.T) {
	if _, err := os.Stat("/proc/self/status"); err != nil {
		t.Skip("no /proc")
	}
	w := watchRSS(os.Getpid())
	w.mark()
	time.Sleep(3 * rssEvery)
	assert.Positive(t, w.windowPeak())
	p := w.finish("self")
	assert.Equal(t, "self", p.Process)
	assert.Positive(t, p.PeakMiB)
	assert.Positive(t, p.StartMiB)
	assert.GreaterOrEqual(t, p.PeakMiB, p.StartMiB)
	assert.GreaterOrEqual(t, p.HWMMiB, p.PeakMiB*0.9, "VmHWM is the kernel's peak, at least about what was sampled")
	assert.GreaterOrEqual(t, p.Samples, 2)
	require.Equal(t, p, w.finish("self"), "finishing twice gives the same peaks")
}
