package auth

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/web"
)

// countingStore is the real store, counting the user look-ups that reach the database.
type countingStore struct {
	*SQLStore
	lookups atomic.Int64
}

func (s *countingStore) UserExists(ctx context.Context, id string) (bool, error) {
	s.lookups.Add(1)
	return s.SQLStore.UserExists(ctx, id)
}

// A token that verifies but names no user is refused; a user is looked up once, then known.
func TestAuthenticatorChecksTheUserExists(t *testing.T) {
	t.Parallel()
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			d := open(t)
			e := newEnv(t, d, testConfig())
			store := &countingStore{SQLStore: e.store}
			a := NewAuthenticator(e.tokens, store)
			ctx := context.Background()

			s, err := e.svc.Register(ctx, "alice", "password-123")
			require.NoError(t, err)
			for range 3 {
				uid, err := a.Authenticate(ctx, s.Token)
				require.NoError(t, err)
				assert.Equal(t, s.UserID, uid)
			}
			assert.Equal(t, int64(1), store.lookups.Load(), "a known user costs no database round trip")

			ghost, _, err := e.tokens.Issue(uuid.Must(uuid.NewV7()).String())
			require.NoError(t, err)
			for range 2 {
				_, err = a.Authenticate(ctx, ghost)
				require.ErrorIs(t, err, errUnknownUser)
				require.NotErrorIs(t, err, web.ErrAuthUnavailable)
			}
			assert.Equal(t, int64(3), store.lookups.Load(), "an unknown user is never remembered")

			// Over HTTP: the guard answers 401.
			r := send(t, e.app, http.MethodGet, "/api/user/whoami", "", map[string]string{"Authorization": "Bearer " + ghost})
			assert.Equal(t, http.StatusUnauthorized, r.status)
			problem(t, r)
			r = send(t, e.app, http.MethodGet, "/api/user/whoami", "", map[string]string{"Authorization": "Bearer " + s.Token})
			assert.Equal(t, http.StatusOK, r.status)
			assert.Equal(t, s.UserID, r.body)
		})
	}
}

// The set of known users stays within its limit.
func TestAuthenticatorIsBounded(t *testing.T) {
	t.Parallel()
	d := dbtest.Migrated(t, dbtest.Open(t, "sqlite"))
	e := newEnv(t, d, testConfig())
	a := NewAuthenticator(e.tokens, e.store)
	a.limit = 3
	ctx := context.Background()
	for range 10 {
		id := uuid.Must(uuid.NewV7()).String()
		dbtest.CreateUser(t, d, id)
		token, _, err := e.tokens.Issue(id)
		require.NoError(t, err)
		_, err = a.Authenticate(ctx, token)
		require.NoError(t, err)
		assert.LessOrEqual(t, len(a.known), 3)
	}
}

// When the user store fails, the answer is unknown: a server error, not a 401.
func TestAuthenticatorStoreFailure(t *testing.T) {
	t.Parallel()
	d := dbtest.Migrated(t, dbtest.Open(t, "sqlite"))
	e := newEnv(t, d, testConfig())
	token, _, err := e.tokens.Issue(uuid.Must(uuid.NewV7()).String())
	require.NoError(t, err)
	closed := dbtest.Migrated(t, dbtest.Open(t, "sqlite"))
	require.NoError(t, closed.Close())
	a := NewAuthenticator(e.tokens, NewStore(closed))
	_, err = a.Authenticate(context.Background(), token)
	require.ErrorIs(t, err, web.ErrAuthUnavailable)
}
