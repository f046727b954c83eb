package main

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/pflag"
	"github.com/spf13/viper"

	"github.com/gophermart/gophermart/modules/calculator"
	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/logging"
)

// errInvalid wraps every configuration mistake: exit code 2.
var errInvalid = errors.New("invalid configuration")

// errUsage marks command-line mistakes (unknown flag, stray argument): exit code 2.
var errUsage = errors.New("usage")

// config is the accrual binary's configuration.
type config struct {
	Address     string
	DatabaseURI string
	Calculator  calculator.Config
	Log         logging.Config
}

// setting is one configuration key: its flag, environment variable and default, whose type is the
// setting's type (string, int, float64 or time.Duration).
type setting struct {
	key     string
	flag    string
	short   string
	env     string
	def     any
	usage   string
	setFrom func(c *config, v any)
}

// settings lists every setting, in the order --help and README show them.
var settings = []setting{
	{
		"run_address", "run-address", "a", "RUN_ADDRESS", "localhost:8081", "address to listen on (host:port)",
		func(c *config, v any) { c.Address = v.(string) },
	},
	{
		"database_uri", "database-uri", "d", "DATABASE_URI", "", "database URL: postgres://…, sqlite://path or file:path; empty: in memory (lost at exit)",
		func(c *config, v any) { c.DatabaseURI = v.(string) },
	},
	{
		"processing_delay", "processing-delay", "", "ACCRUAL_PROCESSING_DELAY", calculator.DefaultProcessingDelay, "time an order spends in REGISTERED and again in PROCESSING",
		func(c *config, v any) { c.Calculator.ProcessingDelay = v.(time.Duration) },
	},
	{
		"rate_limit", "rate-limit", "", "ACCRUAL_RATE_LIMIT", 0, "test knob: GET /api/orders/{number} answered per minute before 429; 0: no limit",
		func(c *config, v any) { c.Calculator.RateLimit = v.(int) },
	},
	{
		"retry_after", "retry-after", "", "ACCRUAL_RETRY_AFTER", calculator.DefaultRetryAfter, "test knob: Retry-After of a 429, in seconds",
		func(c *config, v any) { c.Calculator.RetryAfter = v.(int) },
	},
	{
		"fail_rate", "fail-rate", "", "ACCRUAL_FAIL_RATE", 0.0, "test knob: fraction (0..1) of GET /api/orders/{number} answered 500",
		func(c *config, v any) { c.Calculator.FailRate = v.(float64) },
	},
	{
		"latency", "latency", "", "ACCRUAL_LATENCY", time.Duration(0), "test knob: latency added to every GET /api/orders/{number}",
		func(c *config, v any) { c.Calculator.Latency = v.(time.Duration) },
	},
	{
		"request_log", "request-log", "", "ACCRUAL_REQUEST_LOG", "", "test knob: file that gets one JSON line per GET /api/orders/{number}",
		func(c *config, v any) { c.Calculator.RequestLog = v.(string) },
	},
	{
		"log_level", "log-level", "", "ACCRUAL_LOG_LEVEL", "info", "log level: debug, info, warn, error",
		func(c *config, v any) { c.Log.Level = v.(string) },
	},
	{
		"log_format", "log-format", "", "ACCRUAL_LOG_FORMAT", "json", "log format: json or text",
		func(c *config, v any) { c.Log.Format = v.(string) },
	},
}

// addFlags defines every setting's flag on fs.
func addFlags(fs *pflag.FlagSet) {
	for _, s := range settings {
		usage := fmt.Sprintf("%s (env %s)", s.usage, s.env)
		switch d := s.def.(type) {
		case string:
			fs.StringP(s.flag, s.short, d, usage)
		case int:
			fs.IntP(s.flag, s.short, d, usage)
		case float64:
			fs.Float64P(s.flag, s.short, d, usage)
		case time.Duration:
			fs.DurationP(s.flag, s.short, d, usage)
		default:
			panic(fmt.Sprintf("setting %s has unsupported default type %T", s.key, d))
		}
	}
}

// loadConfig reads the configuration: flag > environment > default. A flag is bound only when given,
// so one left at its default never hides the environment. Every problem is reported on one line,
// naming the setting, wrapped in errInvalid.
func loadConfig(fs *pflag.FlagSet) (*config, error) {
	v := viper.New()
	for _, s := range settings {
		v.SetDefault(s.key, s.def)
		if err := v.BindEnv(s.key, s.env); err != nil {
			return nil, fmt.Errorf("%w: %w", errInvalid, err)
		}
		if f := fs.Lookup(s.flag); f != nil && f.Changed {
			if err := v.BindPFlag(s.key, f); err != nil {
				return nil, fmt.Errorf("%w: %w", errInvalid, err)
			}
		}
	}
	c := &config{Calculator: calculator.DefaultConfig()}
	var problems []string
	bad := func(s setting, format string, args ...any) {
		problems = append(problems, settingName(s)+": "+fmt.Sprintf(format, args...))
	}
	for _, s := range settings {
		raw := strings.TrimSpace(fmt.Sprint(v.Get(s.key))) // env values are text; flags and defaults are typed
		var val any
		var err error
		switch s.def.(type) {
		case string:
			val = raw
		case int:
			val, err = strconv.Atoi(raw)
		case float64:
			val, err = strconv.ParseFloat(raw, 64)
		case time.Duration:
			val, err = time.ParseDuration(raw)
		}
		if err != nil {
			bad(s, "cannot parse %q as %s", raw, typeName(s.def))
			continue
		}
		s.setFrom(c, val)
	}
	problems = append(problems, c.validate()...) // a value that did not parse kept its valid default
	if len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", errInvalid, strings.Join(problems, "; "))
	}
	return c, nil
}

// validate lists every value that could not work, naming its setting.
func (c *config) validate() []string {
	var problems []string
	bad := func(key, why string) {
		for _, s := range settings {
			if s.key == key {
				problems = append(problems, settingName(s)+": "+why)
			}
		}
	}
	if host, port, err := net.SplitHostPort(c.Address); err != nil || strings.ContainsAny(host, " /?#") {
		bad("run_address", fmt.Sprintf("want host:port, got %q", c.Address))
	} else if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		bad("run_address", fmt.Sprintf("bad port %q", port))
	}
	if c.DatabaseURI != "" {
		if _, _, err := db.ParseURI(c.DatabaseURI); err != nil {
			bad("database_uri", err.Error())
		}
	}
	if c.Calculator.ProcessingDelay < 0 {
		bad("processing_delay", "must not be negative")
	}
	if c.Calculator.RateLimit < 0 {
		bad("rate_limit", "must not be negative")
	}
	if c.Calculator.RetryAfter < 1 {
		bad("retry_after", "must be at least 1 second")
	}
	if !(c.Calculator.FailRate >= 0 && c.Calculator.FailRate <= 1) { // also refuses NaN
		bad("fail_rate", "must be between 0 and 1")
	}
	if c.Calculator.Latency < 0 {
		bad("latency", "must not be negative")
	}
	if _, ok := logging.ParseLevel(c.Log.Level); !ok {
		bad("log_level", "must be debug, info, warn or error")
	}
	if f := strings.ToLower(c.Log.Format); f != "json" && f != "text" {
		bad("log_format", "must be json or text")
	}
	return problems
}

// settingName names a setting the way a user sets it: "RUN_ADDRESS (-a)", "ACCRUAL_LATENCY (--latency)".
func settingName(s setting) string {
	if s.short != "" {
		return s.env + " (-" + s.short + ")"
	}
	return s.env + " (--" + s.flag + ")"
}

func typeName(v any) string {
	switch v.(type) {
	case int:
		return "an integer"
	case float64:
		return "a number"
	case time.Duration:
		return "a duration such as 100ms"
	}
	return "text"
}
