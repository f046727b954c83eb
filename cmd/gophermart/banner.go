package main

import (
	"log/slog"
	"net"

	"go.uber.org/fx"

	"github.com/gophermart/gophermart/config"
	"github.com/gophermart/gophermart/modules/accrual"
	"github.com/gophermart/gophermart/modules/platform/buildinfo"
	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/web"
)

// announce logs, once everything has started, the line a person looks for first: where the API
// listens and its documentation is, which database it uses (never its password) and which accrual
// system it asks. It must come after every other option: its start hook then runs last.
func announce(cfg *config.Config) fx.Option {
	return fx.Invoke(func(lc fx.Lifecycle, log *slog.Logger, srv *web.Server, accrualURL accrual.BaseURL) {
		lc.Append(fx.StartHook(func() {
			addr := srv.Addr()
			log.Info("gophermart started", "address", addr, "docs", "http://"+browsable(addr)+"/docs",
				"database", db.Describe(cfg.DB.URI), "accrual", accrualURL(), "version", buildinfo.Read().Version)
		}))
	})
}

// browsable is addr with a host a browser on this machine can open: an unspecified address
// (0.0.0.0, ::), which listens on every interface, becomes localhost.
func browsable(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "localhost"
	}
	return net.JoinHostPort(host, port)
}
