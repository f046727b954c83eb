package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestPercentile(t *testing.T) {
	ten := []time.Duration{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}
	hundred := make([]time.Duration, 100)
	for i := range hundred {
		hundred[i] = time.Duration(i + 1)
	}
	tests := []struct {
		name string
		give []time.Duration
		p    float64
		want time.Duration
	}{
		{name: "empty", give: nil, p: 50, want: 0},
		{name: "one sample p50", give: []time.Duration{7}, p: 50, want: 7},
		{name: "one sample p99", give: []time.Duration{7}, p: 99, want: 7},
		{name: "ten p50 is the 5th", give: ten, p: 50, want: 5},
		{name: "ten p99 is the 10th", give: ten, p: 99, want: 10},
		{name: "ten p90 is the 9th", give: ten, p: 90, want: 9},
		{name: "ten p91 rounds up to the 10th", give: ten, p: 91, want: 10},
		{name: "ten p100", give: ten, p: 100, want: 10},
		{name: "ten p0 is the minimum", give: ten, p: 0, want: 1},
		{name: "hundred p50", give: hundred, p: 50, want: 50},
		{name: "hundred p99 exact rank, no float drift", give: hundred, p: 99, want: 99},
		{name: "two p50 is the lower", give: []time.Duration{1, 2}, p: 50, want: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, percentile(tt.give, tt.p))
		})
	}
}

func TestSummarizeSortsAndCounts(t *testing.T) {
	samples := []time.Duration{9 * time.Millisecond, time.Millisecond, 5 * time.Millisecond, 3 * time.Millisecond}
	s := summarize(samples)
	assert.Equal(t, 4, s.count)
	assert.Equal(t, 3*time.Millisecond, s.p50)
	assert.Equal(t, 9*time.Millisecond, s.p99)
	assert.Equal(t, []time.Duration{time.Millisecond, 3 * time.Millisecond, 5 * time.Millisecond, 9 * time.Millisecond}, samples)
}
