package main

import (
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"go.uber.org/fx"

	"github.com/gophermart/gophermart/config"
	"github.com/gophermart/gophermart/docs/openapi"
	"github.com/gophermart/gophermart/migrations"
	"github.com/gophermart/gophermart/modules/accrual"
	"github.com/gophermart/gophermart/modules/auth"
	"github.com/gophermart/gophermart/modules/balance"
	"github.com/gophermart/gophermart/modules/calculator"
	"github.com/gophermart/gophermart/modules/orders"
	"github.com/gophermart/gophermart/modules/platform/apidoc"
	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/logging"
	"github.com/gophermart/gophermart/modules/platform/metrics"
	"github.com/gophermart/gophermart/modules/platform/pprof"
	"github.com/gophermart/gophermart/modules/platform/web"
)

// baseOptions is what every command needs: typed config parts, logging and the database (connected
// by its start hook).
func baseOptions(cfg *config.Config) fx.Option {
	return fx.Options(
		fx.Supply(cfg.HTTP, cfg.DB, cfg.Auth, cfg.Accrual, cfg.Orders, cfg.Balance, cfg.Log),
		fx.WithLogger(logging.FxLogger),
		logging.Module,
		memoryLimit(cfg),
		db.Module,
	)
}

// schema is Gophermart's set of migrations.
var schema = migrations.Set

// newMigrator prepares Gophermart's migrations on the database.
func newMigrator(d *db.DB, log *slog.Logger) (*db.Migrator, error) {
	return db.NewMigrator(d, schema, log.With("module", "migrate"))
}

// migrated applies pending migrations in the start hook right after the one that connects, before
// the hook of anything that uses the database. It must be an option of the root, where *db.DB is
// provided, so that its decorator covers every module.
var migrated = db.MigrateOnStart(schema)

// existingDBOptions is baseOptions with a database that must exist already: the start fails,
// creating nothing, when the SQLite file does not exist (db.ErrSchemaMissing).
func existingDBOptions(cfg *config.Config) fx.Option {
	c := *cfg
	c.DB.RequireExisting = true
	return baseOptions(&c)
}

// existingOptions is baseOptions for the commands that work on an existing database: their start
// fails, creating nothing (not even an SQLite file), unless every migration is applied.
func existingOptions(cfg *config.Config) fx.Option {
	return fx.Options(
		existingDBOptions(cfg),
		fx.Provide(newMigrator),
		fx.Invoke(func(lc fx.Lifecycle, m *db.Migrator) { lc.Append(fx.StartHook(m.Check)) }),
	)
}

// bindings is the one place that knows both sides of every cross-module interface.
var bindings = fx.Provide(
	func(d *db.DB) web.Pinger { return d },
	func(a *auth.Authenticator) web.Authenticator { return a },
	orders.AsWaker(func(w *accrual.Worker) orders.Waker { return w }),
	orders.NewQueue,
	func(q *orders.Queue) accrual.Orders { return q },
	func(s *balance.Service) accrual.Ledger { return s },
	func(d *db.DB) accrual.Tx { return d },
)

// serveOptions is the whole service: API, worker, and (without ACCRUAL_SYSTEM_ADDRESS) the built-in
// accrual service.
func serveOptions(cfg *config.Config) fx.Option {
	return fx.Options(
		baseOptions(cfg),
		migrated,
		bindings,
		web.Module,
		fx.Provide(web.AsRoutes(apiDocs)),
		auth.Module,
		orders.Module,
		balance.Module,
		accrual.Module,
		accrualSystem(cfg),
		fx.Invoke(func(*accrual.Worker, *balance.Reconciler) {}),
		metrics.Module,
		fx.Supply(web.MetricsNamespace(metricsNamespace)),
		fx.Invoke(registerMetrics),
		fx.Supply(cfg.Pprof), pprof.Module,
		announce(cfg), // last: logs the start line once everything else has started
	)
}

// metricsNamespace starts the name of every metric of the service (gophermart_http_requests_total,
// gophermart_accrual_requests_total, …), except the standard go_ and process_ collectors'.
const metricsNamespace = "gophermart"

// registerMetrics adds the accrual worker's, the ledger reconciliation's and the database pool's
// metrics to /metrics. The pool's collector has fixed go_sql_* names; its db_name label says whose
// pool it is.
func registerMetrics(reg *prometheus.Registry, w *accrual.Worker, o accrual.Orders, r *balance.Reconciler, d *db.DB) {
	reg.MustRegister(accrual.NewCollector(w, o), r, collectors.NewDBStatsCollector(d.SQL(), metricsNamespace))
}

// accrualSystem points the worker at ACCRUAL_SYSTEM_ADDRESS or, when it is empty, runs the accrual
// service in-process on its own listener, bound to loopback (GOPHERMART_BUILTIN_ACCRUAL_ADDRESS; a
// free port by default, so two instances on one machine never collide), never on gophermart's
// public one: its POST endpoints create points. It keeps its acc_ tables in gophermart's database.
func accrualSystem(cfg *config.Config) fx.Option {
	if addr := cfg.Accrual.Address; addr != "" {
		return fx.Supply(accrual.BaseURL(func() string { return addr }))
	}
	calc := calculator.DefaultConfig()
	calc.Address = cfg.BuiltinAccrual.Address
	return fx.Options(
		fx.Supply(calc),
		calculator.Builtin,
		// The worker asks the built-in server, which therefore starts (binds) before the worker does.
		fx.Provide(func(s *calculator.Server) accrual.BaseURL { return s.URL }),
		fx.Invoke(func(lc fx.Lifecycle, s *calculator.Server, log *slog.Logger) {
			lc.Append(fx.StartHook(func() {
				log.Warn("ACCRUAL_SYSTEM_ADDRESS is not set: using the built-in accrual service, a local stand-in "+
					"for the real accrual system, reachable from this machine only; set ACCRUAL_SYSTEM_ADDRESS in production",
					"module", "accrual", "url", s.URL())
			}))
		}),
	)
}

// apiDocs serves docs/openapi/gophermart.yaml at /openapi.yaml and the interactive page at /docs
// (where / leads).
func apiDocs() (web.Routes, error) { return apidoc.Routes(openapi.Gophermart) }
