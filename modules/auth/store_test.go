package auth

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
)

func newUser(t *testing.T, login string) User {
	t.Helper()
	id, err := uuid.NewV7()
	require.NoError(t, err)
	return User{ID: id.String(), Login: login, PasswordHash: "$argon2id$v=19$m=64,t=1,p=1$c2FsdA$a2V5", CreatedAt: time.Now()}
}

func TestStore(t *testing.T) {
	t.Parallel()
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			s := NewStore(open(t))
			ctx := context.Background()

			t.Run("create and find ignoring case", func(t *testing.T) {
				u := newUser(t, "Alice.Smith")
				require.NoError(t, s.CreateUser(ctx, u))
				for _, login := range []string{"Alice.Smith", "alice.smith", "ALICE.SMITH"} {
					got, err := s.UserByLogin(ctx, login)
					require.NoError(t, err)
					assert.Equal(t, u.ID, got.ID)
					assert.Equal(t, "Alice.Smith", got.Login, "the login is kept as registered")
					assert.Equal(t, u.PasswordHash, got.PasswordHash)
					assert.Equal(t, u.CreatedAt.UTC().Truncate(time.Microsecond), got.CreatedAt)
					assert.Equal(t, time.UTC, got.CreatedAt.Location())
				}
			})
			t.Run("unknown login", func(t *testing.T) {
				_, err := s.UserByLogin(ctx, "nobody")
				require.ErrorIs(t, err, errUserNotFound)
			})
			t.Run("duplicate login ignoring case", func(t *testing.T) {
				require.NoError(t, s.CreateUser(ctx, newUser(t, "bob")))
				require.ErrorIs(t, s.CreateUser(ctx, newUser(t, "bob")), ErrLoginTaken)
				require.ErrorIs(t, s.CreateUser(ctx, newUser(t, "BoB")), ErrLoginTaken)
			})
			t.Run("concurrent duplicates", func(t *testing.T) {
				var wg sync.WaitGroup
				errs := make([]error, 10)
				for i := range errs {
					u := newUser(t, "carol")
					wg.Add(1)
					go func() {
						defer wg.Done()
						errs[i] = s.CreateUser(ctx, u)
					}()
				}
				wg.Wait()
				ok := 0
				for _, err := range errs {
					if err == nil {
						ok++
						continue
					}
					require.ErrorIs(t, err, ErrLoginTaken)
				}
				assert.Equal(t, 1, ok)
			})
			t.Run("settings", func(t *testing.T) {
				_, ok, err := s.Setting(ctx, "answer")
				require.NoError(t, err)
				assert.False(t, ok)
				v, err := s.InitSetting(ctx, "answer", "42")
				require.NoError(t, err)
				assert.Equal(t, "42", v)
				v, err = s.InitSetting(ctx, "answer", "43")
				require.NoError(t, err)
				assert.Equal(t, "42", v, "the first value stays")
				v, ok, err = s.Setting(ctx, "answer")
				require.NoError(t, err)
				assert.True(t, ok)
				assert.Equal(t, "42", v)
			})
		})
	}
}
