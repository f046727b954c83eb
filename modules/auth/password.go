package auth

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"math"
	"runtime"
	"strconv"
	"strings"
	"time"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id cost parameters. They are written into every hash (PHC string), so raising
// them later leaves existing hashes verifiable.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over the memory
	Threads uint8  // lanes
	SaltLen uint32 // bytes of random salt
	KeyLen  uint32 // bytes of derived key
}

// DefaultParams are the least memory among OWASP's equal-strength recommendations for argon2id:
// 7 MiB, 5 passes, 1 lane, 16-byte salt, 32-byte key (about the work of 19 MiB with 2 passes, or of
// 9 MiB with 4, in just over a third of the first's memory). Memory is what bounds the service's
// footprint: every hash in flight holds this much, and each leaves it behind as garbage.
// Production always uses them; tests pass cheaper ones to NewHasherWithParams. Hashes made with
// other parameters keep verifying, and a successful login rehashes them (Service.Login).
var DefaultParams = Params{Memory: 7 * 1024, Time: 5, Threads: 1, SaltLen: 16, KeyLen: 32}

// Sanity bounds on parameters, for ours and for those read back from a stored hash.
const (
	maxMemoryKiB = 1 << 20 // 1 GiB
	maxTime      = 64
	maxThreads   = 64
	minSaltLen   = 8
	maxSaltLen   = 64
	minKeyLen    = 16
	maxKeyLen    = 128
)

// defaultHashWait is how long a request waits for a free hashing slot before it is answered 503.
const defaultHashWait = 3 * time.Second

// errMalformedHash means a stored hash is not an argon2id PHC string we can verify.
var errMalformedHash = errors.New("malformed argon2id hash")

func (p Params) validate() error {
	switch {
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("argon2id time %d out of range 1..%d", p.Time, maxTime)
	case p.Threads < 1 || p.Threads > maxThreads:
		return fmt.Errorf("argon2id threads %d out of range 1..%d", p.Threads, maxThreads)
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemoryKiB:
		return fmt.Errorf("argon2id memory %d KiB out of range %d..%d", p.Memory, 8*uint32(p.Threads), maxMemoryKiB)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("argon2id salt length %d out of range %d..%d", p.SaltLen, minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("argon2id key length %d out of range %d..%d", p.KeyLen, minKeyLen, maxKeyLen)
	}
	return nil
}

// Hasher hashes and verifies passwords with argon2id. Every computation takes one of a fixed number
// of slots (Config.HashConcurrency, 0 = CPU count), so a flood of logins queues instead of allocating
// the hash's memory (7 MiB with DefaultParams) per request and starving the rest of the service.
// Safe for concurrent use.
type Hasher struct {
	params Params
	slots  chan struct{}
	wait   time.Duration // longest wait for a slot
	dummy  string        // hash of a random password, verified for unknown logins
	// derive computes the key; argon2.IDKey, wrapped by a test to watch for overlapping computations.
	derive func(password, salt []byte, p Params) []byte
}

// NewHasher returns a Hasher with DefaultParams.
func NewHasher(cfg Config) (*Hasher, error) {
	return NewHasherWithParams(cfg, DefaultParams)
}

// NewHasherWithParams returns a Hasher that hashes with p. It computes, once, the dummy hash that
// logins for unknown users are checked against, so that they cost as much as a wrong password.
func NewHasherWithParams(cfg Config, p Params) (*Hasher, error) {
	if err := p.validate(); err != nil {
		return nil, err
	}
	n := cfg.HashConcurrency
	if n <= 0 {
		n = runtime.NumCPU()
	}
	h := &Hasher{params: p, slots: make(chan struct{}, n), wait: defaultHashWait, derive: idKey}
	random := make([]byte, 32)
	if _, err := rand.Read(random); err != nil {
		return nil, fmt.Errorf("dummy password: %w", err)
	}
	dummy, err := h.encode(random)
	if err != nil {
		return nil, err
	}
	h.dummy = dummy
	return h, nil
}

func idKey(password, salt []byte, p Params) []byte {
	return argon2.IDKey(password, salt, p.Time, p.Memory, p.Threads, p.KeyLen)
}

// Hash returns the PHC string of password: $argon2id$v=19$m=7168,t=5,p=1$<salt>$<key>, base64
// without padding. It waits for a free slot (ErrBusy after a few seconds or when ctx ends).
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	release, err := h.acquire(ctx)
	if err != nil {
		return "", err
	}
	defer release()
	return h.encode([]byte(password))
}

// Verify tells whether password matches encoded, using the parameters written in encoded. The
// comparison is constant-time. It waits for a slot like Hash.
func (h *Hasher) Verify(ctx context.Context, password, encoded string) (bool, error) {
	v, err := h.verify(ctx, password, encoded, false)
	return v.ok, err
}

// verdict is the outcome of a verification that may rehash.
type verdict struct {
	ok        bool   // the password matches
	rehash    string // when ok and encoded had other parameters: the password hashed with h's
	rehashErr error  // when ok, the hash had other parameters, and hashing again failed
}

// verifyRehash is Verify that, when the password matches a hash made with parameters other than
// h's, also hashes it again with h's, in the same slot: a rehash never takes a slot of its own, so
// it neither exceeds the bound on concurrent hashes nor waits for a second slot. It costs the login
// one more hash, once per stored hash.
func (h *Hasher) verifyRehash(ctx context.Context, password, encoded string) (verdict, error) {
	return h.verify(ctx, password, encoded, true)
}

func (h *Hasher) verify(ctx context.Context, password, encoded string, rehash bool) (verdict, error) {
	p, salt, key, err := decodeHash(encoded)
	if err != nil {
		return verdict{}, err
	}
	release, err := h.acquire(ctx)
	if err != nil {
		return verdict{}, err
	}
	defer release()
	got := h.derive([]byte(password), salt, p)
	v := verdict{ok: subtle.ConstantTimeCompare(got, key) == 1}
	if v.ok && rehash && p != h.params {
		v.rehash, v.rehashErr = h.encode([]byte(password))
	}
	return v, nil
}

// VerifyDummy does the work of a failed Verify, for a login that matches no user.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) error {
	_, err := h.Verify(ctx, password, h.dummy)
	return err
}

func (h *Hasher) encode(password []byte) (string, error) {
	salt := make([]byte, h.params.SaltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("password salt: %w", err)
	}
	key := h.derive(password, salt, h.params)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version,
		h.params.Memory, h.params.Time, h.params.Threads, b64.EncodeToString(salt), b64.EncodeToString(key)), nil
}

// acquire takes a hashing slot, waiting at most h.wait, and returns the function that gives it back.
func (h *Hasher) acquire(ctx context.Context) (func(), error) {
	release := func() { <-h.slots }
	select {
	case h.slots <- struct{}{}:
		return release, nil
	default:
	}
	t := time.NewTimer(h.wait)
	defer t.Stop()
	select {
	case h.slots <- struct{}{}:
		return release, nil
	case <-t.C:
		return nil, ErrBusy
	case <-ctx.Done():
		return nil, fmt.Errorf("%w: %w", ErrBusy, ctx.Err())
	}
}

// decodeHash parses a PHC argon2id string into its parameters, salt and key.
func decodeHash(encoded string) (Params, []byte, []byte, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return Params{}, nil, nil, errMalformedHash
	}
	if parts[2] != "v="+strconv.Itoa(argon2.Version) {
		return Params{}, nil, nil, fmt.Errorf("%w: unsupported version %q", errMalformedHash, parts[2])
	}
	var p Params
	seen := 0
	for _, kv := range strings.Split(parts[3], ",") {
		k, v, _ := strings.Cut(kv, "=")
		n, err := strconv.ParseUint(v, 10, 32)
		if err != nil || n > math.MaxUint32 {
			return Params{}, nil, nil, fmt.Errorf("%w: parameter %q", errMalformedHash, kv)
		}
		switch k {
		case "m":
			p.Memory, seen = uint32(n), seen|1
		case "t":
			p.Time, seen = uint32(n), seen|2
		case "p":
			if n > math.MaxUint8 {
				return Params{}, nil, nil, fmt.Errorf("%w: parameter %q", errMalformedHash, kv)
			}
			p.Threads, seen = uint8(n), seen|4
		default:
			return Params{}, nil, nil, fmt.Errorf("%w: unknown parameter %q", errMalformedHash, k)
		}
	}
	if seen != 7 {
		return Params{}, nil, nil, fmt.Errorf("%w: want m, t and p", errMalformedHash)
	}
	b64 := base64.RawStdEncoding
	salt, err := b64.DecodeString(parts[4])
	if err != nil {
		return Params{}, nil, nil, fmt.Errorf("%w: salt: %w", errMalformedHash, err)
	}
	key, err := b64.DecodeString(parts[5])
	if err != nil {
		return Params{}, nil, nil, fmt.Errorf("%w: key: %w", errMalformedHash, err)
	}
	saltLen, keyLen := len(salt), len(key)
	if saltLen < minSaltLen || saltLen > maxSaltLen || keyLen < minKeyLen || keyLen > maxKeyLen {
		return Params{}, nil, nil, fmt.Errorf("%w: salt of %d bytes or key of %d bytes", errMalformedHash, saltLen, keyLen)
	}
	p.SaltLen, p.KeyLen = uint32(saltLen), uint32(keyLen)
	if err := p.validate(); err != nil {
		return Params{}, nil, nil, fmt.Errorf("%w: %w", errMalformedHash, err)
	}
	return p, salt, key, nil
}
