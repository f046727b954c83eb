package main

import (
	"fmt"
	"log/slog"
	"os"
	"runtime/debug"

	"go.uber.org/fx"

	"github.com/gophermart/gophermart/config"
)

// memoryLimit sets the Go runtime's soft memory limit to runtime.memory_limit in the first start
// hook, before the database connects or anything serves. The GOMEMLIMIT environment variable, which
// the runtime itself reads at process start, wins: then the limit is left as it is.
func memoryLimit(cfg *config.Config) fx.Option {
	return fx.Invoke(func(lc fx.Lifecycle, log *slog.Logger) {
		lc.Append(fx.StartHook(func() error {
			limit, fromEnv, err := applyMemoryLimit(cfg, os.LookupEnv)
			if err != nil {
				return err
			}
			log.Debug("memory limit", "bytes", limit, "from_gomemlimit", fromEnv)
			return nil
		}))
	})
}

// applyMemoryLimit sets the soft memory limit cfg asks for unless lookupEnv finds GOMEMLIMIT set,
// and returns the limit in effect and whether it came from GOMEMLIMIT.
func applyMemoryLimit(cfg *config.Config, lookupEnv func(string) (string, bool)) (limit int64, fromEnv bool, err error) {
	if v, ok := lookupEnv("GOMEMLIMIT"); ok && v != "" {
		return debug.SetMemoryLimit(-1), true, nil
	}
	limit, err = cfg.MemoryLimit()
	if err != nil {
		return 0, false, fmt.Errorf("%w: %s: %w", config.ErrInvalid, config.Settings.Name("runtime.memory_limit"), err)
	}
	debug.SetMemoryLimit(limit)
	return limit, false, nil
}
