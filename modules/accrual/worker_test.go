package accrual

import (
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

// The delay before a retry doubles per try and is capped by MaxBackoff; a huge RetryBackoff never
// overflows into a negative delay (which retried at once, in a tight loop).
func TestRetryDelayDoublesAndNeverOverflows(t *testing.T) {
	tests := []struct {
		name  string
		retry time.Duration
		max   time.Duration
		try   int
		want  time.Duration
	}{
		{name: "first", retry: 100 * time.Millisecond, max: time.Minute, try: 0, want: 100 * time.Millisecond},
		{name: "doubles", retry: 100 * time.Millisecond, max: time.Minute, try: 3, want: 800 * time.Millisecond},
		{name: "capped", retry: 100 * time.Millisecond, max: time.Second, try: 10, want: time.Second},
		{name: "many tries", retry: time.Millisecond, max: 5 * time.Minute, try: 1000, want: 5 * time.Minute},
		{name: "huge retry backoff", retry: 1000 * time.Hour, max: 5 * time.Minute, try: 20, want: 5 * time.Minute},
		{name: "huge everything", retry: math.MaxInt64 / 4, max: math.MaxInt64, try: 20, want: math.MaxInt64},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := &Worker{cfg: Config{RetryBackoff: tt.retry, MaxBackoff: tt.max}}
			got := w.retryDelay(tt.try)
			assert.Equal(t, tt.want, got)
			assert.Positive(t, got)
		})
	}
}
