// Package accrual integrates the accrual system: an HTTP client for it and a worker pool that moves
// every accepted order to a final status, crediting PROCESSED ones exactly once, while honouring the
// accrual system's rate limit across the pool and across instances.
package accrual

import (
	"log/slog"

	"go.uber.org/fx"
)

// Module provides the accrual Client (over HTTP, at the BaseURL cmd provides) and the *Worker, whose
// lifecycle hooks start and stop it. Nothing starts unless a command asks for the *Worker.
var Module = fx.Module("accrual",
	fx.Provide(
		fx.Annotate(NewHTTPClient, fx.As(new(Client))),
		provideWorker,
	),
	fx.Decorate(func(l *slog.Logger) *slog.Logger { return l.With("module", "accrual") }),
)

func provideWorker(lc fx.Lifecycle, d Deps) *Worker {
	w := NewWorker(d)
	lc.Append(fx.Hook{OnStart: w.Start, OnStop: w.Stop})
	return w
}
