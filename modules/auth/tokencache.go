package auth

import (
	"crypto/sha256"
	"encoding/binary"
	"sync"
	"time"
)

// defaultVerifiedTokens caps how many verified tokens Tokens remembers. An entry takes about
// 200 bytes (key, user id, two times, its slot in the eviction ring and map overhead), so a full
// cache holds about 13 MiB; it only fills with that many distinct tokens in use within their TTL.
const defaultVerifiedTokens = 65_536

// tokenCacheShards splits the cache so that concurrent requests rarely wait on one lock. A power of
// two, so that a shard is picked by masking.
const tokenCacheShards = 64

// tokenKey is the SHA-256 of a whole token (header, payload and signature): equal keys mean equal
// tokens, so a token differing from a cached one in any byte, its signature included, misses.
type tokenKey [sha256.Size]byte

// verified is what a successful verification established: the user and the window, leeway applied,
// within which the parser accepts the token (from max(iat, nbf) - leeway, until exp + leeway).
type verified struct {
	userID string
	from   time.Time // zero when the token has neither iat nor nbf
	until  time.Time
}

// validAt reports whether the parser would accept the token at now: it refuses one with
// now >= exp+leeway (expired), now < iat-leeway (used before issued) or now < nbf-leeway (not valid
// yet), and every other check it makes does not depend on the time.
func (v *verified) validAt(now time.Time) bool {
	return now.Before(v.until) && !now.Before(v.from)
}

// tokenCache remembers verified tokens, keyed by their SHA-256, bounded. Each shard evicts the
// entry it inserted first when it is full (a ring of its keys in insertion order), in O(1). Entries
// are never removed otherwise: one that is out of its window is refused on every hit until evicted.
// Safe for concurrent use.
type tokenCache struct {
	shards [tokenCacheShards]tokenShard
}

type tokenShard struct {
	mu      sync.RWMutex
	entries map[tokenKey]verified
	ring    []tokenKey // the keys of entries in insertion order, oldest at next once the ring is full
	next    int
	limit   int // entries at most; the ring grows up to it as entries come
}

// newTokenCache returns a cache of about limit entries (at least one per shard). It allocates its
// memory as entries come, not up front.
func newTokenCache(limit int) *tokenCache {
	per := max(1, limit/tokenCacheShards)
	c := &tokenCache{}
	for i := range c.shards {
		c.shards[i].entries = make(map[tokenKey]verified)
		c.shards[i].limit = per
	}
	return c
}

// keyOf hashes token, copying it into a buffer on the stack when it fits (the service's tokens are
// about 230 bytes) rather than onto the heap.
func keyOf(token string) tokenKey {
	var buf [512]byte
	if len(token) <= len(buf) {
		return sha256.Sum256(append(buf[:0], token...))
	}
	return sha256.Sum256([]byte(token))
}

func (c *tokenCache) shard(k tokenKey) *tokenShard {
	return &c.shards[binary.LittleEndian.Uint64(k[:8])&(tokenCacheShards-1)]
}

// get returns the entry of k, if any.
func (c *tokenCache) get(k tokenKey) (verified, bool) {
	s := c.shard(k)
	s.mu.RLock()
	v, ok := s.entries[k]
	s.mu.RUnlock()
	return v, ok
}

// put stores v under k, evicting the shard's oldest entry if the shard is full.
func (c *tokenCache) put(k tokenKey, v verified) {
	s := c.shard(k)
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.entries[k]; ok {
		s.entries[k] = v
		return
	}
	if len(s.ring) < s.limit {
		s.ring = append(s.ring, k)
	} else {
		delete(s.entries, s.ring[s.next])
		s.ring[s.next] = k
		s.next = (s.next + 1) % len(s.ring)
	}
	s.entries[k] = v
}

// len is the number of entries.
func (c *tokenCache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.entries)
		s.mu.RUnlock()
	}
	return n
}
