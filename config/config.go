// Package config loads Gophermart's typed configuration with viper: flag > environment > config
// file > default, where a flag left at its default never hides an environment value.
package config

import (
	"errors"
	"fmt"
	"math"
	"net/url"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/gophermart/gophermart/modules/accrual"
	"github.com/gophermart/gophermart/modules/auth"
	"github.com/gophermart/gophermart/modules/balance"
	"github.com/gophermart/gophermart/modules/orders"
	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/logging"
	"github.com/gophermart/gophermart/modules/platform/pprof"
	"github.com/gophermart/gophermart/modules/platform/settings"
	"github.com/gophermart/gophermart/modules/platform/web"
)

// Config is the whole configuration; cmd hands each module only its own part.
type Config struct {
	HTTP           web.Config     `mapstructure:"http"`
	DB             db.Config      `mapstructure:"db"`
	Auth           auth.Config    `mapstructure:"auth"`
	Accrual        accrual.Config `mapstructure:"accrual"`
	Orders         orders.Config  `mapstructure:"orders"`
	Balance        balance.Config `mapstructure:"balance"`
	BuiltinAccrual BuiltinAccrual `mapstructure:"builtin_accrual"`
	Log            logging.Config `mapstructure:"log"`
	// Pprof is read from the key http.pprof_address: an HTTP setting for the operator, but a listener
	// of its own, apart from the API server, in the code.
	Pprof     pprof.Config `mapstructure:"-"`
	Lifecycle Lifecycle    `mapstructure:"lifecycle"`
	Runtime   Runtime      `mapstructure:"runtime"`
}

// Runtime tunes the Go runtime of the process.
type Runtime struct {
	// MemoryLimit is the Go runtime's soft memory limit (runtime/debug.SetMemoryLimit): "auto"
	// (MemoryLimitAuto), or in the GOMEMLIMIT syntax bytes with an optional B, KiB, MiB, GiB or TiB
	// suffix, or "off". Near it the garbage collector runs sooner and hands freed memory back to
	// the system. The GOMEMLIMIT environment variable, when set, wins over it.
	MemoryLimit string `mapstructure:"memory_limit"`
}

// MemoryLimitAuto is the default memory limit setting. It sizes the limit to what the service needs:
// MemoryLimitBase for everything but password hashing, plus room for one argon2id computation more
// than may run at once (auth.hash_concurrency), so that the collector never has to run on every
// allocation while hashes are in flight.
const MemoryLimitAuto = "auto"

// MemoryLimitBase is the part of the automatic memory limit for everything but password hashing:
// the live heap under load is a few MiB, and this leaves the collector room to let it double. Less
// makes it run almost continuously while hashes are in flight (with 8 MiB a registration took 2.3
// times its CPU).
const MemoryLimitBase = 10 << 20

// MemoryLimitOff is the memory limit setting that leaves the process without one.
const MemoryLimitOff = "off"

// MemoryLimit returns the soft memory limit the runtime.memory_limit setting asks for, in bytes.
func (c *Config) MemoryLimit() (int64, error) {
	if !strings.EqualFold(strings.TrimSpace(c.Runtime.MemoryLimit), MemoryLimitAuto) {
		return ParseMemoryLimit(c.Runtime.MemoryLimit)
	}
	hashes := c.Auth.HashConcurrency
	if hashes <= 0 {
		hashes = runtime.NumCPU() // as auth sizes its hashing slots
	}
	return MemoryLimitBase + int64(hashes+1)*int64(auth.DefaultParams.Memory)<<10, nil
}

// ParseMemoryLimit reads a memory limit in the GOMEMLIMIT syntax: a byte count with an optional B,
// KiB, MiB, GiB or TiB suffix, or "off" (no limit: math.MaxInt64, as the runtime takes it).
func ParseMemoryLimit(s string) (int64, error) {
	s = strings.TrimSpace(s)
	if strings.EqualFold(s, MemoryLimitOff) {
		return math.MaxInt64, nil
	}
	units := []struct {
		suffix string
		shift  uint
	}{{"TiB", 40}, {"GiB", 30}, {"MiB", 20}, {"KiB", 10}, {"B", 0}}
	num, shift := s, uint(0)
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, shift = n, u.shift
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64>>shift {
		return 0, fmt.Errorf("want %q, a positive size such as 64MiB (suffix B, KiB, MiB, GiB or TiB) or %q, got %q", MemoryLimitAuto, MemoryLimitOff, s)
	}
	return n << shift, nil
}

// Lifecycle bounds how long the program may take to start and to stop.
type Lifecycle struct {
	// StartTimeout bounds every start-up step together: connecting to the database, migrations
	// (which may wait for another instance's), loading the signing secret, binding the listeners.
	StartTimeout time.Duration `mapstructure:"start_timeout"`
	// StopTimeout bounds a graceful stop: in-flight requests and accrual calls get this long.
	StopTimeout time.Duration `mapstructure:"stop_timeout"`
}

// BuiltinAccrual is the part of the built-in accrual service, run in-process when no accrual system
// address is set.
type BuiltinAccrual struct {
	// Address is the loopback host:port of its own listener; port 0 picks a free one, so several
	// instances on one machine never collide.
	Address string `mapstructure:"address"`
}

// DefaultBuiltinAccrualAddress is where the built-in accrual service listens unless configured: a
// free port on IPv4 loopback.
const DefaultBuiltinAccrualAddress = "127.0.0.1:0"

// ErrInvalid wraps every validation failure; the program exits with code 2 on it.
var ErrInvalid = errors.New("invalid configuration")

// Setting describes one configuration key: its flag, environment variable and default.
type Setting = settings.Setting

// Settings lists every setting, in the order --help and README show them.
var Settings = settings.Table{
	{Key: "http.address", Flag: "run-address", Short: "a", Env: "RUN_ADDRESS", Default: "localhost:8080", Usage: "address to listen on (host:port)"},
	{Key: "db.uri", Flag: "database-uri", Short: "d", Env: "DATABASE_URI", Default: "", Usage: "database URL: postgres://…, sqlite://path or file:path; empty: SQLite file " + db.DefaultSQLitePath},
	{Key: "accrual.address", Flag: "accrual-address", Short: "r", Env: "ACCRUAL_SYSTEM_ADDRESS", Default: "", Usage: "accrual system base URL; empty: run the built-in accrual service in-process"},
	{Key: "builtin_accrual.address", Flag: "builtin-accrual-address", Env: "GOPHERMART_BUILTIN_ACCRUAL_ADDRESS", Default: DefaultBuiltinAccrualAddress, Usage: "loopback host:port of the built-in accrual service (without an accrual system base URL); port 0: a free one, logged at start"},
	{Key: "db.max_open_conns", Flag: "db-max-conns", Env: "GOPHERMART_DB_MAX_CONNS", Default: 20, Usage: "maximum open database connections"},
	{Key: "http.body_limit", Flag: "body-limit", Env: "GOPHERMART_BODY_LIMIT", Default: 1 << 20, Usage: "maximum request body size on the wire, bytes"},
	{Key: "http.max_inflated", Flag: "max-inflated", Env: "GOPHERMART_MAX_INFLATED", Default: 1 << 20, Usage: "maximum size of a gzip request body once inflated, bytes (over it: 413)"},
	{Key: "http.read_timeout", Flag: "read-timeout", Env: "GOPHERMART_READ_TIMEOUT", Default: 10 * time.Second, Usage: "time allowed to read a request"},
	{Key: "http.write_timeout", Flag: "write-timeout", Env: "GOPHERMART_WRITE_TIMEOUT", Default: 30 * time.Second, Usage: "time allowed to write a response"},
	{Key: "http.idle_timeout", Flag: "idle-timeout", Env: "GOPHERMART_IDLE_TIMEOUT", Default: 120 * time.Second, Usage: "keep-alive idle timeout"},
	{Key: "http.pprof_address", Flag: "pprof-address", Env: "GOPHERMART_PPROF_ADDRESS", Default: "", Usage: "loopback host:port serving net/http/pprof (/debug/pprof/) on a listener of its own; empty: off"},
	{Key: "auth.jwt_secret", Flag: "jwt-secret", Env: "GOPHERMART_JWT_SECRET", Default: "", Usage: "HS256 signing secret (at least 32 bytes); empty: generated once and kept in the database"},
	{Key: "auth.token_ttl", Flag: "token-ttl", Env: "GOPHERMART_TOKEN_TTL", Default: 24 * time.Hour, Usage: "lifetime of an issued token"},
	{Key: "auth.cookie_secure", Flag: "cookie-secure", Env: "GOPHERMART_COOKIE_SECURE", Default: false, Usage: "mark the auth cookie Secure (send it over HTTPS only)"},
	{Key: "auth.cookie_samesite", Flag: "cookie-samesite", Env: "GOPHERMART_COOKIE_SAMESITE", Default: "Lax", Usage: "SameSite attribute of the auth cookie: Strict, Lax or None"},
	{Key: "auth.hash_concurrency", Flag: "hash-concurrency", Env: "GOPHERMART_HASH_CONCURRENCY", Default: 0, Usage: "concurrent password hash computations (7 MiB each); 0: number of CPUs"},
	{Key: "auth.login_max_failures", Flag: "login-max-failures", Env: "GOPHERMART_LOGIN_MAX_FAILURES", Default: 5, Usage: "failed logins per login and client address before 429"},
	{Key: "auth.login_window", Flag: "login-window", Env: "GOPHERMART_LOGIN_WINDOW", Default: 5 * time.Minute, Usage: "window over which failed logins count"},
	{Key: "balance.reconcile_interval", Flag: "ledger-check-interval", Env: "GOPHERMART_LEDGER_CHECK_INTERVAL", Default: balance.DefaultReconcileInterval, Usage: "how often serve checks the ledger over the whole database (an Error log per user who breaks it, gauge gophermart_ledger_violations); 0: never"},
	{Key: "orders.max_pending", Flag: "max-pending-orders", Env: "GOPHERMART_MAX_PENDING_ORDERS", Default: orders.DefaultMaxPending, Usage: "pending (NEW or PROCESSING) orders one user may have; an upload of a new number beyond it is answered 429"},
	{Key: "accrual.workers", Flag: "accrual-workers", Env: "GOPHERMART_ACCRUAL_WORKERS", Default: 4, Usage: "orders asked about at once"},
	{Key: "accrual.poll_interval", Flag: "poll-interval", Env: "GOPHERMART_POLL_INTERVAL", Default: 10 * time.Second, Usage: "queue scan interval when nothing signals new work"},
	{Key: "accrual.request_timeout", Flag: "accrual-timeout", Env: "GOPHERMART_ACCRUAL_TIMEOUT", Default: 5 * time.Second, Usage: "timeout of one request to the accrual system"},
	{Key: "accrual.max_retries", Flag: "accrual-retries", Env: "GOPHERMART_ACCRUAL_RETRIES", Default: 3, Usage: "retries of a 5xx or network failure before the order waits for a later round"},
	{Key: "accrual.max_backoff", Flag: "accrual-max-backoff", Env: "GOPHERMART_ACCRUAL_MAX_BACKOFF", Default: 5 * time.Minute, Usage: "cap of the growing delay between asks about one order"},
	{Key: "accrual.lease", Flag: "accrual-lease", Env: "GOPHERMART_ACCRUAL_LEASE", Default: 60 * time.Second, Usage: "how long an instance holds a claimed order before another may take it (renewed before every request; at least 2 x accrual timeout + 2s)"},
	{Key: "accrual.min_backoff", Flag: "accrual-min-backoff", Env: "GOPHERMART_ACCRUAL_MIN_BACKOFF", Default: 250 * time.Millisecond, Usage: "first delay before an order is asked again (PROCESSING: grows by half per ask; unknown or failing: doubles), up to the max backoff"},
	{Key: "accrual.retry_backoff", Flag: "accrual-retry-backoff", Env: "GOPHERMART_ACCRUAL_RETRY_BACKOFF", Default: 100 * time.Millisecond, Usage: "delay before the first retry of a failed accrual request, doubling per retry"},
	{Key: "accrual.max_retry_after", Flag: "accrual-max-retry-after", Env: "GOPHERMART_ACCRUAL_MAX_RETRY_AFTER", Default: 2 * time.Minute, Usage: "cap of the pause a 429's Retry-After may ask for"},
	{Key: "lifecycle.start_timeout", Flag: "start-timeout", Env: "GOPHERMART_START_TIMEOUT", Default: 2 * time.Minute, Usage: "time allowed to start: connect to the database, migrate (perhaps waiting for another instance), bind the listeners"},
	{Key: "lifecycle.stop_timeout", Flag: "stop-timeout", Env: "GOPHERMART_STOP_TIMEOUT", Default: 20 * time.Second, Usage: "time allowed to stop gracefully: in-flight requests and accrual calls finish within it"},
	{Key: "runtime.memory_limit", Flag: "memory-limit", Env: "GOPHERMART_MEMORY_LIMIT", Default: MemoryLimitAuto, Usage: "soft memory limit of the Go runtime: auto (10 MiB plus one password hash more than the hash concurrency), a size such as 64MiB (B, KiB, MiB, GiB, TiB) or off; GOMEMLIMIT, when set, wins"},
	{Key: "log.level", Flag: "log-level", Env: "GOPHERMART_LOG_LEVEL", Default: "info", Usage: "log level: debug, info, warn, error"},
	{Key: "log.format", Flag: "log-format", Env: "GOPHERMART_LOG_FORMAT", Default: logging.FormatAuto, Usage: "log format on stderr: auto (text on a terminal, json otherwise), json or text"},
}

// ConfigFileFlag is the flag naming an optional YAML config file (env GOPHERMART_CONFIG).
const ConfigFileFlag = "config"

// DatabaseSettings are the settings of the commands that only work on the database (migrate,
// resync, ledger check): which database, and logging.
var DatabaseSettings = Settings.Only("db.uri", "db.max_open_conns", "log.level", "log.format")

// AddFlags defines every setting's flag, plus --config, on fs: the flags of serve.
func AddFlags(fs *pflag.FlagSet) { addFlags(fs, Settings) }

// AddDatabaseFlags defines the flags of DatabaseSettings, plus --config, on fs. Load still reads
// every other setting from the environment, the config file or its default.
func AddDatabaseFlags(fs *pflag.FlagSet) { addFlags(fs, DatabaseSettings) }

func addFlags(fs *pflag.FlagSet, t settings.Table) {
	fs.SortFlags = false // --help lists them in table order: the ones a newcomer needs come first
	t.AddFlags(fs)
	fs.String(ConfigFileFlag, "", "YAML config file (env GOPHERMART_CONFIG); every key in config.example.yaml")
}

// Load reads the configuration from fs (already parsed), the environment and the config file, then
// validates it. Errors wrap ErrInvalid and name the setting.
func Load(fs *pflag.FlagSet) (*Config, error) {
	v, err := Settings.Viper(fs)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	file := ""
	if f := fs.Lookup(ConfigFileFlag); f != nil {
		file = f.Value.String()
	}
	if file == "" {
		_ = v.BindEnv("config_file", "GOPHERMART_CONFIG")
		file = v.GetString("config_file")
	}
	var problems []string
	if file != "" {
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("%w: config file %s: %w", ErrInvalid, file, err)
		}
		keys, err := fileKeys(file)
		if err != nil {
			return nil, fmt.Errorf("%w: config file %s: %w", ErrInvalid, file, err)
		}
		for _, p := range Settings.UnknownKeys(keys) {
			problems = append(problems, "config file "+file+": "+p)
		}
	}
	problems = append(problems, Settings.CheckTypes(v)...)
	var c Config
	if err := v.Unmarshal(&c); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(strings.Fields(err.Error()), " "))
	}
	// The course's tools pass "localhost:8081" as often as "http://localhost:8081".
	if a := c.Accrual.Address; a != "" && !strings.Contains(a, "://") {
		c.Accrual.Address = "http://" + a
	}
	c.Accrual.Address = strings.TrimRight(c.Accrual.Address, "/")
	c.Pprof.Address = strings.TrimSpace(v.GetString("http.pprof_address"))
	if problems = append(problems, c.problems()...); len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(problems, "; ")) // one line, every problem
	}
	return &c, nil
}

// Validate checks every value that could not work, naming the setting in the error.
func (c *Config) Validate() error {
	if problems := c.problems(); len(problems) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(problems, "; "))
	}
	return nil
}

// problems lists every value that could not work, each naming its setting.
func (c *Config) problems() []string {
	var problems []string
	bad := func(key, why string) { problems = append(problems, Settings.Name(key)+": "+why) }
	if err := settings.CheckAddress(c.HTTP.Address); err != nil {
		bad("http.address", err.Error())
	}
	if err := pprof.CheckAddress(c.Pprof.Address); err != nil {
		bad("http.pprof_address", err.Error())
	}
	if _, _, err := db.ParseURI(c.DB.URI); err != nil {
		bad("db.uri", err.Error())
	}
	if c.Accrual.Address != "" {
		if err := validURL(c.Accrual.Address); err != nil {
			bad("accrual.address", err.Error())
		}
	}
	// Its POST endpoints create points: it must never be reachable from another machine.
	if err := settings.CheckLoopbackAddress(c.BuiltinAccrual.Address); err != nil {
		bad("builtin_accrual.address", err.Error()+" (the built-in accrual service creates points: loopback only)")
	}
	if c.Auth.JWTSecret != "" && len(c.Auth.JWTSecret) < 32 {
		bad("auth.jwt_secret", "must be at least 32 bytes")
	}
	switch strings.ToLower(c.Auth.CookieSameSite) {
	case "strict", "lax":
	case "none":
		if !c.Auth.CookieSecure {
			bad("auth.cookie_samesite", "None requires GOPHERMART_COOKIE_SECURE=true (browsers drop such cookies otherwise)")
		}
	default:
		bad("auth.cookie_samesite", "must be Strict, Lax or None")
	}
	if _, err := c.MemoryLimit(); err != nil {
		bad("runtime.memory_limit", err.Error())
	}
	if _, ok := logging.ParseLevel(c.Log.Level); !ok {
		bad("log.level", "must be debug, info, warn or error")
	}
	if _, ok := logging.ParseFormat(c.Log.Format); !ok {
		bad("log.format", "must be auto, json or text")
	}
	positive := map[string]int64{
		"auth.token_ttl": int64(c.Auth.TokenTTL), "http.body_limit": int64(c.HTTP.BodyLimit),
		"http.max_inflated": int64(c.HTTP.MaxInflated), "http.read_timeout": int64(c.HTTP.ReadTimeout),
		"http.write_timeout": int64(c.HTTP.WriteTimeout), "http.idle_timeout": int64(c.HTTP.IdleTimeout),
		"auth.login_max_failures": int64(c.Auth.LoginMaxFailures), "auth.login_window": int64(c.Auth.LoginWindow),
		"accrual.workers": int64(c.Accrual.Workers), "accrual.poll_interval": int64(c.Accrual.PollInterval),
		"accrual.request_timeout": int64(c.Accrual.RequestTimeout), "accrual.max_backoff": int64(c.Accrual.MaxBackoff),
		"accrual.lease": int64(c.Accrual.Lease), "db.max_open_conns": int64(c.DB.MaxOpenConns),
		"accrual.min_backoff": int64(c.Accrual.MinBackoff), "accrual.retry_backoff": int64(c.Accrual.RetryBackoff),
		"accrual.max_retry_after": int64(c.Accrual.MaxRetryAfter),
		"orders.max_pending":      int64(c.Orders.MaxPending),
		"lifecycle.start_timeout": int64(c.Lifecycle.StartTimeout),
		"lifecycle.stop_timeout":  int64(c.Lifecycle.StopTimeout),
	}
	for _, s := range Settings { // in table order, so errors come out stable
		if n, ok := positive[s.Key]; ok && n <= 0 {
			bad(s.Key, "must be positive")
		}
	}
	if c.Auth.HashConcurrency < 0 {
		bad("auth.hash_concurrency", "must not be negative")
	}
	if c.Balance.ReconcileInterval < 0 {
		bad("balance.reconcile_interval", "must not be negative (0 turns the check off)")
	}
	if c.Accrual.MaxRetries < 0 {
		bad("accrual.max_retries", "must not be negative")
	}
	if c.Accrual.MaxBackoff > 0 {
		if c.Accrual.MinBackoff > c.Accrual.MaxBackoff {
			bad("accrual.min_backoff", "must not exceed "+Settings.Name("accrual.max_backoff"))
		}
		if c.Accrual.RetryBackoff > c.Accrual.MaxBackoff {
			bad("accrual.retry_backoff", "must not exceed "+Settings.Name("accrual.max_backoff"))
		}
	}
	// A request must end inside the lease renewed right before it, with room to record the answer.
	if minLease := 2*c.Accrual.RequestTimeout + 2*time.Second; c.Accrual.Lease > 0 && c.Accrual.Lease < minLease {
		bad("accrual.lease", fmt.Sprintf("must be at least twice %s plus 2s (%s)",
			Settings.Name("accrual.request_timeout"), minLease))
	}
	return problems
}

// fileKeys returns the keys the config file sets, and only those (the loader's viper also holds
// every default and environment variable).
func fileKeys(file string) ([]string, error) {
	v := viper.New()
	v.SetConfigFile(file)
	if err := v.ReadInConfig(); err != nil {
		return nil, err
	}
	return v.AllKeys(), nil
}

func validURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("want an http(s) URL such as http://localhost:8081, got %q", s)
	}
	return nil
}
