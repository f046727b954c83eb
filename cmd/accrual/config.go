package main

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/pflag"

	"github.com/gophermart/gophermart/modules/calculator"
	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/exitcode"
	"github.com/gophermart/gophermart/modules/platform/logging"
	"github.com/gophermart/gophermart/modules/platform/settings"
)

// errInvalid wraps every configuration mistake: exit code 2.
var errInvalid = errors.New("invalid configuration")

// errUsage marks command-line mistakes (unknown flag, stray argument): exit code 2.
var errUsage = exitcode.ErrUsage

// config is the accrual binary's configuration.
type config struct {
	Address     string            `mapstructure:"run_address"`
	DatabaseURI string            `mapstructure:"database_uri"`
	Calculator  calculator.Config `mapstructure:"calculator"`
	Log         logging.Config    `mapstructure:"log"`
}

// table lists every setting, in the order --help and README show them.
var table = settings.Table{
	{Key: "run_address", Flag: "run-address", Short: "a", Env: "RUN_ADDRESS", Default: "localhost:8081", Usage: "address to listen on (host:port)"},
	{Key: "database_uri", Flag: "database-uri", Short: "d", Env: "DATABASE_URI", Default: "", Usage: "database URL: postgres://…, sqlite://path or file:path; empty: in memory (lost at exit)"},
	{Key: "calculator.processing_delay", Flag: "processing-delay", Env: "ACCRUAL_PROCESSING_DELAY", Default: calculator.DefaultProcessingDelay, Usage: "time an order spends in REGISTERED and again in PROCESSING"},
	{Key: "calculator.rate_limit", Flag: "rate-limit", Env: "ACCRUAL_RATE_LIMIT", Default: 0, Usage: "test knob: GET /api/orders/{number} answered per minute before 429; 0: no limit"},
	{Key: "calculator.retry_after", Flag: "retry-after", Env: "ACCRUAL_RETRY_AFTER", Default: calculator.DefaultRetryAfter, Usage: "test knob: Retry-After of a 429, in seconds"},
	{Key: "calculator.fail_rate", Flag: "fail-rate", Env: "ACCRUAL_FAIL_RATE", Default: 0.0, Usage: "test knob: fraction (0..1) of GET /api/orders/{number} answered 500"},
	{Key: "calculator.latency", Flag: "latency", Env: "ACCRUAL_LATENCY", Default: time.Duration(0), Usage: "test knob: latency added to every GET /api/orders/{number}"},
	{Key: "calculator.request_log", Flag: "request-log", Env: "ACCRUAL_REQUEST_LOG", Default: "", Usage: "test knob: file that gets one JSON line per GET /api/orders/{number}"},
	{Key: "log.level", Flag: "log-level", Env: "ACCRUAL_LOG_LEVEL", Default: "info", Usage: "log level: debug, info, warn, error"},
	{Key: "log.format", Flag: "log-format", Env: "ACCRUAL_LOG_FORMAT", Default: logging.FormatAuto, Usage: "log format on stderr: auto (text on a terminal, json otherwise), json or text"},
}

// addFlags defines every setting's flag on fs.
func addFlags(fs *pflag.FlagSet) { table.AddFlags(fs) }

// loadConfig reads the configuration: flag > environment > default. A flag is bound only when given,
// so one left at its default never hides the environment. Every problem is reported on one line,
// naming the setting, wrapped in errInvalid.
func loadConfig(fs *pflag.FlagSet) (*config, error) {
	v, err := table.Viper(fs)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errInvalid, err)
	}
	problems := table.CheckTypes(v)
	c := &config{Calculator: calculator.DefaultConfig()}
	if err := v.Unmarshal(c); err != nil {
		return nil, fmt.Errorf("%w: %s", errInvalid, strings.Join(strings.Fields(err.Error()), " "))
	}
	if problems = append(problems, c.validate()...); len(problems) > 0 {
		return nil, fmt.Errorf("%w: %s", errInvalid, strings.Join(problems, "; "))
	}
	return c, nil
}

// validate lists every value that could not work, naming its setting.
func (c *config) validate() []string {
	var problems []string
	bad := func(key, why string) { problems = append(problems, table.Name(key)+": "+why) }
	if err := settings.CheckAddress(c.Address); err != nil {
		bad("run_address", err.Error())
	}
	if c.DatabaseURI != "" {
		if _, _, err := db.ParseURI(c.DatabaseURI); err != nil {
			bad("database_uri", err.Error())
		}
	}
	if c.Calculator.ProcessingDelay < 0 {
		bad("calculator.processing_delay", "must not be negative")
	}
	if c.Calculator.RateLimit < 0 {
		bad("calculator.rate_limit", "must not be negative")
	}
	if c.Calculator.RetryAfter < 1 {
		bad("calculator.retry_after", "must be at least 1 second")
	}
	if !(c.Calculator.FailRate >= 0 && c.Calculator.FailRate <= 1) { // also refuses NaN
		bad("calculator.fail_rate", "must be between 0 and 1")
	}
	if c.Calculator.Latency < 0 {
		bad("calculator.latency", "must not be negative")
	}
	if _, ok := logging.ParseLevel(c.Log.Level); !ok {
		bad("log.level", "must be debug, info, warn or error")
	}
	if _, ok := logging.ParseFormat(c.Log.Format); !ok {
		bad("log.format", "must be auto, json or text")
	}
	return problems
}
