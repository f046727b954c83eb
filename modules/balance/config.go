package balance

import "time"

// Config is the balance module's part of the configuration.
type Config struct {
	// ReconcileInterval is how often the Reconciler checks the ledger invariant over the whole
	// database while the service runs; zero turns the periodic check off.
	ReconcileInterval time.Duration `mapstructure:"reconcile_interval"`
}

// DefaultReconcileInterval is the default of Config.ReconcileInterval.
const DefaultReconcileInterval = 10 * time.Minute
