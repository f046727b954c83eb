// Package balance keeps users' points: credits for processed orders, withdrawals, and the ledger
// invariant that ties them together.
package balance

import (
	"log/slog"

	"go.uber.org/fx"

	"github.com/gophermart/gophermart/modules/platform/web"
)

// Module wires the balance domain: storage, service, HTTP routes and the *Reconciler, whose hooks
// start and stop the periodic ledger check (it runs only when a command asks for it).
var Module = fx.Module("balance",
	fx.Provide(
		NewService,
		fx.Annotate(NewStore, fx.As(new(Store))),
		web.AsRoutes(NewRoutes),
		provideReconciler,
	),
	fx.Decorate(func(l *slog.Logger) *slog.Logger { return l.With("module", "balance") }),
)

func provideReconciler(lc fx.Lifecycle, cfg Config, svc *Service, log *slog.Logger) *Reconciler {
	r := NewReconciler(cfg, svc, log)
	lc.Append(fx.Hook{OnStart: r.Start, OnStop: r.Stop})
	return r
}
