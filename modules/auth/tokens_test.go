package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/web"
)

var _ web.Authenticator = (*Authenticator)(nil)

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
	after := time.Now()
	require.NoError(t, err)
	assert.WithinRange(t, expiry, before.Add(time.Hour), after.Add(time.Hour), "issued now, for the TTL")
	got, err := tk.Verify(token)
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
	_, err := tk.Verify(good)
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
			got, err := tk.Verify(tt.token)
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
	_, err = tk.Verify(token)
	require.NoError(t, err, "10 s past exp is within the leeway")
	tk.now = func() time.Time { return time.Now().Add(time.Hour + time.Minute) }
	_, err = tk.Verify(token)
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

// Building Tokens does no I/O: without a configured secret they neither issue nor verify until
// Start has loaded the stored one, and a store that fails makes Start fail.
func TestTokensLoadTheStoredSecretOnStart(t *testing.T) {
	t.Parallel()
	store := &failingSecrets{err: errors.New("database unreachable")}
	tk, err := NewTokens(Config{TokenTTL: time.Hour}, store, discardLogger())
	require.NoError(t, err)
	assert.Zero(t, store.calls.Load(), "the constructor touched the store")
	_, _, err = tk.Issue(uuid.Must(uuid.NewV7()).String())
	require.ErrorIs(t, err, errNoSecret)
	_, err = tk.Verify(sign(t, jwt.SigningMethodHS256, []byte(testSecret), jwt.RegisteredClaims{Issuer: Issuer}))
	require.Error(t, err)

	require.ErrorIs(t, tk.Start(context.Background()), store.err)
	store.err = nil
	require.NoError(t, tk.Start(context.Background()))
	token, _, err := tk.Issue(uuid.Must(uuid.NewV7()).String())
	require.NoError(t, err)
	_, err = tk.Verify(token)
	require.NoError(t, err)
}

// failingSecrets is a SecretStore that fails with err while it is set, and keeps one value otherwise.
type failingSecrets struct {
	err   error
	calls atomic.Int64
	value string
}

func (s *failingSecrets) Setting(context.Context, string) (string, bool, error) {
	s.calls.Add(1)
	return s.value, s.value != "", s.err
}

func (s *failingSecrets) InitSetting(_ context.Context, _, value string) (string, error) {
	s.calls.Add(1)
	if s.err != nil {
		return "", s.err
	}
	if s.value == "" {
		s.value = value
	}
	return s.value, nil
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
					if assert.NoError(t, err) && assert.NoError(t, tk.Start(context.Background())) {
						tks[i] = tk
					}
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
					got, err := verifier.Verify(token)
					require.NoError(t, err, "instance %d must accept a token of instance %d", j, i)
					assert.Equal(t, uid, got)
				}
			}
			// A later start (a restart) reuses the stored secret, and warns without logging it.
			var logs bytes.Buffer
			later, err := NewTokens(Config{}, NewStore(d), slog.New(slog.NewJSONHandler(&logs, nil)))
			require.NoError(t, err)
			require.NoError(t, later.Start(context.Background()))
			assert.Contains(t, logs.String(), `"level":"WARN"`)
			assert.Contains(t, logs.String(), "generated secret kept in the database (table gm_settings, name jwt_secret)")
			assert.NotContains(t, logs.String(), stored)
			token, _, err := tks[0].Issue(uid)
			require.NoError(t, err)
			_, err = later.Verify(token)
			require.NoError(t, err)
			// A configured secret takes precedence over the stored one.
			configured, err := NewTokens(Config{JWTSecret: testSecret}, NewStore(d), discardLogger())
			require.NoError(t, err)
			require.NoError(t, configured.Start(context.Background()), "a configured secret needs no database")
			_, err = configured.Verify(token)
			require.Error(t, err)
		})
	}
}

// signRaw signs payload, a JSON object written out by hand, with HS256 and the test secret.
func signRaw(t *testing.T, payload string) string {
	t.Helper()
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + enc.EncodeToString([]byte(payload))
	sig, err := jwt.SigningMethodHS256.Sign(head, []byte(testSecret))
	require.NoError(t, err)
	return head + "." + enc.EncodeToString(sig)
}

// Claims of the wrong type, repeated or unknown make a token malformed, even signed with the right
// secret: jwt's own decoding takes "exp":"<digits>" for a date.
func TestTokensRejectClaimsOfTheWrongType(t *testing.T) {
	t.Parallel()
	tk := newTestTokens(t)
	uid := uuid.Must(uuid.NewV7()).String()
	now := time.Now().Unix()
	exp, iat := strconv.FormatInt(now+3600, 10), strconv.FormatInt(now, 10)
	claims := func(fields string) string {
		return signRaw(t, `{"iss":"gophermart","sub":"`+uid+`",`+fields+`}`)
	}
	got, err := tk.Verify(claims(`"iat":` + iat + `,"exp":` + exp))
	require.NoError(t, err, "the baseline, written by hand, is valid")
	assert.Equal(t, uid, got)
	_, err = tk.Verify(claims(`"iat":` + iat + `.5,"exp":` + exp + `,"aud":["shop"],"jti":"x","nbf":` + iat))
	require.NoError(t, err, "every registered claim of its type is accepted")
	got, err = tk.Verify(signRaw(t, `{"exp":`+exp+`,"iat":`+iat+`,"iss":"gophermart","sub":"\u0030`+uid[1:]+`","aud":"shop"}`))
	require.NoError(t, err, "in any order, with escapes, aud a string")
	assert.Equal(t, "0"+uid[1:], got)

	tests := []struct{ name, token string }{
		{"exp a string", claims(`"iat":` + iat + `,"exp":"` + exp + `"`)},
		{"iat a string", claims(`"iat":"` + iat + `","exp":` + exp)},
		{"nbf a string", claims(`"iat":` + iat + `,"exp":` + exp + `,"nbf":"` + iat + `"`)},
		{"exp a boolean", claims(`"iat":` + iat + `,"exp":true`)},
		{"exp an object", claims(`"iat":` + iat + `,"exp":{"n":` + exp + `}`)},
		{"exp null", claims(`"iat":` + iat + `,"exp":null`)},
		{"exp beyond year 9999", claims(`"iat":` + iat + `,"exp":1e300`)},
		{"exp negative", claims(`"iat":-1,"exp":` + exp)},
		{"exp twice", claims(`"iat":` + iat + `,"exp":1,"exp":` + exp)},
		{"sub twice", signRaw(t, `{"iss":"gophermart","sub":"`+uuid.Must(uuid.NewV7()).String()+`","sub":"`+uid+`","iat":`+iat+`,"exp":`+exp+`}`)},
		{"sub a number", signRaw(t, `{"iss":"gophermart","sub":5,"iat":`+iat+`,"exp":`+exp+`}`)},
		{"iss an array", signRaw(t, `{"iss":["gophermart"],"sub":"`+uid+`","iat":`+iat+`,"exp":`+exp+`}`)},
		{"aud a number", claims(`"iat":` + iat + `,"exp":` + exp + `,"aud":1`)},
		{"aud with a null", claims(`"iat":` + iat + `,"exp":` + exp + `,"aud":["shop",null]`)},
		{"aud twice", claims(`"iat":` + iat + `,"exp":` + exp + `,"aud":"a","aud":"b"`)},
		{"exp in another case, twice", claims(`"iat":` + iat + `,"exp":1,"EXP":` + exp)},
		{"sub null", signRaw(t, `{"iss":"gophermart","sub":null,"iat":`+iat+`,"exp":`+exp+`}`)},
		{"iss escaped twice", signRaw(t, `{"iss":"x","\u0069ss":"gophermart","sub":"`+uid+`","iat":`+iat+`,"exp":`+exp+`}`)},
		{"unknown claim", claims(`"iat":` + iat + `,"exp":` + exp + `,"admin":true`)},
		{"claims an array", signRaw(t, `["gophermart"]`)},
		{"trailing data", signRaw(t, `{"iss":"gophermart","sub":"`+uid+`","iat":`+iat+`,"exp":`+exp+`} {}`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tk.Verify(tt.token)
			require.Error(t, err)
			assert.Empty(t, got)
		})
	}
}
