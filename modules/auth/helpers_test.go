package auth

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db"
	"github.com/gophermart/gophermart/modules/platform/web"
)

// fastParams keep tests quick; the production parameters get their own test.
var fastParams = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

const testSecret = "0123456789abcdef0123456789abcdef-test-secret"

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// env is the auth module built by hand on one database, as fx would build it.
type env struct {
	db     *db.DB
	store  *SQLStore
	hasher *Hasher
	tokens *Tokens
	authn  *Authenticator
	svc    *Service
	routes web.Routes
	app    *fiber.App
}

func testConfig() Config {
	return Config{
		TokenTTL: time.Hour, CookieSameSite: "Strict", HashConcurrency: 4,
		LoginMaxFailures: 3, LoginWindow: time.Minute,
	}
}

// newEnv builds the module on d with cfg and cheap hashing parameters. A protected route GET
// /api/user/whoami answers the caller's id, to check the guard with real tokens.
func newEnv(tb testing.TB, d *db.DB, cfg Config) *env {
	tb.Helper()
	e := &env{db: d, store: NewStore(d)}
	var err error
	e.hasher, err = NewHasherWithParams(cfg, fastParams)
	require.NoError(tb, err)
	e.tokens, err = NewTokens(cfg, e.store, discardLogger())
	require.NoError(tb, err)
	require.NoError(tb, e.tokens.Start(context.Background()))
	e.authn = NewAuthenticator(e.tokens, e.store)
	e.svc = NewService(cfg, e.store, e.hasher, e.tokens, discardLogger())
	e.routes = NewRoutes(cfg, e.svc, e.tokens)
	whoami := web.Routes{Protected: func(r fiber.Router) {
		r.Get("/whoami", func(c *fiber.Ctx) error { return c.SendString(web.UserID(c)) })
	}}
	e.app = web.NewServer(web.DefaultConfig(), discardLogger(), e.authn, d, []web.Routes{e.routes, whoami}).App()
	return e
}

// reply is a finished HTTP exchange.
type reply struct {
	status int
	header http.Header
	body   string
	cookie *http.Cookie // the auth cookie, if set
}

func send(tb testing.TB, app *fiber.App, method, path, body string, header map[string]string) reply {
	tb.Helper()
	req := httptest.NewRequestWithContext(context.Background(), method, path, strings.NewReader(body))
	for k, v := range header {
		req.Header.Set(k, v)
	}
	resp, err := app.Test(req, -1)
	require.NoError(tb, err)
	return readReply(tb, resp)
}

func readReply(tb testing.TB, resp *http.Response) reply {
	tb.Helper()
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(tb, err)
	r := reply{status: resp.StatusCode, header: resp.Header, body: string(b)}
	for _, c := range resp.Cookies() {
		if c.Name == web.CookieName {
			r.cookie = c
		}
	}
	return r
}

func post(tb testing.TB, app *fiber.App, path, body string) reply {
	tb.Helper()
	return send(tb, app, http.MethodPost, path, body, map[string]string{"Content-Type": "application/json"})
}

func creds(login, password string) string {
	b, _ := json.Marshal(map[string]string{"login": login, "password": password})
	return string(b)
}
