package main

import (
	"context"
	"errors"
	"log/slog"
	"net/url"

	"go.uber.org/fx"

	"github.com/gophermart/gophermart/docs/openapi"
	"github.com/gophermart/gophermart/modules/calculator"
	"github.com/gophermart/gophermart/modules/platform/apidoc"
	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/logging"
	"github.com/gophermart/gophermart/modules/platform/metrics"
	"github.com/gophermart/gophermart/modules/platform/web"
)

// dbURI is the configured database URI; empty means in memory.
type dbURI string

// appOptions is the whole accrual service: logging, its database, the HTTP server with its
// metrics, and the calculator.
func appOptions(cfg *config) fx.Option {
	httpCfg := web.DefaultConfig()
	httpCfg.Address = cfg.Address
	return fx.Options(
		fx.Supply(cfg.Log, httpCfg, cfg.Calculator, dbURI(cfg.DatabaseURI)),
		fx.WithLogger(logging.FxLogger),
		logging.Module,
		fx.Provide(
			openDB,
			func(d *db.DB) web.Pinger { return d },
			func() web.Authenticator { return noUsers{} },
		),
		web.Module,
		metrics.Module,
		fx.Supply(web.MetricsNamespace("accrual")), // accrual_http_requests_total, …
		calculator.Module,
		fx.Provide(web.AsRoutes(func() (web.Routes, error) { return apidoc.Routes(openapi.Accrual) })), // /openapi.yaml, /docs
		fx.Invoke(func(log *slog.Logger, d *db.DB) {
			log.Info("accrual service", "database", describeDB(cfg.DatabaseURI), "engine", d.Dialect(),
				"processing_delay", cfg.Calculator.ProcessingDelay.String(), "rate_limit", cfg.Calculator.RateLimit,
				"retry_after", cfg.Calculator.RetryAfter, "fail_rate", cfg.Calculator.FailRate,
				"latency", cfg.Calculator.Latency.String(), "request_log", cfg.Calculator.RequestLog)
		}),
	)
}

// openDB provides the configured database (in memory when the URI is empty): its hooks connect on
// start and close it on stop.
func openDB(lc fx.Lifecycle, uri dbURI, log *slog.Logger) (*db.DB, error) {
	d, start, closeDB, err := calculator.NewDB(string(uri))
	if err != nil {
		return nil, err
	}
	lc.Append(fx.Hook{
		OnStart: func(ctx context.Context) error {
			if uri == "" {
				log.WarnContext(ctx, "DATABASE_URI is empty: using an in-memory database, lost at exit")
			}
			if err := start(ctx); err != nil {
				_ = closeDB() // no stop hook runs for a start that failed
				return err
			}
			return nil
		},
		OnStop: func(context.Context) error { return closeDB() },
	})
	return d, nil
}

// describeDB is the URI fit for a log: without its password.
func describeDB(uri string) string {
	if uri == "" {
		return "in-memory"
	}
	if u, err := url.Parse(uri); err == nil && u.User != nil {
		return u.Redacted()
	}
	return uri
}

// noUsers is the standalone service's authenticator: it has no protected routes, so no token is valid.
type noUsers struct{}

func (noUsers) Authenticate(context.Context, string) (string, error) {
	return "", errors.New("the accrual service has no users")
}
