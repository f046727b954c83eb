package orders

// Config is the orders module's part of the configuration.
type Config struct {
	// MaxPending caps how many pending (NEW or PROCESSING) orders one user may have: an upload of a
	// new number beyond it is refused with ErrTooManyPending until some of them become final. Zero
	// or less means DefaultMaxPending.
	MaxPending int `mapstructure:"max_pending"`
}

// DefaultMaxPending is the default of Config.MaxPending.
const DefaultMaxPending = 1000

// withDefaults fills the zero values that have a documented default.
func (c Config) withDefaults() Config {
	if c.MaxPending <= 0 {
		c.MaxPending = DefaultMaxPending
	}
	return c
}
