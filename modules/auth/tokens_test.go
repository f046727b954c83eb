package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/web"
)

var _ web.Authenticator = (*Tokens)(nil)

func newTestTokens(t *testing.T) *Tokens {
	t.Helper()
	tk, err := NewTokens(Config{JWTSecret: testSecret, TokenTTL: time.Hour}, nil, discardLogger())
	require.NoError(t, err)
	return tk
}

func sign(t *testing.T, method jwt.SigningMethod, key any, claims jwt.Claims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(method, claims).SignedString(key)
	require.NoError(t, err)
	return s
}

func TestTokensRoundTrip(t *testing.T) {
	t.Parallel()
	tk := newTestTokens(t)
	uid := uuid.Must(uuid.NewV7()).String()
	before := time.Now()
	token, expiry, err := tk.Issue(uid)
	require.NoError(t, err)
	assert.WithinDuration(t, before.Add(time.Hour), expiry, 2*time.Second)
	got, err := tk.Authenticate(token)
	require.NoError(t, err)
	assert.Equal(t, uid, got)

	var claims jwt.RegisteredClaims
	_, _, err = jwt.NewParser().ParseUnverified(token, &claims)
	require.NoError(t, err)
	assert.Equal(t, uid, claims.Subject)
	assert.Equal(t, Issuer, claims.Issuer)
	require.NotNil(t, claims.IssuedAt)
	require.NotNil(t, claims.ExpiresAt)
	assert.Equal(t, time.Hour, claims.ExpiresAt.Sub(claims.IssuedAt.Time))
}

func TestTokensRejectBadTokens(t *testing.T) {
	t.Parallel()
	tk := newTestTokens(t)
	uid := uuid.Must(uuid.NewV7()).String()
	now := time.Now()
	valid := func() jwt.RegisteredClaims {
		return jwt.RegisteredClaims{
			Issuer: Issuer, Subject: uid,
			IssuedAt: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(time.Hour)),
		}
	}
	secret := []byte(testSecret)
	good := sign(t, jwt.SigningMethodHS256, secret, valid())
	_, err := tk.Authenticate(good)
	require.NoError(t, err, "the baseline token is valid")

	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	expired := valid()
	expired.IssuedAt = jwt.NewNumericDate(now.Add(-2 * time.Hour))
	expired.ExpiresAt = jwt.NewNumericDate(now.Add(-time.Hour))
	noExp := valid()
	noExp.ExpiresAt = nil
	wrongIss := valid()
	wrongIss.Issuer = "someone-else"
	noIss := valid()
	noIss.Issuer = ""
	futureIat := valid()
	futureIat.IssuedAt = jwt.NewNumericDate(now.Add(time.Hour))
	notUser := valid()
	notUser.Subject = "admin"
	noSub := valid()
	noSub.Subject = ""

	tests := []struct {
		name  string
		token string
	}{
		{"forged signature", sign(t, jwt.SigningMethodHS256, []byte("another-secret-another-secret-123"), valid())},
		{"tampered payload", good[:len(good)-4] + "AAAA"},
		{"expired", sign(t, jwt.SigningMethodHS256, secret, expired)},
		{"alg none", sign(t, jwt.SigningMethodNone, jwt.UnsafeAllowNoneSignatureType, valid())},
		{"HS384 with the right secret", sign(t, jwt.SigningMethodHS384, secret, valid())},
		{"HS512 with the right secret", sign(t, jwt.SigningMethodHS512, secret, valid())},
		{"RS256", sign(t, jwt.SigningMethodRS256, rsaKey, valid())},
		{"missing exp", sign(t, jwt.SigningMethodHS256, secret, noExp)},
		{"wrong issuer", sign(t, jwt.SigningMethodHS256, secret, wrongIss)},
		{"missing issuer", sign(t, jwt.SigningMethodHS256, secret, noIss)},
		{"issued in the future", sign(t, jwt.SigningMethodHS256, secret, futureIat)},
		{"subject not a user id", sign(t, jwt.SigningMethodHS256, secret, notUser)},
		{"missing subject", sign(t, jwt.SigningMethodHS256, secret, noSub)},
		{"garbage", "not.a.jwt"},
		{"two segments", "abc.def"},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tk.Authenticate(tt.token)
			require.Error(t, err)
			assert.Empty(t, got)
		})
	}
}

func TestTokensLeeway(t *testing.T) {
	t.Parallel()
	tk := newTestTokens(t)
	uid := uuid.Must(uuid.NewV7()).String()
	token, _, err := tk.Issue(uid)
	require.NoError(t, err)
	tk.now = func() time.Time { return time.Now().Add(time.Hour + 10*time.Second) }
	_, err = tk.Authenticate(token)
	require.NoError(t, err, "10 s past exp is within the leeway")
	tk.now = func() time.Time { return time.Now().Add(time.Hour + time.Minute) }
	_, err = tk.Authenticate(token)
	require.ErrorIs(t, err, jwt.ErrTokenExpired)
}

func TestNewTokensConfig(t *testing.T) {
	t.Parallel()
	_, err := NewTokens(Config{JWTSecret: "too short"}, nil, discardLogger())
	require.Error(t, err)
	_, err = NewTokens(Config{}, nil, discardLogger())
	require.Error(t, err, "no secret and no store")
	tk, err := NewTokens(Config{JWTSecret: testSecret}, nil, discardLogger())
	require.NoError(t, err)
	assert.Equal(t, 24*time.Hour, tk.TTL(), "zero TTL means the default")
}

func TestTokensSecretPersistence(t *testing.T) {
	t.Parallel()
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			// Several instances start at once on one database without a configured secret.
			const n = 4
			tks := make([]*Tokens, n)
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					tk, err := NewTokens(Config{TokenTTL: time.Hour}, NewStore(d), discardLogger())
					assert.NoError(t, err)
					tks[i] = tk
				}()
			}
			wg.Wait()
			for i := range n {
				require.NotNil(t, tks[i])
			}
			stored, ok, err := NewStore(d).Setting(context.Background(), SecretSetting)
			require.NoError(t, err)
			require.True(t, ok)
			assert.Len(t, stored, 64, "32 random bytes, hex")
			uid := uuid.Must(uuid.NewV7()).String()
			for i, issuer := range tks {
				token, _, err := issuer.Issue(uid)
				require.NoError(t, err)
				for j, verifier := range tks {
					got, err := verifier.Authenticate(token)
					require.NoError(t, err, "instance %d must accept a token of instance %d", j, i)
					assert.Equal(t, uid, got)
				}
			}
			// A later start (a restart) reuses the stored secret, and warns without logging it.
			var logs bytes.Buffer
			later, err := NewTokens(Config{}, NewStore(d), slog.New(slog.NewJSONHandler(&logs, nil)))
			require.NoError(t, err)
			assert.Contains(t, logs.String(), `"level":"WARN"`)
			assert.Contains(t, logs.String(), "generated secret kept in the database (table gm_settings, name jwt_secret)")
			assert.NotContains(t, logs.String(), stored)
			token, _, err := tks[0].Issue(uid)
			require.NoError(t, err)
			_, err = later.Authenticate(token)
			require.NoError(t, err)
			// A configured secret takes precedence over the stored one.
			configured, err := NewTokens(Config{JWTSecret: testSecret}, NewStore(d), discardLogger())
			require.NoError(t, err)
			_, err = configured.Authenticate(token)
			require.Error(t, err)
		})
	}
}
