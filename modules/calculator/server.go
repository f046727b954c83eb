package calculator

import (
	"context"
	"errors"
	"fmt"
	"log/slog"

	"go.uber.org/fx"

	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/settings"
	"github.com/gophermart/gophermart/modules/platform/web"
)

// Server is the built-in accrual service's own HTTP server (Builtin): the accrual API, health checks
// and nothing else, on a loopback listener.
type Server struct {
	*web.Server
}

// NewServer returns the server of the built-in service at cfg.Address, started and stopped with the
// app. An address that is not loopback is refused here, and again once bound (a name may resolve
// elsewhere).
func NewServer(lc fx.Lifecycle, sd fx.Shutdowner, cfg Config, svc *Service, gate *Gate, d *db.DB, log *slog.Logger) (*Server, error) {
	if err := settings.CheckLoopbackAddress(cfg.Address); err != nil {
		return nil, fmt.Errorf("built-in accrual service: %w", err)
	}
	httpCfg := web.DefaultConfig()
	httpCfg.Address = cfg.Address
	log = log.With("listener", "builtin-accrual")
	s := &Server{web.NewServer(httpCfg, log, noUsers{}, d, []web.Routes{NewRoutes(svc, gate, log)}, web.LoopbackOnly())}
	lc.Append(fx.Hook{
		OnStart: func(context.Context) error { return s.Start(sd) },
		OnStop:  s.Stop,
	})
	return s, nil
}

// URL is the service's base URL, e.g. http://127.0.0.1:40123; "http://" before it has started.
// Safe for concurrent use.
func (s *Server) URL() string { return "http://" + s.Addr() }

// noUsers is the authenticator of a server without protected routes: no token is valid.
type noUsers struct{}

func (noUsers) Authenticate(context.Context, string) (string, error) {
	return "", errors.New("the accrual service has no users")
}
