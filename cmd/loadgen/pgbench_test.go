package main

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The summary of pgbench 15 -S, as printed.
const pgbench15 = `pgbench (15.20 (Debian 15.20-0+deb12u1))
transaction type: <builtin: select only>
scaling factor: 10
query mode: simple
number of clients: 32
number of threads: 2
maximum number of tries: 1
duration: 5 s
number of transactions actually processed: 40673
number of failed transactions: 0 (0.000%)
latency average = 3.934 ms
initial connection time = 40.911 ms
tps = 8134.485123 (without initial connection time)
`

func TestParsePgbench(t *testing.T) {
	tests := []struct {
		name      string
		give      string
		wantTPS   float64
		wantCount int
		wantErrs  int
		wantLatMs float64
		wantErr   bool
	}{
		{name: "pgbench 15", give: pgbench15, wantTPS: 8134.485123, wantCount: 40673, wantLatMs: 3.934},
		{
			name: "pgbench 13 wording",
			give: "number of transactions actually processed: 100\nlatency average = 1.5 ms\n" +
				"tps = 66.6 (including connections establishing)\ntps = 70.25 (excluding connections establishing)\n",
			wantTPS: 70.25, wantCount: 100, wantLatMs: 1.5,
		},
		{
			name: "failed transactions",
			give: "number of transactions actually processed: 90\nnumber of failed transactions: 10 (10.000%)\n" +
				"tps = 18.0 (without initial connection time)\n",
			wantTPS: 18, wantCount: 90, wantErrs: 10,
		},
		{name: "no tps line", give: "pgbench: error: connection to server failed\n", wantErr: true},
		{name: "empty", give: "", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, err := parsePgbench(tt.give)
			if tt.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, "tx/s", res.Unit)
			assert.InDelta(t, tt.wantTPS, res.PerSec, 1e-9)
			assert.Equal(t, tt.wantCount, res.Count)
			assert.Equal(t, tt.wantErrs, res.Errors)
			assert.InDelta(t, tt.wantLatMs, res.P50Ms, 1e-9)
		})
	}
}

func TestTailLines(t *testing.T) {
	assert.Equal(t, "b\nc", tailLines([]byte("a\nb\nc\n"), 2))
	assert.Equal(t, "a", tailLines([]byte("a"), 5))
}
