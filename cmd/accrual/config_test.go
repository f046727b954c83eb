package main

import (
	"os"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/calculator"
)

func parse(t *testing.T, args ...string) (*config, error) {
	t.Helper()
	fs := pflag.NewFlagSet("accrual", pflag.ContinueOnError)
	addFlags(fs)
	require.NoError(t, fs.Parse(args))
	return loadConfig(fs)
}

// clearEnv unsets every setting's environment variable for the test.
func clearEnv(t *testing.T) {
	t.Helper()
	for _, s := range table {
		t.Setenv(s.Env, "")
	}
}

func TestConfigDefaults(t *testing.T) {
	clearEnv(t)
	c, err := parse(t)
	require.NoError(t, err)
	assert.Equal(t, &config{
		Address: "localhost:8081",
		Calculator: calculator.Config{
			ProcessingDelay: 100 * time.Millisecond,
			RetryAfter:      60,
		},
		Log: c.Log,
	}, c)
	assert.Equal(t, "info", c.Log.Level)
	assert.Equal(t, "auto", c.Log.Format)
}

func TestConfigPrecedence(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		got  func(c *config) any
		want any
	}{
		{"env", map[string]string{"RUN_ADDRESS": "127.0.0.1:9000"}, nil, func(c *config) any { return c.Address }, "127.0.0.1:9000"},
		{"flag over env", map[string]string{"RUN_ADDRESS": "127.0.0.1:9000"}, []string{"-a", "127.0.0.1:9001"}, func(c *config) any { return c.Address }, "127.0.0.1:9001"},
		{"flag equal to its default still wins", map[string]string{"RUN_ADDRESS": "127.0.0.1:9000"}, []string{"-a", "localhost:8081"}, func(c *config) any { return c.Address }, "localhost:8081"},
		{"unchanged flag never hides env", map[string]string{"ACCRUAL_RATE_LIMIT": "7"}, []string{"-a", "127.0.0.1:1"}, func(c *config) any { return c.Calculator.RateLimit }, 7},
		{"database env", map[string]string{"DATABASE_URI": "postgres://u:p@h/db"}, nil, func(c *config) any { return c.DatabaseURI }, "postgres://u:p@h/db"},
		{"database flag", nil, []string{"-d", "sqlite:///tmp/x.db"}, func(c *config) any { return c.DatabaseURI }, "sqlite:///tmp/x.db"},
		{"delay env", map[string]string{"ACCRUAL_PROCESSING_DELAY": "0s"}, nil, func(c *config) any { return c.Calculator.ProcessingDelay }, time.Duration(0)},
		{"retry-after flag over env", map[string]string{"ACCRUAL_RETRY_AFTER": "5"}, []string{"--retry-after", "9"}, func(c *config) any { return c.Calculator.RetryAfter }, 9},
		{"fail rate env", map[string]string{"ACCRUAL_FAIL_RATE": "0.25"}, nil, func(c *config) any { return c.Calculator.FailRate }, 0.25},
		{"fail rate flag", nil, []string{"--fail-rate", "1"}, func(c *config) any { return c.Calculator.FailRate }, 1.0},
		{"latency env", map[string]string{"ACCRUAL_LATENCY": "150ms"}, nil, func(c *config) any { return c.Calculator.Latency }, 150 * time.Millisecond},
		{"latency flag", map[string]string{"ACCRUAL_LATENCY": "150ms"}, []string{"--latency", "1s"}, func(c *config) any { return c.Calculator.Latency }, time.Second},
		{"request log env", map[string]string{"ACCRUAL_REQUEST_LOG": "/tmp/r.jsonl"}, nil, func(c *config) any { return c.Calculator.RequestLog }, "/tmp/r.jsonl"},
		{"empty env is unset", map[string]string{"ACCRUAL_RETRY_AFTER": ""}, nil, func(c *config) any { return c.Calculator.RetryAfter }, 60},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			c, err := parse(t, tt.args...)
			require.NoError(t, err)
			assert.Equal(t, tt.want, tt.got(c))
		})
	}
}

func TestConfigInvalid(t *testing.T) {
	tests := []struct {
		name string
		env  map[string]string
		args []string
		want string
	}{
		{"address", map[string]string{"RUN_ADDRESS": "nowhere"}, nil, "RUN_ADDRESS (-a): want host:port"},
		{"port", nil, []string{"-a", "localhost:99999"}, "RUN_ADDRESS (-a): bad port"},
		{"database", map[string]string{"DATABASE_URI": "mysql://x"}, nil, "DATABASE_URI (-d): unsupported database URI"},
		{"delay", map[string]string{"ACCRUAL_PROCESSING_DELAY": "soon"}, nil, "ACCRUAL_PROCESSING_DELAY (--processing-delay): cannot parse"},
		{"negative delay", map[string]string{"ACCRUAL_PROCESSING_DELAY": "-1s"}, nil, "ACCRUAL_PROCESSING_DELAY (--processing-delay): must not be negative"},
		{"rate limit", map[string]string{"ACCRUAL_RATE_LIMIT": "ten"}, nil, "ACCRUAL_RATE_LIMIT (--rate-limit): cannot parse"},
		{"negative rate limit", map[string]string{"ACCRUAL_RATE_LIMIT": "-1"}, nil, "ACCRUAL_RATE_LIMIT (--rate-limit): must not be negative"},
		{"retry after", map[string]string{"ACCRUAL_RETRY_AFTER": "0"}, nil, "ACCRUAL_RETRY_AFTER (--retry-after): must be at least 1"},
		{"fail rate", map[string]string{"ACCRUAL_FAIL_RATE": "1.5"}, nil, "ACCRUAL_FAIL_RATE (--fail-rate): must be between 0 and 1"},
		{"fail rate NaN", map[string]string{"ACCRUAL_FAIL_RATE": "NaN"}, nil, "ACCRUAL_FAIL_RATE (--fail-rate): must be between 0 and 1"},
		{"latency", map[string]string{"ACCRUAL_LATENCY": "100"}, nil, "ACCRUAL_LATENCY (--latency): cannot parse"},
		{"log level", map[string]string{"ACCRUAL_LOG_LEVEL": "loud"}, nil, "ACCRUAL_LOG_LEVEL (--log-level)"},
		{"log format", map[string]string{"ACCRUAL_LOG_FORMAT": "xml"}, nil, "ACCRUAL_LOG_FORMAT (--log-format)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clearEnv(t)
			for k, v := range tt.env {
				t.Setenv(k, v)
			}
			_, err := parse(t, tt.args...)
			require.ErrorIs(t, err, errInvalid)
			assert.Contains(t, err.Error(), tt.want)
			assert.NotContains(t, err.Error(), "\n", "one line")
		})
	}

	clearEnv(t)
	t.Setenv("ACCRUAL_RATE_LIMIT", "x")
	t.Setenv("ACCRUAL_FAIL_RATE", "2")
	_, err := parse(t)
	require.ErrorIs(t, err, errInvalid)
	assert.Contains(t, err.Error(), "ACCRUAL_RATE_LIMIT")
	assert.Contains(t, err.Error(), "ACCRUAL_FAIL_RATE", "every problem at once")
}

// Every setting of the accrual binary is documented in README: its flag and environment variable.
func TestREADMEDocumentsEverySetting(t *testing.T) {
	raw, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	for _, s := range table {
		assert.Contains(t, string(raw), "`--"+s.Flag+"`", s.Key)
		assert.Contains(t, string(raw), "`"+s.Env+"`", s.Key)
	}
}
