package main

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestCountAccrualRequests(t *testing.T) {
	path := filepath.Join(t.TempDir(), "requests.jsonl")
	require.NoError(t, os.WriteFile(path, []byte(
		`{"order":"11","start":"2026-01-01T00:00:00Z","end":"2026-01-01T00:00:00Z","status":200}
{"order":"11","status":200}
{"order":"22","status":204}
{"order":"33","status":200}
not json
{"order":"22","status":429}
`), 0o600))
	total, byStatus, err := countAccrualRequests(path, map[string]bool{"11": true, "22": true})
	require.NoError(t, err)
	assert.Equal(t, 4, total, "only the given orders")
	assert.Equal(t, map[int]int{200: 2, 204: 1, 429: 1}, byStatus)
	assert.Equal(t, "200: 2, 204: 1, 429: 1", formatStatuses(byStatus))

	_, _, err = countAccrualRequests(filepath.Join(t.TempDir(), "none"), nil)
	require.Error(t, err)
}

func TestProfileSeconds(t *testing.T) {
	assert.Equal(t, 5, profileSeconds(5*time.Second))
	assert.Equal(t, 6, profileSeconds(5100*time.Millisecond), "rounded up: the window is covered")
	assert.Equal(t, 1, profileSeconds(200*time.Millisecond))
}

func TestOnMainServer(t *testing.T) {
	for _, s := range []string{"healthz", "register", "login", "balance", "list", "withdraw", "drain", "drain-cold", "upload"} {
		assert.True(t, onMainServer(s), s)
	}
	for _, s := range []string{pgbenchName, ceilingEndName, "floor-list", "processed-latency", "sqlite-upload"} {
		assert.False(t, onMainServer(s), s)
	}
}
