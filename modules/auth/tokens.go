package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/uuid"
)

// Issuer is the iss claim of every token; tokens from anyone else are refused.
const Issuer = "gophermart"

const (
	// SecretSetting names the gm_settings row holding the generated signing secret.
	SecretSetting = "jwt_secret"
	// MinSecretLen is the shortest signing secret accepted, in bytes (HS256 wants 256 bits).
	MinSecretLen    = 32
	tokenLeeway     = 30 * time.Second // clock skew tolerated between instances
	defaultTokenTTL = 24 * time.Hour
	secretInitLimit = 10 * time.Second
)

// errBadSubject: the token is valid but its subject is not a user id.
var errBadSubject = errors.New("token subject is not a user id")

// SecretStore keeps service-wide settings such as the generated signing secret.
type SecretStore interface {
	// Setting returns the value of name; ok is false when it is not set.
	Setting(ctx context.Context, name string) (value string, ok bool, err error)
	// InitSetting stores value under name unless it is already set, and returns the stored value.
	InitSetting(ctx context.Context, name, value string) (string, error)
}

// Tokens issues and verifies the service's JWTs: HS256 only, sub = user id, iss = Issuer, with iat
// and exp. Tokens are stateless: verifying one never touches the database (Authenticator adds the
// check that the user exists). With a configured secret they work at once; otherwise Start loads the
// secret kept in the database first. The secret never changes once known, so a token that verified
// once keeps verifying until its time is up: Verify remembers verified tokens (see tokenCache) and
// checks only their times again. Safe for concurrent use.
type Tokens struct {
	secret atomic.Pointer[[]byte] // nil until known, then fixed
	store  SecretStore
	log    *slog.Logger
	ttl    time.Duration
	parser *jwt.Parser
	now    func() time.Time
	cache  *tokenCache // nil: every token is parsed
}

// errNoSecret: a token was to be issued or verified before Start loaded the signing secret.
var errNoSecret = errors.New("JWT signing secret not loaded yet")

// NewTokens returns Tokens signing with cfg.JWTSecret or, when that is empty, with the secret kept
// in the database, which Start loads (store may be nil when cfg.JWTSecret is set). It does no I/O.
func NewTokens(cfg Config, store SecretStore, log *slog.Logger) (*Tokens, error) {
	if cfg.JWTSecret == "" && store == nil {
		return nil, errors.New("no JWT secret configured and no store to keep a generated one")
	}
	if cfg.JWTSecret != "" && len(cfg.JWTSecret) < MinSecretLen {
		return nil, fmt.Errorf("JWT secret must be at least %d bytes, got %d", MinSecretLen, len(cfg.JWTSecret))
	}
	ttl := cfg.TokenTTL
	if ttl <= 0 {
		ttl = defaultTokenTTL
	}
	t := &Tokens{store: store, log: log, ttl: ttl, now: time.Now, cache: newTokenCache(defaultVerifiedTokens)}
	if cfg.JWTSecret != "" {
		b := []byte(cfg.JWTSecret)
		t.secret.Store(&b)
	}
	t.parser = jwt.NewParser(
		jwt.WithValidMethods([]string{jwt.SigningMethodHS256.Alg()}),
		jwt.WithExpirationRequired(),
		jwt.WithIssuedAt(),
		jwt.WithIssuer(Issuer),
		jwt.WithLeeway(tokenLeeway),
		jwt.WithTimeFunc(func() time.Time { return t.now() }),
	)
	return t, nil
}

// Start loads the signing secret unless one is configured: read from gm_settings, or generated and
// inserted there if absent, within ctx and secretInitLimit. Sibling instances starting at once all
// end up with the one secret that was inserted first. Starting again does nothing.
func (t *Tokens) Start(ctx context.Context) error {
	if t.secret.Load() != nil {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, secretInitLimit)
	defer cancel()
	s, err := loadSecret(ctx, t.store)
	if err != nil {
		return err
	}
	if len(s) < MinSecretLen {
		return fmt.Errorf("stored JWT secret (gm_settings, name %s) is shorter than %d bytes", SecretSetting, MinSecretLen)
	}
	b := []byte(s)
	t.secret.Store(&b)
	t.log.WarnContext(ctx, "no JWT secret configured: signing tokens with a generated secret kept in the "+
		"database (table gm_settings, name "+SecretSetting+"); anyone who can read the database can forge "+
		"tokens, so configure one (GOPHERMART_JWT_SECRET) in production")
	return nil
}

// key returns the signing secret, or errNoSecret before Start has loaded it.
func (t *Tokens) key() ([]byte, error) {
	p := t.secret.Load()
	if p == nil {
		return nil, errNoSecret
	}
	return *p, nil
}

// loadSecret reads the stored secret, generating and storing one first if there is none.
func loadSecret(ctx context.Context, store SecretStore) (string, error) {
	if s, ok, err := store.Setting(ctx, SecretSetting); err != nil {
		return "", fmt.Errorf("read JWT secret: %w", err)
	} else if ok {
		return s, nil
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("generate JWT secret: %w", err)
	}
	s, err := store.InitSetting(ctx, SecretSetting, hex.EncodeToString(b))
	if err != nil {
		return "", fmt.Errorf("store JWT secret: %w", err)
	}
	return s, nil
}

// TTL is how long an issued token stays valid.
func (t *Tokens) TTL() time.Duration { return t.ttl }

// Issue signs a token for userID and returns it with its expiry.
func (t *Tokens) Issue(userID string) (string, time.Time, error) {
	now := t.now().UTC()
	exp := now.Add(t.ttl)
	claims := jwt.RegisteredClaims{
		Issuer:    Issuer,
		Subject:   userID,
		IssuedAt:  jwt.NewNumericDate(now),
		ExpiresAt: jwt.NewNumericDate(exp),
	}
	key, err := t.key()
	if err != nil {
		return "", time.Time{}, err
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString(key)
	if err != nil {
		return "", time.Time{}, fmt.Errorf("sign token: %w", err)
	}
	return s, exp, nil
}

// Verify checks token and returns the user id it was issued to. Malformed, expired, forged tokens,
// tokens signed with any algorithm but HS256 (none, HS384, RS256…), and tokens whose claims are not
// exactly of their registered types (see claims) are errors.
//
// A token that verified before and is still within its times is answered from the cache, without
// parsing it or computing its signature; any other token, one out of its times included (so that
// its error is the parser's), is parsed. Only tokens that verify are remembered.
func (t *Tokens) Verify(token string) (string, error) {
	var k tokenKey
	if t.cache != nil {
		k = keyOf(token)
		if v, ok := t.cache.get(k); ok && v.validAt(t.now()) {
			return v.userID, nil
		}
	}
	var c claims
	if _, err := t.parser.ParseWithClaims(token, &c, func(*jwt.Token) (any, error) {
		return t.key()
	}); err != nil {
		return "", fmt.Errorf("verify token: %w", err)
	}
	if _, err := uuid.Parse(c.Subject); err != nil {
		return "", errBadSubject
	}
	if t.cache != nil {
		t.cache.put(k, c.window())
	}
	return c.Subject, nil
}

// window is the entry remembering claims that verified: their subject, and the times within which
// the parser accepts them (see verified.validAt). exp is present: the parser requires it.
func (c *claims) window() verified {
	v := verified{userID: c.Subject, until: c.ExpiresAt.Add(tokenLeeway)}
	for _, d := range []*jwt.NumericDate{c.IssuedAt, c.NotBefore} {
		if d != nil && (v.from.IsZero() || d.Add(-tokenLeeway).After(v.from)) {
			v.from = d.Add(-tokenLeeway)
		}
	}
	return v
}

// maxNumericDate is the latest exp, iat or nbf accepted: 9999-12-31T23:59:59Z, in Unix seconds.
const maxNumericDate = 253402300799

// claims are a token's registered claims, decoded strictly. jwt's own decoding takes a JSON string
// holding a number ("exp":"4102444800") for a date and lets the last of two equal claims win; here
// either, a claim of any other type, a claim that is not registered, or a date outside 1970..9999
// makes the token malformed.
type claims struct {
	jwt.RegisteredClaims
}

// errBadClaims: the claims are not an object of registered claims, each once and of its type.
var errBadClaims = errors.New("token claims must be registered claims, each once, of its type")

// wireClaims is the JSON form of claims. Each field type refuses a value of another type and a
// second occurrence of its claim (encoding/json decodes a repeated key into the same field again,
// also when the two differ only in case). Every token verification decodes one, so it allocates
// little.
type wireClaims struct {
	Issuer    claimString   `json:"iss"`
	Subject   claimString   `json:"sub"`
	ID        claimString   `json:"jti"`
	Audience  claimAudience `json:"aud"`
	ExpiresAt claimDate     `json:"exp"`
	NotBefore claimDate     `json:"nbf"`
	IssuedAt  claimDate     `json:"iat"`
}

// UnmarshalJSON decodes the claims strictly (see claims).
func (c *claims) UnmarshalJSON(b []byte) error {
	var w wireClaims
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&w); err != nil {
		return fmt.Errorf("%w: %w", errBadClaims, err)
	}
	c.RegisteredClaims = jwt.RegisteredClaims{
		Issuer: w.Issuer.v, Subject: w.Subject.v, ID: w.ID.v, Audience: w.Audience.v,
		ExpiresAt: w.ExpiresAt.v, NotBefore: w.NotBefore.v, IssuedAt: w.IssuedAt.v,
	}
	return nil
}

// claimString is a string claim.
type claimString struct {
	v   string
	set bool
}

func (s *claimString) UnmarshalJSON(b []byte) error {
	if s.set || len(b) < 2 || b[0] != '"' {
		return errBadClaims
	}
	s.set = true
	if bytes.IndexByte(b, '\\') < 0 { // no escapes: the text between the quotes is the string
		s.v = string(b[1 : len(b)-1])
		return nil
	}
	return json.Unmarshal(b, &s.v)
}

// claimAudience is aud: a string or an array of strings.
type claimAudience struct {
	v   jwt.ClaimStrings
	set bool
}

func (a *claimAudience) UnmarshalJSON(b []byte) error {
	if a.set || len(b) == 0 || (b[0] != '"' && b[0] != '[') {
		return errBadClaims
	}
	a.set = true
	if b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return errBadClaims
		}
		a.v = jwt.ClaimStrings{s}
		return nil
	}
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return errBadClaims
	}
	a.v = make(jwt.ClaimStrings, 0, len(raw))
	for _, r := range raw {
		var s claimString // every element a string: null or a number is refused
		if err := s.UnmarshalJSON(r); err != nil {
			return err
		}
		a.v = append(a.v, s.v)
	}
	return nil
}

// claimDate is a date claim: a JSON number (never a string) of seconds since the Unix epoch, from 0
// to maxNumericDate.
type claimDate struct {
	v   *jwt.NumericDate
	set bool
}

func (d *claimDate) UnmarshalJSON(b []byte) error {
	if d.set || len(b) == 0 || (b[0] != '-' && (b[0] < '0' || b[0] > '9')) {
		return errBadClaims
	}
	d.set = true
	f, err := strconv.ParseFloat(string(b), 64)
	if err != nil || f < 0 || f > maxNumericDate {
		return errBadClaims
	}
	sec, frac := math.Modf(f)
	d.v = jwt.NewNumericDate(time.Unix(int64(sec), int64(frac*1e9)))
	return nil
}
