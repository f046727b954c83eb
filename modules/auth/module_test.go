package auth

import (
	"bytes"
	"log/slog"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx"
	"go.uber.org/fx/fxtest"

	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/web"
)

// TestModule builds the module with fx as cmd does (production hashing parameters included) and
// serves a register through the routes it contributes.
func TestModule(t *testing.T) {
	t.Parallel()
	d := dbtest.Migrated(t, dbtest.Open(t, "sqlite"))
	var logs bytes.Buffer
	var got struct {
		fx.In
		Tokens  *Tokens
		Authn   *Authenticator
		Service *Service
		Hasher  *Hasher
		Auth    web.Authenticator
		Routes  []web.Routes `group:"routes"`
	}
	app := fxtest.New(t,
		fx.NopLogger,
		fx.Supply(testConfig(), d, slog.New(slog.NewJSONHandler(&logs, nil))),
		Module,
		fx.Provide(func(a *Authenticator) web.Authenticator { return a }),
		fx.Populate(&got),
	)
	app.RequireStart()
	defer app.RequireStop()

	require.Len(t, got.Routes, 1)
	assert.Same(t, got.Authn, got.Auth)
	assert.Equal(t, DefaultParams, got.Hasher.params)
	assert.Contains(t, logs.String(), `"module":"auth"`, "the module's logger is decorated")

	srv := web.NewServer(web.DefaultConfig(), discardLogger(), got.Auth, d, got.Routes).App()
	e := &env{db: d, tokens: got.Tokens, app: srv}
	r := post(t, srv, "/api/user/register", creds("xena", "password-123"))
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	loggedIn(t, e, r)
	assert.Equal(t, http.StatusUnauthorized, post(t, srv, "/api/user/login", creds("xena", "password-124")).status)
}
