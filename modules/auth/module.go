// Package auth registers users, checks their passwords (argon2id) and issues and verifies the JWTs
// that authenticate every other request.
package auth

import (
	"context"
	"log/slog"

	"go.uber.org/fx"

	"github.com/gophermart/gophermart/modules/platform/web"
)

// Module wires the auth domain: storage, password hashing, tokens, the service and its HTTP routes.
// cmd binds *Authenticator to web.Authenticator. The tokens' start hook loads (or creates) the
// signing secret kept in the database when none is configured.
var Module = fx.Module("auth",
	fx.Provide(
		fx.Annotate(NewStore, fx.As(new(Store)), fx.As(new(SecretStore))),
		NewHasher,
		provideTokens,
		NewAuthenticator,
		NewService,
		web.AsRoutes(NewRoutes),
	),
	fx.Decorate(func(l *slog.Logger) *slog.Logger { return l.With("module", "auth") }),
)

func provideTokens(lc fx.Lifecycle, cfg Config, store SecretStore, log *slog.Logger) (*Tokens, error) {
	t, err := NewTokens(cfg, store, log)
	if err != nil {
		return nil, err
	}
	lc.Append(fx.StartHook(func(ctx context.Context) error { return t.Start(ctx) }))
	return t, nil
}
