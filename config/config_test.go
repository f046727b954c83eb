package config_test

import (
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/config"
	"github.com/gophermart/gophermart/modules/auth"
	"github.com/gophermart/gophermart/modules/orders"
)

// load parses args like the CLI does and loads the configuration.
func load(t *testing.T, args ...string) (*config.Config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	config.AddFlags(fs)
	require.NoError(t, fs.Parse(args))
	return config.Load(fs)
}

// clearEnv unsets every setting's environment variable for the test.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, s := range config.Settings {
		t.Setenv(s.Env, "")
		require.NoError(t, os.Unsetenv(s.Env))
	}
	t.Setenv("GOPHERMART_CONFIG", "")
	require.NoError(t, os.Unsetenv("GOPHERMART_CONFIG"))
}

func TestPrecedence(t *testing.T) {
	file := filepath.Join(t.TempDir(), "cfg.yaml")
	require.NoError(t, os.WriteFile(file, []byte(`
http:
  address: "file:7000"
db:
  uri: "postgres://file/db"
accrual:
  address: "http://file-accrual"
auth:
  token_ttl: 2h
`), 0o600))

	tests := []struct {
		name        string
		env         map[string]string
		args        []string
		wantAddr    string
		wantDB      string
		wantAccrual string
		wantTTL     time.Duration
	}{
		{name: "defaults", wantAddr: "localhost:8080", wantDB: "", wantAccrual: "", wantTTL: 24 * time.Hour},
		{
			name: "file over defaults", args: []string{"--config", file},
			wantAddr: "file:7000", wantDB: "postgres://file/db", wantAccrual: "http://file-accrual", wantTTL: 2 * time.Hour,
		},
		{
			name: "env over file", args: []string{"--config", file},
			env:      map[string]string{"RUN_ADDRESS": "env:6000", "DATABASE_URI": "postgres://env/db", "GOPHERMART_TOKEN_TTL": "3h"},
			wantAddr: "env:6000", wantDB: "postgres://env/db", wantAccrual: "http://file-accrual", wantTTL: 3 * time.Hour,
		},
		{
			name: "flag over env", args: []string{"--config", file, "-a", "flag:5000", "--token-ttl", "4h"},
			env:      map[string]string{"RUN_ADDRESS": "env:6000", "DATABASE_URI": "postgres://env/db", "GOPHERMART_TOKEN_TTL": "3h"},
			wantAddr: "flag:5000", wantDB: "postgres://env/db", wantAccrual: "http://file-accrual", wantTTL: 4 * time.Hour,
		},
		{
			name: "flag given equal to its default still wins", args: []string{"-a", "localhost:8080"},
			env:      map[string]string{"RUN_ADDRESS": "env:6000"},
			wantAddr: "localhost:8080", wantTTL: 24 * time.Hour,
		},
		{
			name:     "unchanged flag default never hides env",
			env:      map[string]string{"RUN_ADDRESS": "env:6000", "ACCRUAL_SYSTEM_ADDRESS": "http://acc:8081"},
			wantAddr: "env:6000", wantAccrual: "http://acc:8081", wantTTL: 24 * time.Hour,
		},
		{
			name: "empty env counts as unset", args: []string{"--config", file},
			env:      map[string]string{"RUN_ADDRESS": ""},
			wantAddr: "file:7000", wantDB: "postgres://file/db", wantAccrual: "http://file-accrual", wantTTL: 2 * time.Hour,
		},
		{
			name: "config file from env", env: map[string]string{"GOPHERMART_CONFIG": file},
			wantAddr: "file:7000", wantDB: "postgres://file/db", wantAccrual: "http://file-accrual", wantTTL: 2 * time.Hour,
		},
		{
			name: "accrual address without scheme gets http", args: []string{"-r", "localhost:8081/"},
			wantAddr: "localhost:8080", wantAccrual: "http://localhost:8081", wantTTL: 24 * time.Hour,
		},
		{
			name: "short flags glued", args: []string{"-a=127.0.0.1:9", "-dsqlite://x.db"},
			wantAddr: "127.0.0.1:9", wantDB: "sqlite://x.db", wantTTL: 24 * time.Hour,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := load(t, tt.args...)
			require.NoError(t, err)
			assert.Equal(t, tt.wantAddr, cfg.HTTP.Address)
			assert.Equal(t, tt.wantDB, cfg.DB.URI)
			assert.Equal(t, tt.wantAccrual, cfg.Accrual.Address)
			assert.Equal(t, tt.wantTTL, cfg.Auth.TokenTTL)
		})
	}
}

func TestInvalidValuesNameTheSetting(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{name: "address without port", args: []string{"-a", "localhost"}, want: "RUN_ADDRESS (-a)"},
		{name: "address bad port", env: map[string]string{"RUN_ADDRESS": "localhost:http99"}, want: "RUN_ADDRESS (-a)"},
		{name: "unknown database scheme", args: []string{"-d", "mysql://x"}, want: "DATABASE_URI (-d)"},
		{name: "accrual not a URL", args: []string{"-r", "ftp://x"}, want: "ACCRUAL_SYSTEM_ADDRESS (-r)"},
		{name: "built-in accrual on every interface", env: map[string]string{"GOPHERMART_BUILTIN_ACCRUAL_ADDRESS": "0.0.0.0:8081"}, want: "GOPHERMART_BUILTIN_ACCRUAL_ADDRESS (--builtin-accrual-address): want a loopback address"},
		{name: "built-in accrual without a host", args: []string{"--builtin-accrual-address", ":8081"}, want: "GOPHERMART_BUILTIN_ACCRUAL_ADDRESS (--builtin-accrual-address)"},
		{name: "built-in accrual on a public address", args: []string{"--builtin-accrual-address", "203.0.113.7:8081"}, want: "GOPHERMART_BUILTIN_ACCRUAL_ADDRESS"},
		{name: "built-in accrual without a port", env: map[string]string{"GOPHERMART_BUILTIN_ACCRUAL_ADDRESS": "127.0.0.1"}, want: "GOPHERMART_BUILTIN_ACCRUAL_ADDRESS"},
		{name: "short secret", env: map[string]string{"GOPHERMART_JWT_SECRET": "short"}, want: "GOPHERMART_JWT_SECRET (--jwt-secret)"},
		{name: "zero ttl", args: []string{"--token-ttl", "0s"}, want: "GOPHERMART_TOKEN_TTL (--token-ttl)"},
		{name: "bad samesite", args: []string{"--cookie-samesite", "sometimes"}, want: "GOPHERMART_COOKIE_SAMESITE"},
		{name: "samesite none without secure", args: []string{"--cookie-samesite", "None"}, want: "GOPHERMART_COOKIE_SAMESITE"},
		{name: "bad log level", env: map[string]string{"GOPHERMART_LOG_LEVEL": "loud"}, want: "GOPHERMART_LOG_LEVEL"},
		{name: "bad log format", args: []string{"--log-format", "xml"}, want: "GOPHERMART_LOG_FORMAT (--log-format): must be auto, json or text"},
		{name: "unparseable duration in env", env: map[string]string{"GOPHERMART_POLL_INTERVAL": "soon"}, want: "GOPHERMART_POLL_INTERVAL (--poll-interval): cannot parse \"soon\""},
		{name: "unparseable int in env", env: map[string]string{"GOPHERMART_ACCRUAL_WORKERS": "many"}, want: "GOPHERMART_ACCRUAL_WORKERS"},
		{name: "unparseable bool in env", env: map[string]string{"GOPHERMART_COOKIE_SECURE": "maybe"}, want: "GOPHERMART_COOKIE_SECURE"},
		{name: "zero retry backoff", env: map[string]string{"GOPHERMART_ACCRUAL_RETRY_BACKOFF": "0s"}, want: "GOPHERMART_ACCRUAL_RETRY_BACKOFF (--accrual-retry-backoff): must be positive"},
		{name: "negative min backoff", env: map[string]string{"GOPHERMART_ACCRUAL_MIN_BACKOFF": "-1s"}, want: "GOPHERMART_ACCRUAL_MIN_BACKOFF (--accrual-min-backoff): must be positive"},
		{name: "min backoff over max", env: map[string]string{"GOPHERMART_ACCRUAL_MIN_BACKOFF": "10m"}, want: "GOPHERMART_ACCRUAL_MIN_BACKOFF (--accrual-min-backoff): must not exceed GOPHERMART_ACCRUAL_MAX_BACKOFF"},
		{name: "huge retry backoff", env: map[string]string{"GOPHERMART_ACCRUAL_RETRY_BACKOFF": "1000h"}, want: "GOPHERMART_ACCRUAL_RETRY_BACKOFF (--accrual-retry-backoff): must not exceed GOPHERMART_ACCRUAL_MAX_BACKOFF"},
		{name: "zero max retry after", env: map[string]string{"GOPHERMART_ACCRUAL_MAX_RETRY_AFTER": "0s"}, want: "GOPHERMART_ACCRUAL_MAX_RETRY_AFTER (--accrual-max-retry-after): must be positive"},
		{name: "zero max pending orders", args: []string{"--max-pending-orders", "0"}, want: "GOPHERMART_MAX_PENDING_ORDERS (--max-pending-orders): must be positive"},
		{name: "negative max pending orders", env: map[string]string{"GOPHERMART_MAX_PENDING_ORDERS": "-5"}, want: "GOPHERMART_MAX_PENDING_ORDERS (--max-pending-orders): must be positive"},
		{name: "negative ledger check interval", env: map[string]string{"GOPHERMART_LEDGER_CHECK_INTERVAL": "-1m"}, want: "GOPHERMART_LEDGER_CHECK_INTERVAL (--ledger-check-interval): must not be negative"},
		{name: "zero start timeout", args: []string{"--start-timeout", "0s"}, want: "GOPHERMART_START_TIMEOUT (--start-timeout): must be positive"},
		{name: "zero stop timeout", env: map[string]string{"GOPHERMART_STOP_TIMEOUT": "0s"}, want: "GOPHERMART_STOP_TIMEOUT (--stop-timeout): must be positive"},
		{name: "pprof on every interface", env: map[string]string{"GOPHERMART_PPROF_ADDRESS": ":6060"}, want: "GOPHERMART_PPROF_ADDRESS (--pprof-address): host \"\" must be a loopback address"},
		{name: "pprof on a public address", args: []string{"--pprof-address", "0.0.0.0:6060"}, want: "GOPHERMART_PPROF_ADDRESS (--pprof-address): host \"0.0.0.0\" must be a loopback address"},
		{name: "pprof without port", args: []string{"--pprof-address", "127.0.0.1"}, want: "GOPHERMART_PPROF_ADDRESS (--pprof-address): want host:port"},
		{name: "lease shorter than two requests", args: []string{"--accrual-lease", "10s", "--accrual-timeout", "5s"}, want: "GOPHERMART_ACCRUAL_LEASE (--accrual-lease): must be at least twice GOPHERMART_ACCRUAL_TIMEOUT"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, err := load(t, tt.args...)
			require.ErrorIs(t, err, config.ErrInvalid)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "\n", "one line")
		})
	}
}

// A command with only the database flags (migrate, resync, ledger check) still loads every other
// setting from the environment, the config file and the defaults, and refuses the server's flags.
func TestDatabaseFlagsOnly(t *testing.T) {
	clearEnv(t)
	file := filepath.Join(t.TempDir(), "cfg.yaml")
	require.NoError(t, os.WriteFile(file, []byte("auth:\n  token_ttl: 2h\n"), 0o600))
	t.Setenv("GOPHERMART_ACCRUAL_WORKERS", "7")
	fs := pflag.NewFlagSet("migrate", pflag.ContinueOnError)
	config.AddDatabaseFlags(fs)
	require.NoError(t, fs.Parse([]string{"-d", "sqlite://x.db", "--log-level", "debug", "--config", file}))
	cfg, err := config.Load(fs)
	require.NoError(t, err)
	assert.Equal(t, "sqlite://x.db", cfg.DB.URI)
	assert.Equal(t, "debug", cfg.Log.Level)
	assert.Equal(t, 7, cfg.Accrual.Workers, "from the environment")
	assert.Equal(t, 2*time.Hour, cfg.Auth.TokenTTL, "from the file")
	assert.Equal(t, "localhost:8080", cfg.HTTP.Address, "the default")

	var names []string
	fs.VisitAll(func(f *pflag.Flag) { names = append(names, f.Name) })
	assert.Equal(t, []string{"database-uri", "db-max-conns", "log-level", "log-format", "config"}, names)
	assert.Error(t, fs.Parse([]string{"-a", "localhost:1"}), "no server flags")
}

func TestMaxPendingOrders(t *testing.T) {
	file := filepath.Join(t.TempDir(), "cfg.yaml")
	require.NoError(t, os.WriteFile(file, []byte("orders:\n  max_pending: 30\n"), 0o600))
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want int
	}{
		{name: "default", want: orders.DefaultMaxPending},
		{name: "file", args: []string{"--config", file}, want: 30},
		{name: "env over file", args: []string{"--config", file}, env: map[string]string{"GOPHERMART_MAX_PENDING_ORDERS": "20"}, want: 20},
		{name: "flag over env", args: []string{"--max-pending-orders", "10"}, env: map[string]string{"GOPHERMART_MAX_PENDING_ORDERS": "20"}, want: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			cfg, err := load(t, tt.args...)
			require.NoError(t, err)
			assert.Equal(t, tt.want, cfg.Orders.MaxPending)
		})
	}
}

// A config file key that names no setting is an error naming the key (and the likely one meant),
// never silently ignored; every such key is reported at once.
func TestUnknownConfigFileKeys(t *testing.T) {
	clearEnv(t)
	dir := t.TempDir()
	file := filepath.Join(dir, "cfg.yaml")
	require.NoError(t, os.WriteFile(file, []byte("http:\n  adress: 0.0.0.0:80\n  body_limit: 10\ncolour: blue\n"), 0o600))
	_, err := load(t, "--config", file)
	require.ErrorIs(t, err, config.ErrInvalid)
	assert.Equal(t, "invalid configuration: config file "+file+": unknown key colour; config file "+file+
		": unknown key http.adress (did you mean http.address?)", err.Error())

	good := filepath.Join(dir, "good.yaml")
	require.NoError(t, os.WriteFile(good, []byte("http:\n  address: 0.0.0.0:80\nbalance:\n  reconcile_interval: 0s\n"), 0o600))
	cfg, err := load(t, "--config", good)
	require.NoError(t, err)
	assert.Equal(t, "0.0.0.0:80", cfg.HTTP.Address)
	assert.Zero(t, cfg.Balance.ReconcileInterval, "0 turns the ledger check off")
}

// The lifecycle timeouts and the ledger check interval have their documented defaults.
func TestLifecycleDefaults(t *testing.T) {
	clearEnv(t)
	cfg, err := load(t)
	require.NoError(t, err)
	assert.Equal(t, 2*time.Minute, cfg.Lifecycle.StartTimeout)
	assert.Equal(t, 20*time.Second, cfg.Lifecycle.StopTimeout)
	assert.Equal(t, 10*time.Minute, cfg.Balance.ReconcileInterval)
}

func TestPprofAddress(t *testing.T) {
	clearEnv(t)
	cfg, err := load(t)
	require.NoError(t, err)
	assert.Empty(t, cfg.Pprof.Address, "off by default")

	t.Setenv("GOPHERMART_PPROF_ADDRESS", "127.0.0.1:6060")
	cfg, err = load(t)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:6060", cfg.Pprof.Address)

	clearEnv(t)
	file := filepath.Join(t.TempDir(), "cfg.yaml")
	require.NoError(t, os.WriteFile(file, []byte("http:\n  pprof_address: \"[::1]:6061\"\n"), 0o600))
	cfg, err = load(t, "--config", file)
	require.NoError(t, err)
	assert.Equal(t, "[::1]:6061", cfg.Pprof.Address, "the key is http.pprof_address")
}

func TestMissingConfigFile(t *testing.T) {
	clearEnv(t)
	_, err := load(t, "--config", filepath.Join(t.TempDir(), "nope.yaml"))
	require.ErrorIs(t, err, config.ErrInvalid)
}

// The Retry-After cap defaults to two minutes and takes flag over env.
func TestAccrualMaxRetryAfter(t *testing.T) {
	clearEnv(t)
	cfg, err := load(t)
	require.NoError(t, err)
	assert.Equal(t, 2*time.Minute, cfg.Accrual.MaxRetryAfter)
	t.Setenv("GOPHERMART_ACCRUAL_MAX_RETRY_AFTER", "90s")
	cfg, err = load(t)
	require.NoError(t, err)
	assert.Equal(t, 90*time.Second, cfg.Accrual.MaxRetryAfter)
	cfg, err = load(t, "--accrual-max-retry-after", "5m")
	require.NoError(t, err)
	assert.Equal(t, 5*time.Minute, cfg.Accrual.MaxRetryAfter)
}

// The accrual lease leaves room for a request renewed at its start: Lease >= 2*RequestTimeout + 2s.
func TestAccrualLeaseBoundary(t *testing.T) {
	clearEnv(t)
	cfg, err := load(t, "--accrual-lease", "12s", "--accrual-timeout", "5s")
	require.NoError(t, err)
	assert.Equal(t, 12*time.Second, cfg.Accrual.Lease)
	_, err = load(t, "--accrual-lease", "11999ms", "--accrual-timeout", "5s")
	require.ErrorIs(t, err, config.ErrInvalid)
	assert.Contains(t, err.Error(), "GOPHERMART_ACCRUAL_LEASE")
}

// The built-in accrual service listens on a free loopback port unless told otherwise, and on any
// loopback address it is given.
func TestBuiltinAccrualAddress(t *testing.T) {
	clearEnv(t)
	cfg, err := load(t)
	require.NoError(t, err)
	assert.Equal(t, "127.0.0.1:0", cfg.BuiltinAccrual.Address)
	for _, addr := range []string{"127.0.0.1:8081", "[::1]:8081", "localhost:8081", "127.0.0.2:0"} {
		t.Setenv("GOPHERMART_BUILTIN_ACCRUAL_ADDRESS", addr)
		cfg, err := load(t)
		require.NoError(t, err, addr)
		assert.Equal(t, addr, cfg.BuiltinAccrual.Address)
	}
}

func TestMemoryLimit(t *testing.T) {
	clearEnv(t)
	cfg, err := load(t)
	require.NoError(t, err)
	assert.Equal(t, config.MemoryLimitAuto, cfg.Runtime.MemoryLimit)
	limit, err := cfg.MemoryLimit()
	require.NoError(t, err)
	hashMemory := int64(auth.DefaultParams.Memory) << 10
	assert.Equal(t, config.MemoryLimitBase+int64(runtime.NumCPU()+1)*hashMemory, limit, "auto: one hash more than the CPU count")

	cfg, err = load(t, "--hash-concurrency", "3")
	require.NoError(t, err)
	limit, err = cfg.MemoryLimit()
	require.NoError(t, err)
	assert.Equal(t, config.MemoryLimitBase+4*hashMemory, limit, "auto: one hash more than the hash concurrency")

	t.Setenv("GOPHERMART_MEMORY_LIMIT", "96MiB")
	cfg, err = load(t)
	require.NoError(t, err)
	assert.Equal(t, "96MiB", cfg.Runtime.MemoryLimit)
	limit, err = cfg.MemoryLimit()
	require.NoError(t, err)
	assert.Equal(t, int64(96<<20), limit)

	cfg, err = load(t, "--memory-limit", "off")
	require.NoError(t, err)
	assert.Equal(t, "off", cfg.Runtime.MemoryLimit, "the flag wins")

	clearEnv(t)
	file := filepath.Join(t.TempDir(), "cfg.yaml")
	require.NoError(t, os.WriteFile(file, []byte("runtime:\n  memory_limit: 1GiB\n"), 0o600))
	cfg, err = load(t, "--config", file)
	require.NoError(t, err)
	assert.Equal(t, "1GiB", cfg.Runtime.MemoryLimit)

	for _, bad := range []string{"lots", "64MB", "-1MiB", "0", "9999999TiB", "1.5GiB"} {
		_, err = load(t, "--memory-limit", bad)
		require.ErrorIs(t, err, config.ErrInvalid, bad)
		assert.Contains(t, err.Error(), "GOPHERMART_MEMORY_LIMIT (--memory-limit)", bad)
	}
}

func TestParseMemoryLimit(t *testing.T) {
	for give, want := range map[string]int64{
		"123": 123, "123B": 123, "4KiB": 4 << 10, "32MiB": 32 << 20, " 2GiB ": 2 << 30, "1TiB": 1 << 40,
		"off": math.MaxInt64, "OFF": math.MaxInt64,
	} {
		got, err := config.ParseMemoryLimit(give)
		require.NoError(t, err, give)
		assert.Equal(t, want, got, give)
	}
}
