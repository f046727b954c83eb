package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/gophermart/gophermart/modules/platform/web"
)

// defaultKnownUsers caps how many user ids an Authenticator remembers as existing: about 100 bytes
// each, so a few MiB at most.
const defaultKnownUsers = 65_536

// errUnknownUser: the token verifies, but the user it names does not exist (it was signed for
// another database, or before this one was reset).
var errUnknownUser = errors.New("token names a user who does not exist")

// Authenticator is the service's web.Authenticator: a token authenticates its user only if it
// verifies (Tokens.Verify) and that user exists. The service never deletes users, so a user found
// once stays known: the check costs one read by primary key per user and instance, then a map
// lookup. The set of known users is bounded; when it is full an arbitrary one is forgotten, and read
// again on its next request. Safe for concurrent use.
type Authenticator struct {
	tokens *Tokens
	users  Store
	limit  int

	mu    sync.RWMutex
	known map[string]struct{}
}

// NewAuthenticator returns the Authenticator over tokens and the users in store.
func NewAuthenticator(tokens *Tokens, store Store) *Authenticator {
	return &Authenticator{tokens: tokens, users: store, limit: defaultKnownUsers, known: map[string]struct{}{}}
}

// Authenticate implements web.Authenticator. A store failure wraps web.ErrAuthUnavailable.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (string, error) {
	userID, err := a.tokens.Verify(token)
	if err != nil {
		return "", err
	}
	a.mu.RLock()
	_, ok := a.known[userID]
	a.mu.RUnlock()
	if ok {
		return userID, nil
	}
	exists, err := a.users.UserExists(ctx, userID)
	if err != nil {
		return "", fmt.Errorf("%w: %w", web.ErrAuthUnavailable, err)
	}
	if !exists {
		return "", errUnknownUser
	}
	a.remember(userID)
	return userID, nil
}

// remember adds userID to the known users, forgetting an arbitrary one first if the set is full.
func (a *Authenticator) remember(userID string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(a.known) >= a.limit {
		for id := range a.known {
			delete(a.known, id)
			break
		}
	}
	a.known[userID] = struct{}{}
}
