package main

import (
	"os"
	"strconv"
	"strings"
	"time"
)

// clockTick is the unit of /proc/<pid>/stat CPU times (USER_HZ, 100 on Linux).
const clockTick = 10 * time.Millisecond

// parseStatCPU returns utime+stime, in clock ticks, from the text of /proc/<pid>/stat. The command
// name (field 2) is in parentheses and may hold spaces, so fields are counted after its last ")".
func parseStatCPU(stat string) (int64, bool) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, false
	}
	f := strings.Fields(stat[i+1:]) // f[0] is field 3 (state): utime is field 14, stime field 15
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return utime + stime, true
}

// cpuTime returns the CPU time process pid has used so far (0 and false where /proc is missing).
func cpuTime(pid int) (time.Duration, bool) {
	data, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return 0, false
	}
	ticks, ok := parseStatCPU(string(data))
	return time.Duration(ticks) * clockTick, ok
}

// parseMachineBusy returns the busy time of all CPUs together, in clock ticks, from the text of
// /proc/stat: the first ("cpu") line's total less idle and iowait.
func parseMachineBusy(stat string) (int64, bool) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, false
	}
	var total int64
	for i, s := range f[1:] {
		if i >= 8 { // guest and guest_nice are already counted in user and nice
			break
		}
		v, err := strconv.ParseInt(s, 10, 64)
		if err != nil {
			return 0, false
		}
		total += v
	}
	idle, err1 := strconv.ParseInt(f[4], 10, 64)
	iowait, err2 := strconv.ParseInt(f[5], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return total - idle - iowait, true
}

// machineBusy returns the busy CPU time of the whole machine so far.
func machineBusy() (time.Duration, bool) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	ticks, ok := parseMachineBusy(string(data))
	return time.Duration(ticks) * clockTick, ok
}

// cpuSample is the CPU time used so far by the server under load, by the load generator and by the
// whole machine (every process, the kernel, PostgreSQL and whatever else runs there).
type cpuSample struct {
	server, self, machine time.Duration
	ok                    bool
}

// sampleCPU reads the CPU times of process server, of this process and of the machine.
func sampleCPU(server int) cpuSample {
	s, ok1 := cpuTime(server)
	self, ok2 := cpuTime(os.Getpid())
	m, ok3 := machineBusy()
	return cpuSample{server: s, self: self, machine: m, ok: ok1 && ok2 && ok3}
}

// fillCPU sets res's CPU fields from samples taken at the start and end of its window.
func fillCPU(res *Result, from, to cpuSample, window time.Duration) {
	if !from.ok || !to.ok || window <= 0 {
		return
	}
	server, self, machine := to.server-from.server, to.self-from.self, to.machine-from.machine
	res.ServerCores = server.Seconds() / window.Seconds()
	res.LoadgenCores = self.Seconds() / window.Seconds()
	res.MachineCores = machine.Seconds() / window.Seconds()
	if res.Count > 0 {
		res.ServerCPUUsPerOp = float64(server.Microseconds()) / float64(res.Count)
	}
}
