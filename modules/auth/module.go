// Package auth registers users, checks their passwords (argon2id) and issues and verifies the JWTs
// that authenticate every other request.
package auth

import (
	"log/slog"

	"go.uber.org/fx"

	"github.com/gophermart/gophermart/modules/platform/web"
)

// Module wires the auth domain: storage, password hashing, tokens, the service and its HTTP routes.
// cmd binds *Authenticator to web.Authenticator.
var Module = fx.Module("auth",
	fx.Provide(
		fx.Annotate(NewStore, fx.As(new(Store)), fx.As(new(SecretStore))),
		NewHasher,
		NewTokens,
		NewAuthenticator,
		NewService,
		web.AsRoutes(NewRoutes),
	),
	fx.Decorate(func(l *slog.Logger) *slog.Logger { return l.With("module", "auth") }),
)
