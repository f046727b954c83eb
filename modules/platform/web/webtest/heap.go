package webtest

import (
	"runtime"
	"runtime/metrics"
	"sync"
	"testing"
	"time"
)

// SampleHeap samples the bytes of live and not yet collected heap objects every 200µs until the test
// ends or the returned function is called; that function returns the peak seen above the heap at
// the start (after a GC). It is a measurement for benchmarks, never an assertion: samples can miss a
// short peak.
func SampleHeap(tb testing.TB) func() uint64 {
	tb.Helper()
	runtime.GC()
	sample := []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
	read := func() uint64 {
		metrics.Read(sample)
		return sample[0].Value.Uint64()
	}
	start := read()
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
		once.Do(func() { close(stop); <-done })
		mu.Lock()
		defer mu.Unlock()
		return peak - start
	}
	tb.Cleanup(func() { end() })
	return end
}
