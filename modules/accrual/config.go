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
}
