// Package balance keeps users' points: credits for processed orders, withdrawals, and the ledger
// invariant that ties them together.
package balance

import (
	"log/slog"

	"go.uber.org/fx"

	"github.com/gophermart/gophermart/modules/platform/web"
)

// Module wires the balance domain: storage, service and HTTP routes.
var Module = fx.Module("balance",
	fx.Provide(
		NewService,
		fx.Annotate(NewStore, fx.As(new(Store))),
		web.AsRoutes(NewRoutes),
	),
	fx.Decorate(func(l *slog.Logger) *slog.Logger { return l.With("module", "balance") }),
)
