package main

import (
	"math"
	"runtime/debug"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/gophermart/gophermart/config"
	"github.com/gophermart/gophermart/modules/auth"
	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
)

// keepMemoryLimit restores the process's memory limit after the test.
func keepMemoryLimit(t *testing.T) {
	t.Helper()
	was := debug.SetMemoryLimit(-1)
	t.Cleanup(func() { debug.SetMemoryLimit(was) })
}

// The configured limit is in effect once the service has started.
func TestMemoryLimitApplied(t *testing.T) {
	keepMemoryLimit(t)
	t.Setenv("GOMEMLIMIT", "")
	debug.SetMemoryLimit(math.MaxInt64)
	fs := pflag.NewFlagSet("gophermart", pflag.ContinueOnError)
	config.AddFlags(fs)
	require.NoError(t, fs.Parse([]string{
		"--run-address=127.0.0.1:0", "--database-uri=" + dbtest.URI(t, "sqlite"), "--log-level=error", "--memory-limit=1GiB",
	}))
	cfg, err := config.Load(fs)
	require.NoError(t, err)
	app := fxtest.New(t, serveOptions(cfg), fx.NopLogger)
	assert.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1), "building applies nothing")
	app.RequireStart()
	t.Cleanup(app.RequireStop)
	assert.Equal(t, int64(1<<30), debug.SetMemoryLimit(-1))
}

func TestApplyMemoryLimit(t *testing.T) {
	keepMemoryLimit(t)
	noEnv := func(string) (string, bool) { return "", false }
	limitOf := func(setting string) *config.Config {
		return &config.Config{Runtime: config.Runtime{MemoryLimit: setting}, Auth: auth.Config{HashConcurrency: 1}}
	}

	limit, fromEnv, err := applyMemoryLimit(limitOf("48MiB"), noEnv)
	require.NoError(t, err)
	assert.False(t, fromEnv)
	assert.Equal(t, int64(48<<20), limit)
	assert.Equal(t, int64(48<<20), debug.SetMemoryLimit(-1))

	limit, _, err = applyMemoryLimit(limitOf("off"), noEnv)
	require.NoError(t, err)
	assert.Equal(t, int64(math.MaxInt64), limit)
	assert.Equal(t, int64(math.MaxInt64), debug.SetMemoryLimit(-1))

	// GOMEMLIMIT wins: the runtime took it at process start and the setting leaves it alone.
	debug.SetMemoryLimit(300 << 20)
	gomemlimit := func(k string) (string, bool) { return "300MiB", k == "GOMEMLIMIT" }
	limit, fromEnv, err = applyMemoryLimit(limitOf("48MiB"), gomemlimit)
	require.NoError(t, err)
	assert.True(t, fromEnv)
	assert.Equal(t, int64(300<<20), limit)
	assert.Equal(t, int64(300<<20), debug.SetMemoryLimit(-1))

	limit, _, err = applyMemoryLimit(limitOf("auto"), noEnv)
	require.NoError(t, err)
	assert.Equal(t, config.MemoryLimitBase+2*int64(auth.DefaultParams.Memory)<<10, limit)
	assert.Equal(t, limit, debug.SetMemoryLimit(-1))

	_, _, err = applyMemoryLimit(limitOf("lots"), noEnv)
	require.ErrorIs(t, err, config.ErrInvalid)
	assert.Equal(t, limit, debug.SetMemoryLimit(-1), "a bad setting changes nothing")
}
