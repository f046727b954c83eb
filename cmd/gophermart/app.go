package main

import (
	"context"
	"log/slog"

	"go.uber.org/fx"

	"github.com/gophermart/gophermart/config"
	"github.com/gophermart/gophermart/docs/openapi"
	"github.com/gophermart/gophermart/migrations"
	"github.com/gophermart/gophermart/modules/accrual"
	"github.com/gophermart/gophermart/modules/auth"
	"github.com/gophermart/gophermart/modules/balance"
	"github.com/gophermart/gophermart/modules/orders"
	"github.com/gophermart/gophermart/modules/platform/apidoc"
	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/logging"
	"github.com/gophermart/gophermart/modules/platform/web"
)

// baseOptions is what every command needs: typed config parts, logging and the database.
func baseOptions(cfg *config.Config) fx.Option {
	return fx.Options(
		fx.Supply(cfg.HTTP, cfg.DB, cfg.Auth, cfg.Accrual, cfg.Log),
		fx.WithLogger(logging.FxLogger),
		logging.Module,
		db.Module,
	)
}

// newMigrator prepares Gophermart's migrations on the database.
func newMigrator(d *db.DB, log *slog.Logger) (*db.Migrator, error) {
	return db.NewMigrator(d, db.Migrations{FS: migrations.FS, Table: migrations.Table, LockID: migrations.LockID},
		log.With("module", "migrate"))
}

// migrated applies pending migrations before anything else gets the database.
var migrated = fx.Decorate(func(d *db.DB, log *slog.Logger) (*db.DB, error) {
	m, err := newMigrator(d, log)
	if err != nil {
		return nil, err
	}
	if _, err := m.Up(context.Background()); err != nil {
		return nil, err
	}
	return d, nil
})

// bindings is the one place that knows both sides of every cross-module interface.
var bindings = fx.Provide(
	func(d *db.DB) web.Pinger { return d },
	func(t *auth.Tokens) web.Authenticator { return t },
	func(w *accrual.Worker) orders.Notifier { return w },
	orders.NewQueue,
	func(q *orders.Queue) accrual.Orders { return q },
	func(s *balance.Service) accrual.Ledger { return s },
	func(d *db.DB) accrual.Tx { return d },
	func(cfg accrual.Config) accrual.BaseURL { return func() string { return cfg.Address } }, // TODO(lead): built-in mode
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
		fx.Invoke(func(*accrual.Worker) {}),
	)
}

// apiDocs serves docs/openapi/gophermart.yaml at /openapi.yaml and its HTML rendering at /docs.
func apiDocs() (web.Routes, error) { return apidoc.Routes(openapi.Gophermart) }
