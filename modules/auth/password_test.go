package auth

import (
	"context"
	"regexp"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var phcRE = regexp.MustCompile(`^\$argon2id\$v=19\$m=(\d+),t=(\d+),p=(\d+)\$([A-Za-z0-9+/]+)\$([A-Za-z0-9+/]+)$`)

func TestHasherProductionParams(t *testing.T) {
	t.Parallel()
	h, err := NewHasher(Config{HashConcurrency: 1})
	require.NoError(t, err)
	ctx := context.Background()
	enc, err := h.Hash(ctx, "correct horse battery staple")
	require.NoError(t, err)
	m := phcRE.FindStringSubmatch(enc)
	require.NotNil(t, m, "not a PHC string: %s", enc)
	assert.Equal(t, []string{"7168", "5", "1"}, m[1:4])
	p, salt, key, err := decodeHash(enc)
	require.NoError(t, err)
	assert.Equal(t, DefaultParams, p)
	assert.Len(t, salt, 16)
	assert.Len(t, key, 32)
	ok, err := h.Verify(ctx, "correct horse battery staple", enc)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = h.Verify(ctx, "correct horse battery stapler", enc)
	require.NoError(t, err)
	assert.False(t, ok)
	assert.Contains(t, h.dummy, "$m=7168,t=5,p=1$", "the dummy hash uses the production parameters")
}

func TestHasherRoundTrip(t *testing.T) {
	t.Parallel()
	h, err := NewHasherWithParams(Config{}, fastParams)
	require.NoError(t, err)
	ctx := context.Background()
	for _, pw := range []string{"password", "пароль-с-юникодом", "with\x00nul and spaces", string(make([]byte, 1000))} {
		enc, err := h.Hash(ctx, pw)
		require.NoError(t, err)
		require.Regexp(t, phcRE, enc)
		ok, err := h.Verify(ctx, pw, enc)
		require.NoError(t, err)
		assert.True(t, ok, "own password must verify")
		ok, err = h.Verify(ctx, pw+"x", enc)
		require.NoError(t, err)
		assert.False(t, ok, "wrong password must not verify")
	}
	a, err := h.Hash(ctx, "same password")
	require.NoError(t, err)
	b, err := h.Hash(ctx, "same password")
	require.NoError(t, err)
	assert.NotEqual(t, a, b, "every hash has its own salt")
}

func TestHasherReadsParamsFromHash(t *testing.T) {
	t.Parallel()
	old, err := NewHasherWithParams(Config{}, Params{Memory: 32, Time: 3, Threads: 2, SaltLen: 8, KeyLen: 16})
	require.NoError(t, err)
	current, err := NewHasherWithParams(Config{}, fastParams)
	require.NoError(t, err)
	ctx := context.Background()
	enc, err := old.Hash(ctx, "an old password")
	require.NoError(t, err)
	assert.Regexp(t, `^\$argon2id\$v=19\$m=32,t=3,p=2\$`, enc)
	// The current hasher (other parameters) verifies it with the parameters written in the string.
	ok, err := current.Verify(ctx, "an old password", enc)
	require.NoError(t, err)
	assert.True(t, ok)
	ok, err = current.Verify(ctx, "another password", enc)
	require.NoError(t, err)
	assert.False(t, ok)
	p, salt, key, err := decodeHash(enc)
	require.NoError(t, err)
	assert.Equal(t, Params{Memory: 32, Time: 3, Threads: 2, SaltLen: 8, KeyLen: 16}, p)
	assert.Len(t, salt, 8)
	assert.Len(t, key, 16)
}

func TestHasherRejectsMalformedHash(t *testing.T) {
	t.Parallel()
	h, err := NewHasherWithParams(Config{}, fastParams)
	require.NoError(t, err)
	good, err := h.Hash(context.Background(), "password")
	require.NoError(t, err)
	m := phcRE.FindStringSubmatch(good)
	salt, key := m[4], m[5]
	tests := []struct{ name, enc string }{
		{"empty", ""},
		{"bcrypt", "$2a$10$abcdefghijklmnopqrstuu5sWqfPjHD4n4DgyRz8nZrhNgG3nF3N."},
		{"argon2i", "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"old version", "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key},
		{"missing param", "$argon2id$v=19$m=64,t=1$" + salt + "$" + key},
		{"unknown param", "$argon2id$v=19$m=64,t=1,p=1,x=2$" + salt + "$" + key},
		{"zero time", "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key},
		{"huge memory", "$argon2id$v=19$m=4294967295,t=1,p=1$" + salt + "$" + key},
		{"threads overflow", "$argon2id$v=19$m=64,t=1,p=256$" + salt + "$" + key},
		{"bad salt", "$argon2id$v=19$m=64,t=1,p=1$!!!$" + key},
		{"short key", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$AAAA"},
		{"extra part", good + "$x"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := h.Verify(context.Background(), "password", tt.enc)
			require.ErrorIs(t, err, errMalformedHash)
			assert.False(t, ok)
		})
	}
}

func TestNewHasherRejectsBadParams(t *testing.T) {
	t.Parallel()
	for _, p := range []Params{
		{},
		{Memory: 64, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 8},
		{Memory: 4, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
	} {
		_, err := NewHasherWithParams(Config{}, p)
		assert.Error(t, err, "%+v", p)
	}
}

// watchOverlap wraps h's key derivation to record how many computations ever ran at once. Each
// computation first calls hold(running), which can widen the window for an overlap to show.
func watchOverlap(h *Hasher, hold func(running int32)) (maxSeen, calls *atomic.Int32) {
	var running atomic.Int32
	maxSeen, calls = new(atomic.Int32), new(atomic.Int32)
	inner := h.derive
	h.derive = func(password, salt []byte, p Params) []byte {
		calls.Add(1)
		n := running.Add(1)
		defer running.Add(-1)
		for {
			m := maxSeen.Load()
			if n <= m || maxSeen.CompareAndSwap(m, n) {
				break
			}
		}
		hold(n)
		return inner(password, salt, p)
	}
	return maxSeen, calls
}

func TestHasherSemaphoreNeverOverlaps(t *testing.T) {
	t.Parallel()
	h, err := NewHasherWithParams(Config{HashConcurrency: 1}, fastParams)
	require.NoError(t, err)
	h.wait = time.Minute // this test is about exclusion, not the time-out
	enc, err := h.Hash(context.Background(), "password")
	require.NoError(t, err)
	// Each computation lingers a little, so that an overlap would have every chance to happen.
	maxSeen, calls := watchOverlap(h, func(int32) { time.Sleep(2 * time.Millisecond) })
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if i%2 == 0 {
				_, err := h.Hash(context.Background(), "password")
				assert.NoError(t, err)
				return
			}
			ok, err := h.Verify(context.Background(), "password", enc)
			assert.NoError(t, err)
			assert.True(t, ok)
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(16), calls.Load())
	assert.Equal(t, int32(1), maxSeen.Load(), "with HashConcurrency 1 no two computations may overlap")
}

func TestHasherSemaphoreAllowsConcurrency(t *testing.T) {
	t.Parallel()
	// The counter does see overlaps: with 4 slots, the first computations wait for each other until
	// 4 run at once; the 5th never gets in alongside them.
	h, err := NewHasherWithParams(Config{HashConcurrency: 4}, fastParams)
	require.NoError(t, err)
	h.wait = time.Minute
	full := make(chan struct{})
	var once sync.Once
	maxSeen, _ := watchOverlap(h, func(running int32) {
		if running == 4 {
			once.Do(func() { close(full) })
		}
		select {
		case <-full:
		case <-time.After(10 * time.Second): // only if the semaphore wrongly held them to fewer
		}
	})
	var wg sync.WaitGroup
	for range 12 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, err := h.Hash(context.Background(), "password")
			assert.NoError(t, err)
		}()
	}
	wg.Wait()
	assert.Equal(t, int32(4), maxSeen.Load())
}

func TestHasherBusy(t *testing.T) {
	t.Parallel()
	h, err := NewHasherWithParams(Config{HashConcurrency: 1}, fastParams)
	require.NoError(t, err)
	release, err := h.acquire(context.Background()) // the only slot is taken
	require.NoError(t, err)
	defer release()

	h.wait = 20 * time.Millisecond
	_, err = h.Hash(context.Background(), "password")
	require.ErrorIs(t, err, ErrBusy, "no slot within the wait")

	h.wait = time.Minute
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err = h.Hash(ctx, "password")
	require.ErrorIs(t, err, ErrBusy, "the request's context ended while waiting")
	require.ErrorIs(t, err, context.Canceled)
}
