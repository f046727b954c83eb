// Package web is the HTTP edge of the service: one fiber app with a single problem+json error
// handler, request ids, panic recovery, capped gzip request inflation, health checks, the JWT guard
// that every protected route sits behind, and JSON lists streamed in chunks. It knows no domain:
// modules hand it Routes.
package web

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/fx"
)

// Config is the HTTP server's part of the configuration.
type Config struct {
	// Address is host:port to listen on.
	Address string `mapstructure:"address"`
	// BodyLimit caps a request body as sent on the wire, in bytes.
	BodyLimit int `mapstructure:"body_limit"`
	// MaxInflated caps a gzip request body once inflated, in bytes (over it: 413).
	MaxInflated int `mapstructure:"max_inflated"`
	// ReadTimeout, WriteTimeout and IdleTimeout bound each connection's phases.
	ReadTimeout  time.Duration `mapstructure:"read_timeout"`
	WriteTimeout time.Duration `mapstructure:"write_timeout"`
	IdleTimeout  time.Duration `mapstructure:"idle_timeout"`
}

// DefaultConfig holds sane production values.
func DefaultConfig() Config {
	return Config{
		Address:      "localhost:8080",
		BodyLimit:    1 << 20,
		MaxInflated:  1 << 20,
		ReadTimeout:  10 * time.Second,
		WriteTimeout: 30 * time.Second,
		IdleTimeout:  120 * time.Second,
	}
}

// Module provides the *Server, built from every module's Routes, and serves it while the app runs.
// When the graph holds a *prometheus.Registry, the server also records its requests and serves
// GET /metrics, under the MetricsNamespace the graph must then supply.
var Module = fx.Module("web",
	fx.Provide(newServer),
	fx.Invoke(func(lc fx.Lifecycle, s *Server, sd fx.Shutdowner) {
		lc.Append(fx.Hook{
			OnStart: func(context.Context) error { return s.Start(sd) },
			OnStop:  s.Stop,
		})
	}),
	fx.Decorate(func(l *slog.Logger) *slog.Logger { return l.With("module", "web") }),
)

type serverParams struct {
	fx.In
	Config  Config
	Log     *slog.Logger
	Auth    Authenticator
	Ready   Pinger
	Routes  []Routes             `group:"routes"`
	Metrics *prometheus.Registry `optional:"true"`
	// Namespace must be supplied with Metrics.
	Namespace MetricsNamespace `optional:"true"`
}

func newServer(p serverParams) (*Server, error) {
	var opts []Option
	if p.Metrics != nil {
		if p.Namespace == "" {
			return nil, errors.New("web: a metrics registry needs a web.MetricsNamespace")
		}
		opts = append(opts, WithMetrics(p.Metrics, p.Namespace))
	}
	return NewServer(p.Config, p.Log, p.Auth, p.Ready, p.Routes, opts...), nil
}

// Routes is what a module hands the server: its public routes, its protected routes (mounted under
// /api/user behind the JWT guard) and the HTTP status of each error it may return.
type Routes struct {
	Public    func(r fiber.Router)
	Protected func(r fiber.Router)
	Errors    []ErrorStatus
}

// ErrorStatus maps a sentinel error (matched with errors.Is) to the HTTP status answered for it. The
// reply's detail is the sentinel's own text, never the wrapped chain.
type ErrorStatus struct {
	Err    error
	Status int
}

// AsRoutes annotates a constructor returning Routes so that it joins the server's "routes" group.
func AsRoutes(f any) any {
	return fx.Annotate(f, fx.ResultTags(`group:"routes"`))
}

// Authenticator turns a bearer token into the id of the user it was issued to.
type Authenticator interface {
	// Authenticate verifies token and returns its user id, or an error if it is malformed, expired,
	// forged, signed with another algorithm or issued to a user who does not exist: the guard
	// answers 401 to all of these. An error that wraps ErrAuthUnavailable means the answer could
	// not be found out (the user store failed) and is a server error instead.
	Authenticate(ctx context.Context, token string) (userID string, err error)
}

// ErrAuthUnavailable marks an Authenticator error that says nothing about the token: whoever holds
// the answer did not give it, so the request fails with 500 rather than a 401 that would send the
// client to log in again.
var ErrAuthUnavailable = errors.New("authentication unavailable")

// Pinger tells whether a dependency the service needs answers; /readyz calls it.
type Pinger interface {
	Ping(ctx context.Context) error
}

// ErrListenerClosed is what Listener returns after a clean shutdown.
var errListenerClosed = net.ErrClosed

func isClosed(err error) bool { return err == nil || errors.Is(err, errListenerClosed) }
