// Package orders accepts order numbers from users and tracks their accrual status.
package orders

import (
	"log/slog"

	"go.uber.org/fx"

	"github.com/gophermart/gophermart/modules/platform/web"
)

// Module wires the orders domain: storage, service and HTTP routes. It needs a Notifier, bound in cmd.
var Module = fx.Module("orders",
	fx.Provide(
		NewService,
		fx.Annotate(NewStore, fx.As(new(Store))),
		web.AsRoutes(NewRoutes),
	),
	fx.Decorate(func(l *slog.Logger) *slog.Logger { return l.With("module", "orders") }),
)
