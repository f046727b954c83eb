package auth

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
)

// oldParams stand for parameters a stored hash was made with before the current ones (fastParams).
var oldParams = Params{Memory: 32, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// The previous production parameters (19 MiB, 2 passes) keep verifying under the current ones.
func TestHasherVerifiesThePreviousProductionParams(t *testing.T) {
	t.Parallel()
	previous := Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}
	old, err := NewHasherWithParams(Config{HashConcurrency: 1}, previous)
	require.NoError(t, err)
	h, err := NewHasher(Config{HashConcurrency: 1})
	require.NoError(t, err)
	ctx := context.Background()
	enc, err := old.Hash(ctx, "correct horse battery staple")
	require.NoError(t, err)
	require.Regexp(t, `^\$argon2id\$v=19\$m=19456,t=2,p=1\$`, enc)
	v, err := h.verifyRehash(ctx, "correct horse battery staple", enc)
	require.NoError(t, err)
	require.True(t, v.ok)
	require.NoError(t, v.rehashErr)
	assert.Regexp(t, `^\$argon2id\$v=19\$m=7168,t=5,p=1\$`, v.rehash)
	ok, err := h.Verify(ctx, "correct horse battery staple", v.rehash)
	require.NoError(t, err)
	assert.True(t, ok)
}

// A match with a hash of other parameters yields a rehash with the current ones, computed in the
// slot of the verification; a mismatch, or a hash of the current parameters, yields none.
func TestHasherRehash(t *testing.T) {
	t.Parallel()
	old, err := NewHasherWithParams(Config{}, oldParams)
	require.NoError(t, err)
	h, err := NewHasherWithParams(Config{HashConcurrency: 1}, fastParams)
	require.NoError(t, err)
	ctx := context.Background()
	enc, err := old.Hash(ctx, "password-123")
	require.NoError(t, err)
	current, err := h.Hash(ctx, "password-123")
	require.NoError(t, err)
	_, calls := watchOverlap(h, func(int32) {})

	v, err := h.verifyRehash(ctx, "password-124", enc)
	require.NoError(t, err)
	assert.Equal(t, verdict{}, v, "a wrong password never rehashes")
	assert.Equal(t, int32(1), calls.Load())

	v, err = h.verifyRehash(ctx, "password-123", current)
	require.NoError(t, err)
	assert.Equal(t, verdict{ok: true}, v, "a hash of the current parameters stays")
	assert.Equal(t, int32(2), calls.Load())

	v, err = h.verifyRehash(ctx, "password-123", enc)
	require.NoError(t, err)
	require.True(t, v.ok)
	require.NoError(t, v.rehashErr)
	assert.Equal(t, int32(4), calls.Load(), "the verification and the rehash")
	p, _, _, err := decodeHash(v.rehash)
	require.NoError(t, err)
	assert.Equal(t, fastParams, p)
	ok, err := h.Verify(ctx, "password-123", v.rehash)
	require.NoError(t, err)
	assert.True(t, ok)
}

// A rehash is computed in the slot of its verification: every derivation runs with a slot taken,
// and rehashing logins at once never run more hashes than the hasher has slots.
func TestHasherRehashStaysInItsSlot(t *testing.T) {
	t.Parallel()
	old, err := NewHasherWithParams(Config{}, oldParams)
	require.NoError(t, err)
	h, err := NewHasherWithParams(Config{HashConcurrency: 2}, fastParams)
	require.NoError(t, err)
	h.wait = 1 << 62 // this test is about exclusion, not the time-out
	ctx := context.Background()
	const n = 8
	encs := make([]string, n)
	for i := range n {
		encs[i], err = old.Hash(ctx, "password-"+strconv.Itoa(i))
		require.NoError(t, err)
	}
	var unslotted atomic.Int32
	maxSeen, calls := watchOverlap(h, func(int32) {
		if len(h.slots) == 0 {
			unslotted.Add(1)
		}
	})
	v, err := h.verifyRehash(ctx, "password-0", encs[0])
	require.NoError(t, err)
	require.NotEmpty(t, v.rehash)
	require.Equal(t, int32(2), calls.Load())
	require.Zero(t, unslotted.Load(), "alone, a derivation saw no slot taken")

	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			v, err := h.verifyRehash(ctx, "password-"+strconv.Itoa(i), encs[i])
			if !assert.NoError(t, err) { //nolint:testifylint // require must not be called from this goroutine
				return
			}
			assert.True(t, v.ok)
			assert.NotEmpty(t, v.rehash)
		})
	}
	wg.Wait()
	assert.Equal(t, int32(2+2*n), calls.Load(), "a verification and a rehash each")
	assert.LessOrEqual(t, maxSeen.Load(), int32(2), "never more hashes at once than slots")
	assert.Zero(t, unslotted.Load())
}

// replacingStore is the real store, counting the hash replacements that took effect, and failing
// them with fail while it is set.
type replacingStore struct {
	*SQLStore
	fail     error
	replaced atomic.Int32
}

func (s *replacingStore) ReplacePasswordHash(ctx context.Context, id, old, replacement string) (bool, error) {
	if s.fail != nil {
		return false, s.fail
	}
	ok, err := s.SQLStore.ReplacePasswordHash(ctx, id, old, replacement)
	if ok {
		s.replaced.Add(1)
	}
	return ok, err
}

// rehashEnv is the module on one database with a user whose hash was made with oldParams; the
// service hashes with fastParams.
func rehashEnv(t *testing.T, open dbtest.Opener, login string) (*env, *replacingStore, User) {
	t.Helper()
	e := newEnv(t, open(t), testConfig())
	oldHasher, err := NewHasherWithParams(testConfig(), oldParams)
	require.NoError(t, err)
	_, err = NewService(testConfig(), e.store, oldHasher, e.tokens, discardLogger()).Register(context.Background(), login, "password-123")
	require.NoError(t, err)
	u, err := e.store.UserByLogin(context.Background(), login)
	require.NoError(t, err)
	p, _, _, err := decodeHash(u.PasswordHash)
	require.NoError(t, err)
	require.Equal(t, oldParams, p)
	store := &replacingStore{SQLStore: e.store}
	e.svc = NewService(testConfig(), store, e.hasher, e.tokens, discardLogger())
	return e, store, u
}

func TestServiceLoginRehashesOldParams(t *testing.T) {
	t.Parallel()
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e, store, u := rehashEnv(t, open, "olga")
			ctx := context.Background()
			_, calls := watchOverlap(e.hasher, func(int32) {})

			_, err := e.svc.Login(ctx, "olga", "password-124", "10.0.0.1")
			require.ErrorIs(t, err, ErrBadCredentials)
			got, err := e.store.UserByLogin(ctx, "olga")
			require.NoError(t, err)
			assert.Equal(t, u.PasswordHash, got.PasswordHash, "a wrong password never rehashes")
			assert.Equal(t, int32(1), calls.Load())

			s, err := e.svc.Login(ctx, "OLGA", "password-123", "10.0.0.1")
			require.NoError(t, err)
			assert.Equal(t, u.ID, s.UserID)
			assert.Equal(t, int32(3), calls.Load(), "the verification and the rehash")
			got, err = e.store.UserByLogin(ctx, "olga")
			require.NoError(t, err)
			assert.NotEqual(t, u.PasswordHash, got.PasswordHash)
			p, _, _, err := decodeHash(got.PasswordHash)
			require.NoError(t, err)
			assert.Equal(t, fastParams, p, "the stored hash has the current parameters")
			assert.Equal(t, int32(1), store.replaced.Load())

			s, err = e.svc.Login(ctx, "olga", "password-123", "10.0.0.1")
			require.NoError(t, err, "the rehashed password logs in")
			assert.Equal(t, u.ID, s.UserID)
			assert.Equal(t, int32(4), calls.Load(), "a current hash is not rehashed")
			_, err = e.svc.Login(ctx, "olga", "password-124", "10.0.0.1")
			require.ErrorIs(t, err, ErrBadCredentials)
			again, err := e.store.UserByLogin(ctx, "olga")
			require.NoError(t, err)
			assert.Equal(t, got.PasswordHash, again.PasswordHash)
			assert.Equal(t, int32(1), store.replaced.Load())
		})
	}
}

// Logins that all read the old hash before any of them stores its rehash: exactly one replaces it,
// the others change nothing, and every one succeeds.
func TestServiceConcurrentRehashReplacesOnce(t *testing.T) {
	t.Parallel()
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e, store, u := rehashEnv(t, open, "paul")
			ctx := context.Background()
			const n = 4 // testConfig's HashConcurrency: all verifications run at once
			var started sync.WaitGroup
			started.Add(n)
			var verifications atomic.Int32
			watchOverlap(e.hasher, func(int32) {
				if verifications.Add(1) <= n { // the verifications, each after its read of the hash
					started.Done()
					started.Wait()
				}
			})
			var wg sync.WaitGroup
			for i := range n {
				wg.Go(func() {
					s, err := e.svc.Login(ctx, "paul", "password-123", "10.2.0."+strconv.Itoa(i))
					if assert.NoError(t, err) {
						assert.Equal(t, u.ID, s.UserID)
					}
				})
			}
			wg.Wait()
			assert.Equal(t, int32(1), store.replaced.Load(), "one rehash replaces the old hash")
			got, err := e.store.UserByLogin(ctx, "paul")
			require.NoError(t, err)
			p, _, _, err := decodeHash(got.PasswordHash)
			require.NoError(t, err)
			assert.Equal(t, fastParams, p)
			_, err = e.svc.Login(ctx, "paul", "password-123", "10.2.1.1")
			require.NoError(t, err)
		})
	}
}

// The conditional update changes nothing once the stored hash is no longer the old one.
func TestStoreReplacePasswordHashIsConditional(t *testing.T) {
	t.Parallel()
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e, _, u := rehashEnv(t, open, "quinn")
			ctx := context.Background()
			ok, err := e.store.ReplacePasswordHash(ctx, u.ID, u.PasswordHash, "first")
			require.NoError(t, err)
			assert.True(t, ok)
			ok, err = e.store.ReplacePasswordHash(ctx, u.ID, u.PasswordHash, "second")
			require.NoError(t, err)
			assert.False(t, ok, "the hash is no longer the old one")
			got, err := e.store.UserByLogin(ctx, "quinn")
			require.NoError(t, err)
			assert.Equal(t, "first", got.PasswordHash)
		})
	}
}

// A rehash that cannot be stored leaves the old hash, logs a warning, and the login succeeds.
func TestServiceFailedRehashStillLogsIn(t *testing.T) {
	t.Parallel()
	e, store, u := rehashEnv(t, dbtest.Engines(t)["sqlite"], "rita")
	store.fail = errors.New("disk full")
	var logs bytes.Buffer
	e.svc = NewService(testConfig(), store, e.hasher, e.tokens, slog.New(slog.NewJSONHandler(&logs, nil)))
	ctx := context.Background()
	s, err := e.svc.Login(ctx, "rita", "password-123", "10.0.0.1")
	require.NoError(t, err)
	assert.Equal(t, u.ID, s.UserID)
	assert.Contains(t, logs.String(), `"level":"WARN"`)
	assert.Contains(t, logs.String(), "disk full")
	assert.NotContains(t, logs.String(), "password-123")
	got, err := e.store.UserByLogin(ctx, "rita")
	require.NoError(t, err)
	assert.Equal(t, u.PasswordHash, got.PasswordHash)
}
