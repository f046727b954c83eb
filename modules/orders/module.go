// Package orders accepts order numbers from users and tracks their accrual status.
package orders

import (
	"log/slog"

	"go.uber.org/fx"

	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/web"
)

// Module wires the orders domain: storage, service, HTTP routes and the new-order notifications,
// whose hooks (PostgreSQL) start and stop listening for other instances' announcements. It wakes
// the Wakers cmd adds with AsWaker.
var Module = fx.Module("orders",
	fx.Provide(
		NewService,
		fx.Annotate(NewStore, fx.As(new(Store))),
		web.AsRoutes(NewRoutes),
		provideNotifications,
		func(n *Notifications) Notifier { return n },
	),
	fx.Decorate(func(l *slog.Logger) *slog.Logger { return l.With("module", "orders") }),
)

type notificationsParams struct {
	fx.In

	Lifecycle fx.Lifecycle
	DB        *db.DB
	Wakers    []Waker `group:"orders.wakers"`
	Log       *slog.Logger
}

func provideNotifications(p notificationsParams) *Notifications {
	n := NewNotifications(p.DB, p.Wakers, p.Log)
	p.Lifecycle.Append(fx.Hook{OnStart: n.Start, OnStop: n.Stop})
	return n
}
