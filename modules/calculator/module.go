// Package calculator is the accrual service: a drop-in stand-in for the accrual "black box" that
// registers reward mechanics and purchases, computes each order's points in the background and answers
// Gophermart's questions about them. It runs as its own binary (cmd/accrual) or inside gophermart.
package calculator

import (
	"context"
	"log/slog"
	"time"

	"go.uber.org/fx"

	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/web"
)

// Config is the accrual service's part of the configuration.
type Config struct {
	// Address is where Builtin listens: host:port on loopback (port 0 picks a free one). Module
	// ignores it: its routes join the host program's own server.
	Address string `mapstructure:"address"`
	// ProcessingDelay is the time an order spends in each step: REGISTERED, then PROCESSING, then
	// PROCESSED. Zero processes at once.
	ProcessingDelay time.Duration `mapstructure:"processing_delay"`
	// RateLimit is how many GET /api/orders/{number} are answered per minute before 429; 0: no limit.
	RateLimit int `mapstructure:"rate_limit"`
	// RetryAfter is the Retry-After of a 429, in seconds; 0 or less means DefaultRetryAfter.
	RetryAfter int `mapstructure:"retry_after"`
	// FailRate is the fraction (0..1) of GET /api/orders/{number} answered 500 on purpose.
	FailRate float64 `mapstructure:"fail_rate"`
	// Latency is added to every GET /api/orders/{number}.
	Latency time.Duration `mapstructure:"latency"`
	// RequestLog, if set, is a file that gets one JSON line per GET /api/orders/{number}.
	RequestLog string `mapstructure:"request_log"`
}

// DefaultRetryAfter is the Retry-After of a 429 unless configured, in seconds.
const DefaultRetryAfter = 60

// DefaultProcessingDelay is the default time an order spends in each step.
const DefaultProcessingDelay = 100 * time.Millisecond

// DefaultConfig is the standalone service with every test knob off.
func DefaultConfig() Config {
	return Config{ProcessingDelay: DefaultProcessingDelay, RetryAfter: DefaultRetryAfter}
}

// service is the accrual service without its HTTP side: on start it migrates its own acc_ tables,
// then runs the processing loop until stop.
var service = fx.Options(
	fx.Provide(
		NewStore,
		NewProcessor,
		NewService,
		NewGate,
	),
	fx.Decorate(func(l *slog.Logger) *slog.Logger { return l.With("module", "calculator") }),
	// The acc_ tables are brought up to date on start, before anything of this module starts.
	db.MigrateOnStart(Migrations),
	fx.Invoke(func(lc fx.Lifecycle, p *Processor, g *Gate) {
		lc.Append(fx.Hook{
			OnStart: func(context.Context) error { p.Start(); return nil },
			OnStop: func(ctx context.Context) error {
				err := p.Stop(ctx)
				if cerr := g.Close(); err == nil {
					err = cerr
				}
				return err
			},
		})
	}),
)

// Module is the whole accrual service on the *db.DB, *slog.Logger and Config it is given, as the
// accrual binary runs it: its routes join web.Module's server, which is the service's own there.
var Module = fx.Module("calculator",
	service,
	fx.Provide(web.AsRoutes(NewRoutes)),
)

// Builtin is the accrual service run inside another program (gophermart without an accrual system
// address): the same service, on a *Server of its own bound to Config.Address on loopback, never on
// the host program's public server, because its POST endpoints create points. Only loopback
// clients can reach it, and a reverse proxy in front of the public server cannot.
var Builtin = fx.Module("calculator",
	service,
	fx.Provide(NewServer),
)
