package main

import (
	"bytes"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseFlagsDefaults(t *testing.T) {
	t.Setenv("GOPHERMART_TEST_DSN", "")
	cfg, err := parseFlags(nil, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, 32, cfg.concurrency)
	assert.Equal(t, 5*time.Second, cfg.duration)
	assert.Equal(t, time.Second, cfg.warmup)
	assert.Equal(t, 2000, cfg.orders)
	assert.Equal(t, defaultDSN, cfg.dsn)
	assert.Equal(t, "bench-results.json", cfg.out)
	assert.Equal(t, allScenarios, cfg.scenarios)
}

func TestParseFlagsErrors(t *testing.T) {
	for _, args := range [][]string{
		{"-scenarios", "ceiling,nope"},
		{"-concurrency", "0"},
		{"-duration", "0s"},
		{"extra"},
	} {
		_, err := parseFlags(args, &bytes.Buffer{})
		require.Error(t, err, "%q", args)
	}
	cfg, err := parseFlags([]string{"-scenarios", "login, balance"}, &bytes.Buffer{})
	require.NoError(t, err)
	assert.Equal(t, []string{"login", "balance"}, cfg.scenarios)
}

func TestCheckLoopback(t *testing.T) {
	require.NoError(t, checkLoopback("postgres://postgres@127.0.0.1:5432/test?sslmode=disable"))
	require.NoError(t, checkLoopback("postgresql://u@localhost/db"))
	require.Error(t, checkLoopback("postgres://u@db.example.com/db"))
	require.Error(t, checkLoopback("sqlite://x.db"))
}
