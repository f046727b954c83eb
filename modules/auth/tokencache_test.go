package auth

import (
	"encoding/base64"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// at sets the clock of tk to a fixed instant.
func at(tk *Tokens, now time.Time) { tk.now = func() time.Time { return now } }

func TestTokenCacheHitReturnsTheUser(t *testing.T) {
	t.Parallel()
	tk := newTestTokens(t)
	uid := uuid.Must(uuid.NewV7()).String()
	token, _, err := tk.Issue(uid)
	require.NoError(t, err)
	require.Zero(t, tk.cache.len())
	got, err := tk.Verify(token)
	require.NoError(t, err)
	assert.Equal(t, uid, got)
	v, ok := tk.cache.get(keyOf(token))
	require.True(t, ok, "a verified token is remembered")
	assert.Equal(t, uid, v.userID)
	for range 3 {
		got, err := tk.Verify(token)
		require.NoError(t, err)
		assert.Equal(t, uid, got)
	}
	assert.Equal(t, 1, tk.cache.len())
}

// Once its time is up, a cached token is refused with the parser's error, and it is accepted again
// only if the clock goes back within its window, as the parser would.
func TestTokenCacheExpiredTokenIsRefused(t *testing.T) {
	t.Parallel()
	tk := newTestTokens(t)
	issued := time.Unix(1_900_000_000, 0)
	at(tk, issued)
	uid := uuid.Must(uuid.NewV7()).String()
	token, exp, err := tk.Issue(uid)
	require.NoError(t, err)
	_, err = tk.Verify(token)
	require.NoError(t, err)
	require.Equal(t, 1, tk.cache.len())

	at(tk, exp.Add(tokenLeeway))
	_, err = tk.Verify(token)
	require.ErrorIs(t, err, jwt.ErrTokenExpired, "exp + leeway is past")
	at(tk, exp.Add(time.Hour))
	_, err = tk.Verify(token)
	require.ErrorIs(t, err, jwt.ErrTokenExpired)
	at(tk, issued.Add(-tokenLeeway-time.Second))
	_, err = tk.Verify(token)
	require.ErrorIs(t, err, jwt.ErrTokenUsedBeforeIssued, "a clock gone back before iat - leeway")
	at(tk, exp.Add(tokenLeeway-time.Nanosecond))
	got, err := tk.Verify(token)
	require.NoError(t, err, "within the leeway")
	assert.Equal(t, uid, got)
}

// At every instant around the edges of a token's window, the cached answer is the parser's.
func TestTokenCacheAgreesWithTheParser(t *testing.T) {
	t.Parallel()
	uid := uuid.Must(uuid.NewV7()).String()
	base := time.Unix(1_900_000_000, 0)
	payloads := map[string]string{
		"exp and iat":                 `"iat":1900000000,"exp":1900003600`,
		"fractional times":            `"iat":1900000000.25,"exp":1900003600.75`,
		"nbf after iat":               `"iat":1900000000,"nbf":1900000100.5,"exp":1900003600`,
		"nbf before iat":              `"iat":1900000100,"nbf":1900000000,"exp":1900003600`,
		"exp only":                    `"exp":1900003600`,
		"nbf only":                    `"nbf":1900000100,"exp":1900003600`,
		"iat after exp":               `"iat":1900003700,"exp":1900003600`,
		"issued at the epoch":         `"iat":0,"exp":1900003600`,
		"exp within the leeway of 0":  `"iat":0,"exp":10`,
		"nbf and iat equal, fraction": `"iat":1900000000.5,"nbf":1900000000.5,"exp":1900000001`,
	}
	var edges []time.Time
	for _, s := range []float64{0, 10, 1900000000, 1900000000.25, 1900000000.5, 1900000001, 1900000100, 1900000100.5, 1900003600, 1900003600.75, 1900003700} {
		d := time.Unix(0, 0).Add(time.Duration(s * float64(time.Second)))
		for _, e := range []time.Time{d.Add(-tokenLeeway), d.Add(tokenLeeway)} {
			edges = append(edges, e.Add(-time.Nanosecond), e, e.Add(time.Nanosecond))
		}
	}
	edges = append(edges, base, base.Add(time.Hour))
	for name, fields := range payloads {
		t.Run(name, func(t *testing.T) {
			token := signRaw(t, `{"iss":"gophermart","sub":"`+uid+`",`+fields+`}`)
			cached := newTestTokens(t)
			plain := newTestTokens(t)
			plain.cache = nil
			for _, now := range edges {
				// Verify once anywhere it is valid, so that the cached Tokens remember it.
				at(cached, now)
				if _, err := cached.Verify(token); err == nil {
					break
				}
			}
			// A token never valid (iat after exp) is not remembered, and both refuse it throughout.
			for _, now := range edges {
				at(cached, now)
				at(plain, now)
				want, wantErr := plain.Verify(token)
				got, err := cached.Verify(token)
				assert.Equal(t, want, got, "at %s", now.UTC().Format(time.RFC3339Nano))
				assert.Equal(t, wantErr == nil, err == nil, "at %s: parser %v, cached %v", now.UTC().Format(time.RFC3339Nano), wantErr, err)
			}
		})
	}
}

// The cache is keyed by the whole token: the same header and payload with another signature is a
// forgery, refused however often the genuine token was verified.
func TestTokenCacheForgedSignatureIsRefused(t *testing.T) {
	t.Parallel()
	tk := newTestTokens(t)
	uid := uuid.Must(uuid.NewV7()).String()
	token, _, err := tk.Issue(uid)
	require.NoError(t, err)
	for range 2 {
		_, err = tk.Verify(token)
		require.NoError(t, err)
	}
	head := token[:strings.LastIndexByte(token, '.')]
	other, err := jwt.SigningMethodHS256.Sign(head, []byte("another-secret-another-secret-123"))
	require.NoError(t, err)
	forged := head + "." + base64.RawURLEncoding.EncodeToString(other)
	require.NotEqual(t, token, forged)
	for range 2 {
		got, err := tk.Verify(forged)
		require.ErrorIs(t, err, jwt.ErrTokenSignatureInvalid)
		assert.Empty(t, got)
	}
	truncated := token[:len(token)-1]
	_, err = tk.Verify(truncated)
	require.Error(t, err)
	assert.Equal(t, 1, tk.cache.len(), "failures are never remembered")
}

// Tokens that fail are never remembered, whatever the reason.
func TestTokenCacheKeepsNoFailure(t *testing.T) {
	t.Parallel()
	tk := newTestTokens(t)
	for _, token := range []string{
		"", "not.a.jwt",
		signRaw(t, `{"iss":"gophermart","sub":"admin","exp":4102444800}`),
		signRaw(t, `{"iss":"gophermart","sub":"`+uuid.Must(uuid.NewV7()).String()+`","exp":1}`),
		signRaw(t, `{"iss":"gophermart","sub":"`+uuid.Must(uuid.NewV7()).String()+`","exp":"4102444800"}`),
	} {
		for range 2 {
			_, err := tk.Verify(token)
			require.Error(t, err)
		}
	}
	assert.Zero(t, tk.cache.len())
}

// The cache stays within its limit, evicting the oldest tokens of a shard first.
func TestTokenCacheIsBounded(t *testing.T) {
	t.Parallel()
	tk := newTestTokens(t)
	const limit = 2 * tokenCacheShards
	tk.cache = newTokenCache(limit)
	var tokens []string
	for range 20 * limit {
		token, _, err := tk.Issue(uuid.Must(uuid.NewV7()).String())
		require.NoError(t, err)
		_, err = tk.Verify(token)
		require.NoError(t, err)
		tokens = append(tokens, token)
		require.LessOrEqual(t, tk.cache.len(), limit)
	}
	assert.Equal(t, limit, tk.cache.len(), "every shard is full")
	_, ok := tk.cache.get(keyOf(tokens[len(tokens)-1]))
	assert.True(t, ok, "the latest token is remembered")
	_, ok = tk.cache.get(keyOf(tokens[0]))
	assert.False(t, ok, "the first token was evicted")
	for i := range tk.cache.shards {
		s := &tk.cache.shards[i]
		require.Len(t, s.entries, len(s.ring), "shard %d: the ring holds exactly the keys", i)
		for _, k := range s.ring {
			require.Contains(t, s.entries, k)
		}
	}
	// Evicted tokens still verify: they are parsed again.
	for _, token := range tokens[:10] {
		_, err := tk.Verify(token)
		require.NoError(t, err)
	}
}

// Goroutines verifying, remembering and evicting at once (run with -race: the cache's locks are
// what keeps this from racing), each always getting its own user.
func TestTokenCacheConcurrent(t *testing.T) {
	t.Parallel()
	tk := newTestTokens(t)
	tk.cache = newTokenCache(tokenCacheShards) // one entry per shard: constant eviction
	const workers, perWorker = 8, 40
	users := make([][]string, workers)
	tokens := make([][]string, workers)
	for w := range workers {
		for range perWorker {
			uid := uuid.Must(uuid.NewV7()).String()
			token, _, err := tk.Issue(uid)
			require.NoError(t, err)
			users[w] = append(users[w], uid)
			tokens[w] = append(tokens[w], token)
		}
	}
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := range workers {
		wg.Go(func() {
			for round := range 5 {
				for i, token := range tokens[w] {
					got, err := tk.Verify(token)
					if err != nil || got != users[w][i] {
						errs <- fmt.Errorf("worker %d round %d token %d: %q, %w", w, round, i, got, err)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	assert.LessOrEqual(t, tk.cache.len(), tokenCacheShards)
}
