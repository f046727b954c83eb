package webtest

import (
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

// SampleHeap measures the peak of the live heap from now until the returned function is called (or
// the test ends), which returns it in bytes above the live heap at the start. Live means marked by a
// garbage collection, so the garbage collector runs at GOGC=10 meanwhile, often enough that its
// marks see each request's working set; timings taken meanwhile are pessimistic. Samples are taken
// every 200 µs and can miss a short peak: a measurement for benchmarks, never an assertion.
func SampleHeap(tb testing.TB) func() uint64 {
	tb.Helper()
	runtime.GC()
	runtime.GC() // a second cycle also frees what sync.Pools held on to, so it does not count as start
	sample := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	start := read()
	old := debug.SetGCPercent(10)
	var (
		mu   sync.Mutex
		peak = start
		stop = make(chan struct{})
		done = make(chan struct{})
		once sync.Once
	)
	go func() {
		defer close(done)
		t := time.NewTicker(200 * time.Microsecond)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				if v := read(); v > peak {
					mu.Lock()
					peak = v
					mu.Unlock()
				}
			}
		}
	}()
	end := func() uint64 {
		once.Do(func() {
			close(stop)
			<-done
			debug.SetGCPercent(old)
		})
		mu.Lock()
		defer mu.Unlock()
		return peak - start
	}
	tb.Cleanup(func() { end() })
	return end
}
