// Package config loads Gophermart's typed configuration with viper: flag > environment > config
// file > default, where a flag left at its default never hides an environment value.
package config

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/gophermart/gophermart/modules/accrual"
	"github.com/gophermart/gophermart/modules/auth"
	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/logging"
	"github.com/gophermart/gophermart/modules/platform/web"
)

// Config is the whole configuration; cmd hands each module only its own part.
type Config struct {
	HTTP    web.Config     `mapstructure:"http"`
	DB      db.Config      `mapstructure:"db"`
	Auth    auth.Config    `mapstructure:"auth"`
	Accrual accrual.Config `mapstructure:"accrual"`
	Log     logging.Config `mapstructure:"log"`
}

// ErrInvalid wraps every validation failure; the program exits with code 2 on it.
var ErrInvalid = errors.New("invalid configuration")

// Setting describes one configuration key: its flag, environment variable and default.
type Setting struct {
	Key     string // viper key, e.g. "http.address"; also the key in the YAML config file
	Flag    string // long flag name
	Short   string // one-letter flag, or ""
	Env     string // environment variable
	Default any    // string, int, bool or time.Duration: also the flag's type
	Usage   string
}

// Settings lists every setting, in the order --help and README show them.
var Settings = []Setting{
	{"http.address", "run-address", "a", "RUN_ADDRESS", "localhost:8080", "address to listen on (host:port)"},
	{"db.uri", "database-uri", "d", "DATABASE_URI", "", "database URL: postgres://…, sqlite://path or file:path; empty: SQLite file " + db.DefaultSQLitePath},
	{"accrual.address", "accrual-address", "r", "ACCRUAL_SYSTEM_ADDRESS", "", "accrual system base URL; empty: run the built-in accrual service in-process"},
	{"db.max_open_conns", "db-max-conns", "", "GOPHERMART_DB_MAX_CONNS", 20, "maximum open database connections"},
	{"http.body_limit", "body-limit", "", "GOPHERMART_BODY_LIMIT", 1 << 20, "maximum request body size on the wire, bytes"},
	{"http.max_inflated", "max-inflated", "", "GOPHERMART_MAX_INFLATED", 1 << 20, "maximum size of a gzip request body once inflated, bytes (over it: 413)"},
	{"http.read_timeout", "read-timeout", "", "GOPHERMART_READ_TIMEOUT", 10 * time.Second, "time allowed to read a request"},
	{"http.write_timeout", "write-timeout", "", "GOPHERMART_WRITE_TIMEOUT", 30 * time.Second, "time allowed to write a response"},
	{"http.idle_timeout", "idle-timeout", "", "GOPHERMART_IDLE_TIMEOUT", 120 * time.Second, "keep-alive idle timeout"},
	{"auth.jwt_secret", "jwt-secret", "", "GOPHERMART_JWT_SECRET", "", "HS256 signing secret (at least 32 bytes); empty: generated once and kept in the database"},
	{"auth.token_ttl", "token-ttl", "", "GOPHERMART_TOKEN_TTL", 24 * time.Hour, "lifetime of an issued token"},
	{"auth.cookie_secure", "cookie-secure", "", "GOPHERMART_COOKIE_SECURE", false, "mark the auth cookie Secure (send it over HTTPS only)"},
	{"auth.cookie_samesite", "cookie-samesite", "", "GOPHERMART_COOKIE_SAMESITE", "Lax", "SameSite attribute of the auth cookie: Strict, Lax or None"},
	{"auth.hash_concurrency", "hash-concurrency", "", "GOPHERMART_HASH_CONCURRENCY", 0, "concurrent password hash computations (19 MiB each); 0: number of CPUs"},
	{"auth.login_max_failures", "login-max-failures", "", "GOPHERMART_LOGIN_MAX_FAILURES", 5, "failed logins per login and client address before 429"},
	{"auth.login_window", "login-window", "", "GOPHERMART_LOGIN_WINDOW", 5 * time.Minute, "window over which failed logins count"},
	{"accrual.workers", "accrual-workers", "", "GOPHERMART_ACCRUAL_WORKERS", 4, "orders asked about at once"},
	{"accrual.poll_interval", "poll-interval", "", "GOPHERMART_POLL_INTERVAL", 10 * time.Second, "queue scan interval when nothing signals new work"},
	{"accrual.request_timeout", "accrual-timeout", "", "GOPHERMART_ACCRUAL_TIMEOUT", 5 * time.Second, "timeout of one request to the accrual system"},
	{"accrual.max_retries", "accrual-retries", "", "GOPHERMART_ACCRUAL_RETRIES", 3, "retries of a 5xx or network failure before the order waits for a later round"},
	{"accrual.max_backoff", "accrual-max-backoff", "", "GOPHERMART_ACCRUAL_MAX_BACKOFF", 5 * time.Minute, "cap of the growing delay between asks about one order"},
	{"accrual.lease", "accrual-lease", "", "GOPHERMART_ACCRUAL_LEASE", 60 * time.Second, "how long an instance holds a claimed order before another may take it (renewed before every request; at least 2 x accrual timeout + 2s)"},
	{"accrual.min_backoff", "accrual-min-backoff", "", "GOPHERMART_ACCRUAL_MIN_BACKOFF", 250 * time.Millisecond, "first delay before an order is asked again (PROCESSING: grows by half per ask; unknown or failing: doubles), up to the max backoff"},
	{"accrual.retry_backoff", "accrual-retry-backoff", "", "GOPHERMART_ACCRUAL_RETRY_BACKOFF", 100 * time.Millisecond, "delay before the first retry of a failed accrual request, doubling per retry"},
	{"log.level", "log-level", "", "GOPHERMART_LOG_LEVEL", "info", "log level: debug, info, warn, error"},
	{"log.format", "log-format", "", "GOPHERMART_LOG_FORMAT", "json", "log format: json or text"},
}

// ConfigFileFlag is the flag naming an optional YAML config file (env GOPHERMART_CONFIG).
const ConfigFileFlag = "config"

// AddFlags defines every setting's flag, plus --config, on fs.
func AddFlags(fs *pflag.FlagSet) {
	fs.String(ConfigFileFlag, "", "YAML config file (env GOPHERMART_CONFIG); keys as in README")
	for _, s := range Settings {
		usage := fmt.Sprintf("%s (env %s)", s.Usage, s.Env)
		switch d := s.Default.(type) {
		case string:
			fs.StringP(s.Flag, s.Short, d, usage)
		case int:
			fs.IntP(s.Flag, s.Short, d, usage)
		case bool:
			fs.BoolP(s.Flag, s.Short, d, usage)
		case time.Duration:
			fs.DurationP(s.Flag, s.Short, d, usage)
		default:
			panic(fmt.Sprintf("config: setting %s has unsupported default type %T", s.Key, d))
		}
	}
}

// Load reads the configuration from fs (already parsed), the environment and the config file, then
// validates it. Errors wrap ErrInvalid and name the setting.
func Load(fs *pflag.FlagSet) (*Config, error) {
	v := viper.New()
	for _, s := range Settings {
		v.SetDefault(s.Key, s.Default)
		if err := v.BindEnv(s.Key, s.Env); err != nil {
			return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
		}
		if f := fs.Lookup(s.Flag); f != nil && f.Changed {
			if err := v.BindPFlag(s.Key, f); err != nil {
				return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
			}
		}
	}
	file := ""
	if f := fs.Lookup(ConfigFileFlag); f != nil {
		file = f.Value.String()
	}
	if file == "" {
		_ = v.BindEnv("config_file", "GOPHERMART_CONFIG")
		file = v.GetString("config_file")
	}
	if file != "" {
		v.SetConfigFile(file)
		if err := v.ReadInConfig(); err != nil {
			return nil, fmt.Errorf("%w: config file %s: %w", ErrInvalid, file, err)
		}
	}
	if err := checkTypes(v); err != nil {
		return nil, err
	}
	var c Config
	if err := v.Unmarshal(&c); err != nil {
		return nil, fmt.Errorf("%w: %s", ErrInvalid, strings.Join(strings.Fields(err.Error()), " "))
	}
	// The course's tools pass "localhost:8081" as often as "http://localhost:8081".
	if a := c.Accrual.Address; a != "" && !strings.Contains(a, "://") {
		c.Accrual.Address = "http://" + a
	}
	c.Accrual.Address = strings.TrimRight(c.Accrual.Address, "/")
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return &c, nil
}

// Validate checks every value that could not work, naming the setting in the error.
func (c *Config) Validate() error {
	var errs []error
	bad := func(key, why string) {
		errs = append(errs, fmt.Errorf("%s: %s", settingName(key), why))
	}
	if err := validAddress(c.HTTP.Address); err != nil {
		bad("http.address", err.Error())
	}
	if _, _, err := db.ParseURI(c.DB.URI); err != nil {
		bad("db.uri", err.Error())
	}
	if c.Accrual.Address != "" {
		if err := validURL(c.Accrual.Address); err != nil {
			bad("accrual.address", err.Error())
		}
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
	if _, ok := logging.ParseLevel(c.Log.Level); !ok {
		bad("log.level", "must be debug, info, warn or error")
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
	}
	for _, s := range Settings { // in table order, so errors come out stable
		if n, ok := positive[s.Key]; ok && n <= 0 {
			bad(s.Key, "must be positive")
		}
	}
	if c.Auth.HashConcurrency < 0 {
		bad("auth.hash_concurrency", "must not be negative")
	}
	if c.Accrual.MaxRetries < 0 {
		bad("accrual.max_retries", "must not be negative")
	}
	if c.Accrual.MaxBackoff > 0 {
		if c.Accrual.MinBackoff > c.Accrual.MaxBackoff {
			bad("accrual.min_backoff", "must not exceed "+settingName("accrual.max_backoff"))
		}
		if c.Accrual.RetryBackoff > c.Accrual.MaxBackoff {
			bad("accrual.retry_backoff", "must not exceed "+settingName("accrual.max_backoff"))
		}
	}
	// A request must end inside the lease renewed right before it, with room to record the answer.
	if minLease := 2*c.Accrual.RequestTimeout + 2*time.Second; c.Accrual.Lease > 0 && c.Accrual.Lease < minLease {
		bad("accrual.lease", fmt.Sprintf("must be at least twice %s plus 2s (%s)",
			settingName("accrual.request_timeout"), minLease))
	}
	if len(errs) == 0 {
		return nil
	}
	msgs := make([]string, len(errs))
	for i, e := range errs {
		msgs[i] = e.Error()
	}
	return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(msgs, "; ")) // one line, every problem
}

// checkTypes makes sure every value given as text (env, file) parses as its setting's type, so a
// mistake is reported naming the setting rather than deep inside the decoder.
func checkTypes(v *viper.Viper) error {
	var msgs []string
	for _, s := range Settings {
		raw, ok := v.Get(s.Key).(string)
		if !ok {
			continue
		}
		var err error
		switch s.Default.(type) {
		case int:
			_, err = strconv.Atoi(strings.TrimSpace(raw))
		case bool:
			_, err = strconv.ParseBool(strings.TrimSpace(raw))
		case time.Duration:
			_, err = time.ParseDuration(strings.TrimSpace(raw))
		}
		if err != nil {
			msgs = append(msgs, fmt.Sprintf("%s: cannot parse %q as %T", settingName(s.Key), raw, s.Default))
		}
	}
	if len(msgs) > 0 {
		return fmt.Errorf("%w: %s", ErrInvalid, strings.Join(msgs, "; "))
	}
	return nil
}

// settingName names a setting the way a user sets it: "RUN_ADDRESS (-a)".
func settingName(key string) string {
	for _, s := range Settings {
		if s.Key == key {
			if s.Short != "" {
				return s.Env + " (-" + s.Short + ")"
			}
			return s.Env + " (--" + s.Flag + ")"
		}
	}
	return key
}

func validAddress(addr string) error {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port, got %q", addr)
	}
	if strings.ContainsAny(host, " /?#") {
		return fmt.Errorf("bad host %q", host)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("bad port %q", port)
	}
	return nil
}

func validURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("want an http(s) URL such as http://localhost:8081, got %q", s)
	}
	return nil
}
