package main

import (
	"slices"
	"time"
)

// percentile returns the p-th percentile (0 < p <= 100) of sorted by the nearest-rank method: the
// smallest sample such that at least p% of the samples are less than or equal to it. It returns 0
// for no samples. sorted must be in ascending order.
func percentile(sorted []time.Duration, p float64) time.Duration {
	n := len(sorted)
	if n == 0 {
		return 0
	}
	if p <= 0 {
		return sorted[0]
	}
	// rank = ceil(p/100 * n), computed in integers where possible to avoid 0.99*100 = 98.99999.
	rank := int(p * float64(n) / 100)
	if float64(rank)*100 < p*float64(n) {
		rank++
	}
	rank = min(max(rank, 1), n)
	return sorted[rank-1]
}

// summary is what a scenario reports about its latencies.
type summary struct {
	count         int
	p50, p99, max time.Duration
}

// summarize sorts samples in place and returns their count, p50, p99 and maximum.
func summarize(samples []time.Duration) summary {
	slices.Sort(samples)
	s := summary{count: len(samples), p50: percentile(samples, 50), p99: percentile(samples, 99)}
	if len(samples) > 0 {
		s.max = samples[len(samples)-1]
	}
	return s
}
