package accrual

import "time"

// Config is the accrual client's and worker's part of the configuration.
type Config struct {
	// Address is the accrual system's base URL; empty means the built-in one.
	Address string `mapstructure:"address"`
	// Workers is how many orders are asked about at once.
	Workers int `mapstructure:"workers"`
	// PollInterval is how often the queue is scanned when nothing signals new work.
	PollInterval time.Duration `mapstructure:"poll_interval"`
	// RequestTimeout bounds one request to the accrual system.
	RequestTimeout time.Duration `mapstructure:"request_timeout"`
	// MaxRetries is how many times a 5xx or network failure is retried before the order waits for a
	// later round.
	MaxRetries int `mapstructure:"max_retries"`
	// MaxBackoff caps the growing delay before an unknown (204) or failing order is asked again.
	MaxBackoff time.Duration `mapstructure:"max_backoff"`
	// Lease is how long an instance holds a claimed order; a crashed holder's orders return after it.
	Lease time.Duration `mapstructure:"lease"`
	// MinBackoff is the first delay before an order is asked again: a PROCESSING order after it
	// (growing by half each ask), an unknown (204) or failing one after it doubled per ask, up to
	// MaxBackoff. Zero means one second.
	MinBackoff time.Duration `mapstructure:"min_backoff"`
	// RetryBackoff is the delay before the first retry of a failed request within one ask, doubling
	// per retry. Zero means 100 ms.
	RetryBackoff time.Duration `mapstructure:"retry_backoff"`
	// MaxRetryAfter caps the pause a 429's Retry-After may ask for (and the default pause when it
	// names none). Zero means two minutes: twice the contract's one-minute window covers any honest
	// per-minute limiter, while a hostile or misconfigured Retry-After of a day stalls the pipeline
	// at most two minutes, at the cost of one extra request per cap.
	MaxRetryAfter time.Duration `mapstructure:"max_retry_after"`
	// RateWindow is the accrual system's rate-limit window: after a 429 saying "No more than N
	// requests per minute", at most N requests go out in any RateWindow. Not a setting (the contract
	// says a minute); zero means one minute. Tests shorten it.
	RateWindow time.Duration `mapstructure:"-"`
}

// withDefaults fills the zero values that have a documented default.
func (c Config) withDefaults() Config {
	if c.Workers <= 0 {
		c.Workers = 4
	}
	if c.PollInterval <= 0 {
		c.PollInterval = 10 * time.Second
	}
	if c.RequestTimeout <= 0 {
		c.RequestTimeout = 5 * time.Second
	}
	if c.MaxRetries < 0 {
		c.MaxRetries = 0
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 5 * time.Minute
	}
	if c.Lease <= 0 {
		c.Lease = time.Minute
	}
	if c.MinBackoff <= 0 {
		c.MinBackoff = time.Second
	}
	if c.MinBackoff > c.MaxBackoff {
		c.MinBackoff = c.MaxBackoff
	}
	if c.RetryBackoff <= 0 {
		c.RetryBackoff = 100 * time.Millisecond
	}
	if c.MaxRetryAfter <= 0 {
		c.MaxRetryAfter = 2 * time.Minute
	}
	if c.RateWindow <= 0 {
		c.RateWindow = time.Minute
	}
	return c
}
