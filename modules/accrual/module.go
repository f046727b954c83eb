// Package accrual integrates the accrual system: an HTTP client for it and a worker that moves every
// accepted order to a final status, crediting PROCESSED ones exactly once, fair to every user and
// within the accrual system's rate limit across the pool and across instances. One file per job:
//
//	client.go    one HTTP ask: no redirects, one deadline, a body cap, a strict decoder
//	dispatch.go  who picks the next order, and when to claim
//	pool.go      a worker per order, and the slow lane for slow answers
//	ask.go       one order's ask with its retries
//	limit.go     what happens on a 429: the shared pause and the pacing
//	settle.go    an outcome to a status, a credit or a backoff
//	lease.go     who holds which order, and giving everything back at stop
//	state.go     what instances share through the database
//	worker.go    the parts put together, Start and Stop
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
