// Package webtest builds the real web.Server around a module's Routes for HTTP tests, with a
// stand-in authenticator: the bearer token "user:<id>" authenticates user <id>.
package webtest

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"

	"github.com/gofiber/fiber/v2"

	"github.com/gophermart/gophermart/modules/platform/web"
)

// Token returns the bearer token the stand-in authenticator accepts for userID.
func Token(userID string) string { return "user:" + userID }

type fakeAuth struct{}

func (fakeAuth) Authenticate(_ context.Context, token string) (string, error) {
	id, ok := strings.CutPrefix(token, "user:")
	if !ok || id == "" {
		return "", errors.New("bad token")
	}
	return id, nil
}

type noPing struct{}

func (noPing) Ping(context.Context) error { return nil }

// New returns the fiber app of a real web.Server (default config, the production middleware and
// error handler) serving routes.
func New(routes ...web.Routes) *fiber.App {
	return web.NewServer(web.DefaultConfig(), slog.New(slog.NewTextHandler(io.Discard, nil)), fakeAuth{}, noPing{}, routes).App()
}
