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

// machineTicks is the busy time of all CPUs together from /proc/stat, in clock ticks.
type machineTicks struct {
	busy int64 // everything but idle and iowait
	irq  int64 // of which hard and soft interrupts: not charged to any process
}

// parseMachine reads the first ("cpu") line of /proc/stat: user nice system idle iowait irq softirq
// steal (guest and guest_nice are already counted in user and nice).
func parseMachine(stat string) (machineTicks, bool) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 8 || f[0] != "cpu" {
		return machineTicks{}, false
	}
	var v [8]int64
	for i := range v {
		if i+1 >= len(f) {
			break
		}
		n, err := strconv.ParseInt(f[i+1], 10, 64)
		if err != nil {
			return machineTicks{}, false
		}
		v[i] = n
	}
	total := v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7]
	return machineTicks{busy: total - v[3] - v[4], irq: v[5] + v[6]}, true
}

// cpuSample is the CPU time used so far by each process of the benchmark and by the whole machine.
type cpuSample struct {
	server, accrual, self time.Duration
	pg                    map[int]time.Duration // PostgreSQL backends of the benchmark's database, by pid
	machine, irq          time.Duration
	ok                    bool
}

// sampler takes cpuSamples.
type sampler struct {
	server, accrual int          // pids; 0: none
	pgPids          func() []int // backends serving the benchmark's database; nil: none
}

// with returns a copy of s whose server under load is pid.
func (s sampler) with(pid int) sampler {
	s.server = pid
	return s
}

// sample reads the CPU times now. ok is false where /proc is missing.
func (s sampler) sample() cpuSample {
	var out cpuSample
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return out
	}
	m, ok := parseMachine(string(data))
	if !ok {
		return out
	}
	out.machine, out.irq = time.Duration(m.busy)*clockTick, time.Duration(m.irq)*clockTick
	out.self, out.ok = cpuTime(os.Getpid())
	if s.server != 0 {
		out.server, _ = cpuTime(s.server)
	}
	if s.accrual != 0 {
		out.accrual, _ = cpuTime(s.accrual)
	}
	if s.pgPids != nil {
		out.pg = map[int]time.Duration{}
		for _, pid := range s.pgPids() {
			if t, ok := cpuTime(pid); ok {
				out.pg[pid] = t
			}
		}
	}
	return out
}

// fillCPU sets res's CPU fields from samples taken at the start and end of its window. A PostgreSQL
// backend that started in the window counts from zero; one that ended in it is missed.
func fillCPU(res *Result, from, to cpuSample, window time.Duration) {
	if !from.ok || !to.ok || window <= 0 {
		return
	}
	var pg time.Duration
	for pid, t := range to.pg {
		pg += t - from.pg[pid]
	}
	cores := func(d time.Duration) float64 { return d.Seconds() / window.Seconds() }
	server, irq := to.server-from.server, to.irq-from.irq
	c := CPU{
		Server: cores(server), Accrual: cores(to.accrual - from.accrual), Postgres: cores(pg),
		Loadgen: cores(to.self - from.self), IRQ: cores(irq), Machine: cores(to.machine - from.machine),
	}
	c.Other = max(c.Machine-c.Server-c.Accrual-c.Postgres-c.Loadgen-c.IRQ, 0)
	if res.Count > 0 {
		c.ServerUsPerOp = float64(server.Microseconds()) / float64(res.Count)
	}
	res.CPU = &c
}
