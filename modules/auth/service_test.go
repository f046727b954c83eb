package auth

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
)

func TestServiceConcurrentDuplicateRegistration(t *testing.T) {
	t.Parallel()
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, open(t), testConfig())
			// 20 registrations of one login, spelt in different cases, at once.
			logins := []string{"racer", "Racer", "RACER", "rAcEr", "raceR"}
			const n = 20
			errs := make([]error, n)
			sessions := make([]Session, n)
			start := make(chan struct{})
			var wg sync.WaitGroup
			for i := range n {
				wg.Add(1)
				go func() {
					defer wg.Done()
					<-start
					sessions[i], errs[i] = e.svc.Register(context.Background(), logins[i%len(logins)], "password-123")
				}()
			}
			close(start)
			wg.Wait()
			won := -1
			for i, err := range errs {
				if err == nil {
					require.Equal(t, -1, won, "two registrations succeeded")
					won = i
					continue
				}
				require.ErrorIs(t, err, ErrLoginTaken, "registration %d: only 409 may lose", i)
			}
			require.NotEqual(t, -1, won, "one registration must succeed")
			uid, err := e.tokens.Verify(sessions[won].Token)
			require.NoError(t, err)
			assert.Equal(t, sessions[won].UserID, uid)
			// The winner logs in under any spelling of the login.
			for _, l := range logins {
				s, err := e.svc.Login(context.Background(), l, "password-123", "10.0.0.1")
				require.NoError(t, err)
				assert.Equal(t, uid, s.UserID)
			}
		})
	}
}

func TestServiceLoginCostsOneHashEitherWay(t *testing.T) {
	t.Parallel()
	d := dbtest.Open(t, "sqlite")
	e := newEnv(t, dbtest.Migrated(t, d), testConfig())
	ctx := context.Background()
	_, err := e.svc.Register(ctx, "dora", "password-123")
	require.NoError(t, err)
	_, calls := watchOverlap(e.hasher, func(int32) {})

	tests := []struct {
		name, login, password string
		wantHashes            int32
		wantErr               error
	}{
		{"right pair", "dora", "password-123", 1, nil},
		{"wrong password", "dora", "password-124", 1, ErrBadCredentials},
		{"unknown login: the dummy hash", "nobody", "password-123", 1, ErrBadCredentials},
		{"short password", "dora", "abc", 1, ErrBadCredentials},
		{"empty password", "dora", "", 1, ErrBadCredentials},
		{"login no one can have", "dora smith", "password-123", 0, ErrBadCredentials},
		{"empty login", "", "password-123", 0, ErrBadCredentials},
		{"long login", strings.Repeat("a", 65), "password-123", 0, ErrBadCredentials},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := calls.Load()
			// Each case from its own address, so that the throttle stays out of this test.
			s, err := e.svc.Login(ctx, tt.login, tt.password, "10.1.0."+tt.name)
			assert.Equal(t, tt.wantHashes, calls.Load()-before, "hash computations")
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				assert.Empty(t, s.Token)
				return
			}
			require.NoError(t, err)
			assert.NotEmpty(t, s.Token)
		})
	}
}

func TestServiceThrottledLoginComputesNoHash(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dbtest.Migrated(t, dbtest.Open(t, "sqlite")), testConfig()) // 3 failures per minute
	ctx := context.Background()
	_, err := e.svc.Register(ctx, "eve", "password-123")
	require.NoError(t, err)
	_, calls := watchOverlap(e.hasher, func(int32) {})
	for range 3 {
		_, err := e.svc.Login(ctx, "EVE", "guess-guess", "10.0.0.66")
		require.ErrorIs(t, err, ErrBadCredentials)
	}
	require.Equal(t, int32(3), calls.Load())
	_, err = e.svc.Login(ctx, "eve", "password-123", "10.0.0.66")
	var te *ThrottledError
	require.ErrorAs(t, err, &te, "the pair is locked even for the right password")
	require.ErrorIs(t, err, ErrTooManyAttempts)
	assert.Positive(t, te.RetryAfter)
	assert.Equal(t, int32(3), calls.Load(), "a throttled attempt computes no hash")
	_, err = e.svc.Login(ctx, "eve", "password-123", "10.0.0.7")
	require.NoError(t, err, "the owner at another address is not locked out")
}

func TestServiceRegisterValidation(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dbtest.Migrated(t, dbtest.Open(t, "sqlite")), testConfig())
	tests := []struct {
		name, login, password string
		wantErr               error
	}{
		{"ok", "frank", "12345678", nil},
		{"longest login", strings.Repeat("x", 64), "12345678", nil},
		{"every printable ASCII", "!\"#$%&'()*+,-./0123456789:;<=>?@AZ[\\]^_`az{|}~", "12345678", nil},
		{"longest password", "grace", strings.Repeat("п", 256), nil},
		{"empty login", "", "12345678", ErrLoginEmpty},
		{"65-char login", strings.Repeat("x", 65), "12345678", ErrLoginTooLong},
		{"space", "john smith", "12345678", ErrLoginChars},
		{"cyrillic a", "\u0430lice", "12345678", ErrLoginChars},
		{"tab", "a\tb", "12345678", ErrLoginChars},
		{"DEL", "ab\x7f", "12345678", ErrLoginChars},
		{"NUL", "ab\x00", "12345678", ErrLoginChars},
		{"7 characters", "heidi", "1234567", ErrPasswordTooShort},
		{"8 bytes but 4 characters", "ivan", "пппп", ErrPasswordTooShort},
		{"257 characters", "judy", strings.Repeat("x", 257), ErrPasswordTooLong},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := e.svc.Register(context.Background(), tt.login, tt.password)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
				return
			}
			require.NoError(t, err)
			_, err = e.svc.Login(context.Background(), tt.login, tt.password, "10.0.0.1")
			require.NoError(t, err)
			assert.NotEmpty(t, s.UserID)
		})
	}
}
