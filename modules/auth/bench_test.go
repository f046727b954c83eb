package auth

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/web"
)

// BenchmarkLogin measures successful logins with the production argon2id parameters (7 MiB, t=5,
// p=1) and HashConcurrency = CPU count: one at a time through Service.Login, and in parallel through
// the whole HTTP stack (server middleware, handler, service, SQLite store, token signing).
func BenchmarkLogin(b *testing.B) {
	d := dbtest.Migrated(b, dbtest.Open(b, "sqlite"))
	cfg := testConfig()
	cfg.HashConcurrency = 0
	store := NewStore(d)
	hasher, err := NewHasher(cfg)
	require.NoError(b, err)
	tokens, err := NewTokens(cfg, store, discardLogger())
	require.NoError(b, err)
	require.NoError(b, tokens.Start(context.Background()))
	svc := NewService(cfg, store, hasher, tokens, discardLogger())
	app := web.NewServer(web.DefaultConfig(), discardLogger(), NewAuthenticator(tokens, store), d, []web.Routes{NewRoutes(cfg, svc, tokens)}).App()
	ctx := context.Background()
	_, err = svc.Register(ctx, "bench", "password-123")
	require.NoError(b, err)

	b.Run("service", func(b *testing.B) {
		for b.Loop() {
			if _, err := svc.Login(ctx, "bench", "password-123", "10.0.0.1"); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("http-parallel", func(b *testing.B) {
		body := creds("bench", "password-123")
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				req := httptest.NewRequestWithContext(ctx, http.MethodPost, "/api/user/login", strings.NewReader(body))
				resp, err := app.Test(req, -1)
				if err != nil {
					b.Fatal(err)
				}
				_ = resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					b.Fatalf("status %d", resp.StatusCode)
				}
			}
		})
	})
}

// BenchmarkAuthenticate measures authenticating a known user's token: a hit answers from the cache
// of verified tokens, a miss (the cache off) parses the token, computes its signature and decodes
// its claims. Both look the user up in the known users, never in the database.
func BenchmarkAuthenticate(b *testing.B) {
	d := dbtest.Migrated(b, dbtest.Open(b, "sqlite"))
	cfg := testConfig()
	cfg.JWTSecret = testSecret
	store := NewStore(d)
	ctx := context.Background()
	for _, c := range []struct {
		name  string
		cache bool
	}{{"hit", true}, {"miss", false}} {
		tokens, err := NewTokens(cfg, nil, discardLogger())
		require.NoError(b, err)
		if !c.cache {
			tokens.cache = nil
		}
		a := NewAuthenticator(tokens, store)
		id := uuid.Must(uuid.NewV7()).String()
		dbtest.CreateUser(b, d, id)
		token, _, err := tokens.Issue(id)
		require.NoError(b, err)
		if _, err := a.Authenticate(ctx, token); err != nil {
			b.Fatal(err)
		}
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := a.Authenticate(ctx, token); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(c.name+"-parallel", func(b *testing.B) {
			b.ReportAllocs()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := a.Authenticate(ctx, token); err != nil {
						b.Fatal(err)
					}
				}
			})
		})
	}
}
