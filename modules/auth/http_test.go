package auth

import (
	"context"
	"encoding/json"
	"net"
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/web"
)

// problem decodes an application/problem+json reply.
func problem(t *testing.T, r reply) web.Problem {
	t.Helper()
	assert.Equal(t, "application/problem+json", r.header.Get("Content-Type"))
	var p web.Problem
	require.NoError(t, json.Unmarshal([]byte(r.body), &p), "body: %s", r.body)
	assert.Equal(t, r.status, p.Status)
	return p
}

// loggedIn checks a 200 of register or login: the token in the header and the cookie, for uid if set.
func loggedIn(t *testing.T, e *env, r reply) string {
	t.Helper()
	require.Equal(t, http.StatusOK, r.status, "body: %s", r.body)
	token, ok := strings.CutPrefix(r.header.Get("Authorization"), "Bearer ")
	require.True(t, ok, "Authorization header: %q", r.header.Get("Authorization"))
	uid, err := e.tokens.Verify(token)
	require.NoError(t, err)
	require.NotNil(t, r.cookie, "auth cookie")
	assert.Equal(t, token, r.cookie.Value)
	assert.True(t, r.cookie.HttpOnly)
	assert.Equal(t, "/", r.cookie.Path)
	assert.Equal(t, http.SameSiteStrictMode, r.cookie.SameSite)
	assert.False(t, r.cookie.Secure)
	assert.Equal(t, 3600, r.cookie.MaxAge)
	assert.Equal(t, "no-store", r.header.Get("Cache-Control"))
	assert.Empty(t, r.body)
	return uid
}

func TestHTTPRegister(t *testing.T) {
	t.Parallel()
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, open(t), testConfig())
			require.Equal(t, http.StatusOK, post(t, e.app, "/api/user/register", creds("Taken", "password-123")).status)
			tests := []struct {
				name        string
				body        string
				contentType string
				wantStatus  int
				wantDetail  string // substring of the problem detail
			}{
				{name: "ok", body: creds("alice", "password-123"), wantStatus: http.StatusOK},
				{name: "form content type", body: creds("bob", "password-123"), contentType: "application/x-www-form-urlencoded", wantStatus: http.StatusOK},
				{name: "no content type", body: creds("carol", "password-123"), contentType: "-", wantStatus: http.StatusOK},
				{name: "64-char login", body: creds(strings.Repeat("d", 64), "password-123"), wantStatus: http.StatusOK},
				{name: "malformed JSON", body: `{"login":"x",`, wantStatus: http.StatusBadRequest, wantDetail: "malformed JSON"},
				{name: "empty body", body: ``, wantStatus: http.StatusBadRequest, wantDetail: "empty body"},
				{name: "array", body: `[]`, wantStatus: http.StatusBadRequest, wantDetail: "JSON object"},
				{name: "trailing data", body: creds("erin", "password-123") + `{}`, wantStatus: http.StatusBadRequest, wantDetail: "trailing data"},
				{name: "missing login", body: `{"password":"password-123"}`, wantStatus: http.StatusBadRequest, wantDetail: `"login" is required`},
				{name: "missing password", body: `{"login":"frank"}`, wantStatus: http.StatusBadRequest, wantDetail: `"password" is required`},
				{name: "null login", body: `{"login":null,"password":"password-123"}`, wantStatus: http.StatusBadRequest, wantDetail: `"login" is required`},
				{name: "unknown field", body: `{"login":"gina","password":"password-123","admin":true}`, wantStatus: http.StatusBadRequest, wantDetail: `unknown field "admin"`},
				{name: "login a number", body: `{"login":5,"password":"password-123"}`, wantStatus: http.StatusBadRequest, wantDetail: `"login" must be a JSON string`},
				{name: "password a number", body: `{"login":"hank","password":12345678}`, wantStatus: http.StatusBadRequest, wantDetail: `"password" must be a JSON string`},
				{name: "empty login", body: creds("", "password-123"), wantStatus: http.StatusBadRequest, wantDetail: ErrLoginEmpty.Error()},
				{name: "65-char login", body: creds(strings.Repeat("i", 65), "password-123"), wantStatus: http.StatusBadRequest, wantDetail: ErrLoginTooLong.Error()},
				{name: "unicode login", body: creds("jürgen", "password-123"), wantStatus: http.StatusBadRequest, wantDetail: "printable ASCII"},
				{name: "homoglyph login", body: creds("аlice", "password-123"), wantStatus: http.StatusBadRequest, wantDetail: "printable ASCII"},
				{name: "control character", body: creds("kim\u0007", "password-123"), wantStatus: http.StatusBadRequest, wantDetail: "printable ASCII"},
				{name: "space in login", body: creds("le on", "password-123"), wantStatus: http.StatusBadRequest, wantDetail: "printable ASCII"},
				{name: "short password", body: creds("mona", "1234567"), wantStatus: http.StatusBadRequest, wantDetail: ErrPasswordTooShort.Error()},
				{name: "empty password", body: creds("nina", ""), wantStatus: http.StatusBadRequest, wantDetail: ErrPasswordTooShort.Error()},
				{name: "long password", body: creds("olga", strings.Repeat("p", 257)), wantStatus: http.StatusBadRequest, wantDetail: ErrPasswordTooLong.Error()},
				{name: "taken", body: creds("Taken", "password-456"), wantStatus: http.StatusConflict, wantDetail: ErrLoginTaken.Error()},
				{name: "taken in another case", body: creds("tAKEN", "password-456"), wantStatus: http.StatusConflict, wantDetail: ErrLoginTaken.Error()},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					header := map[string]string{"Content-Type": "application/json"}
					switch tt.contentType {
					case "":
					case "-":
						header = nil
					default:
						header["Content-Type"] = tt.contentType
					}
					r := send(t, e.app, http.MethodPost, "/api/user/register", tt.body, header)
					if tt.wantStatus == http.StatusOK {
						loggedIn(t, e, r)
						return
					}
					require.Equal(t, tt.wantStatus, r.status, "body: %s", r.body)
					assert.Contains(t, problem(t, r).Detail, tt.wantDetail)
					assert.Empty(t, r.header.Get("Authorization"))
					assert.Nil(t, r.cookie)
				})
			}
		})
	}
}

func TestHTTPLogin(t *testing.T) {
	t.Parallel()
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig()
			cfg.LoginMaxFailures = 100 // the throttle has its own test
			e := newEnv(t, open(t), cfg)
			uid := loggedIn(t, e, post(t, e.app, "/api/user/register", creds("Paul", "password-123")))
			tests := []struct {
				name       string
				body       string
				wantStatus int
				wantDetail string
			}{
				{name: "ok", body: creds("Paul", "password-123"), wantStatus: http.StatusOK},
				{name: "ok in another case", body: creds("pAUL", "password-123"), wantStatus: http.StatusOK},
				{name: "wrong password", body: creds("Paul", "password-124"), wantStatus: http.StatusUnauthorized, wantDetail: ErrBadCredentials.Error()},
				{name: "password in another case", body: creds("Paul", "PASSWORD-123"), wantStatus: http.StatusUnauthorized, wantDetail: ErrBadCredentials.Error()},
				{name: "unknown user", body: creds("quentin", "password-123"), wantStatus: http.StatusUnauthorized, wantDetail: ErrBadCredentials.Error()},
				{name: "short password", body: creds("Paul", "abc"), wantStatus: http.StatusUnauthorized, wantDetail: ErrBadCredentials.Error()},
				{name: "empty password", body: creds("Paul", ""), wantStatus: http.StatusUnauthorized, wantDetail: ErrBadCredentials.Error()},
				{name: "long password", body: creds("Paul", strings.Repeat("p", 300)), wantStatus: http.StatusUnauthorized, wantDetail: ErrBadCredentials.Error()},
				{name: "empty login", body: creds("", "password-123"), wantStatus: http.StatusUnauthorized, wantDetail: ErrBadCredentials.Error()},
				{name: "unicode login", body: creds("Pаul", "password-123"), wantStatus: http.StatusUnauthorized, wantDetail: ErrBadCredentials.Error()},
				{name: "malformed JSON", body: `{"login":`, wantStatus: http.StatusBadRequest, wantDetail: "malformed JSON"},
				{name: "missing password", body: `{"login":"Paul"}`, wantStatus: http.StatusBadRequest, wantDetail: `"password" is required`},
				{name: "unknown field", body: `{"login":"Paul","password":"password-123","x":1}`, wantStatus: http.StatusBadRequest, wantDetail: `unknown field "x"`},
				{name: "wrong type", body: `{"login":"Paul","password":true}`, wantStatus: http.StatusBadRequest, wantDetail: `"password" must be a JSON`},
			}
			for _, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					r := send(t, e.app, http.MethodPost, "/api/user/login", tt.body, map[string]string{"Content-Type": "text/plain"})
					if tt.wantStatus == http.StatusOK {
						assert.Equal(t, uid, loggedIn(t, e, r))
						return
					}
					require.Equal(t, tt.wantStatus, r.status, "body: %s", r.body)
					assert.Contains(t, problem(t, r).Detail, tt.wantDetail)
					assert.Empty(t, r.header.Get("Authorization"))
					assert.Nil(t, r.cookie)
				})
			}
		})
	}
}

func TestHTTPLoginThrottle(t *testing.T) {
	t.Parallel()
	for name, open := range dbtest.Engines(t) {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, open(t), testConfig()) // 3 failures per minute
			loggedIn(t, e, post(t, e.app, "/api/user/register", creds("rita", "password-123")))
			_, calls := watchOverlap(e.hasher, func(int32) {})

			for i := range 3 {
				r := post(t, e.app, "/api/user/login", creds("RITA", "wrong-"+strconv.Itoa(i)))
				require.Equal(t, http.StatusUnauthorized, r.status)
			}
			hashes := calls.Load()
			for _, password := range []string{"wrong-again", "password-123"} {
				r := post(t, e.app, "/api/user/login", creds("rita", password))
				require.Equal(t, http.StatusTooManyRequests, r.status, "body: %s", r.body)
				secs, err := strconv.Atoi(r.header.Get("Retry-After"))
				require.NoError(t, err, "Retry-After: %q", r.header.Get("Retry-After"))
				assert.True(t, secs >= 1 && secs <= 60, "Retry-After %d within the window", secs)
				assert.Contains(t, problem(t, r).Detail, "too many failed logins")
				assert.Nil(t, r.cookie)
			}
			assert.Equal(t, hashes, calls.Load(), "429 answers compute no hash")

			// Another login from the same address is not affected.
			loggedIn(t, e, post(t, e.app, "/api/user/register", creds("sam", "password-123")))
			for range 2 {
				require.Equal(t, http.StatusUnauthorized, post(t, e.app, "/api/user/login", creds("sam", "nope-nope")).status)
			}
			loggedIn(t, e, post(t, e.app, "/api/user/login", creds("sam", "password-123")))
			// The success cleared sam's failures: 3 more failures are 401s, then 429.
			for range 3 {
				require.Equal(t, http.StatusUnauthorized, post(t, e.app, "/api/user/login", creds("sam", "nope-nope")).status)
			}
			require.Equal(t, http.StatusTooManyRequests, post(t, e.app, "/api/user/login", creds("sam", "password-123")).status)
		})
	}
}

// TestHTTPLoginThrottleOtherAddress serves over real TCP, where the client address is real: failures
// from 127.0.0.1 lock that pair out, while the owner at 127.0.0.2 still logs in.
func TestHTTPLoginThrottleOtherAddress(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dbtest.Migrated(t, dbtest.Open(t, "sqlite")), testConfig())
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = e.app.Listener(ln) }()
	t.Cleanup(func() { _ = e.app.ShutdownWithTimeout(5 * time.Second) })
	url := "http://" + ln.Addr().String()

	clientFrom := func(ip string) *http.Client {
		d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(ip)}, Timeout: 5 * time.Second}
		return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}, Timeout: 10 * time.Second}
	}
	attacker, owner := clientFrom("127.0.0.1"), clientFrom("127.0.0.2")
	postFrom := func(c *http.Client, path, body string) reply {
		t.Helper()
		req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, url+path, strings.NewReader(body))
		require.NoError(t, err)
		resp, err := c.Do(req)
		require.NoError(t, err)
		return readReply(t, resp)
	}

	loggedIn(t, e, postFrom(owner, "/api/user/register", creds("tina", "password-123")))
	for range 3 {
		require.Equal(t, http.StatusUnauthorized, postFrom(attacker, "/api/user/login", creds("tina", "guess-guess")).status)
	}
	r := postFrom(attacker, "/api/user/login", creds("tina", "password-123"))
	require.Equal(t, http.StatusTooManyRequests, r.status)
	assert.NotEmpty(t, r.header.Get("Retry-After"))
	loggedIn(t, e, postFrom(owner, "/api/user/login", creds("tina", "password-123")))
}

func TestHTTPBusy(t *testing.T) {
	t.Parallel()
	cfg := testConfig()
	cfg.HashConcurrency = 1
	e := newEnv(t, dbtest.Migrated(t, dbtest.Open(t, "sqlite")), cfg)
	loggedIn(t, e, post(t, e.app, "/api/user/register", creds("uma", "password-123")))
	release, err := e.hasher.acquire(context.Background()) // every hashing slot is taken
	require.NoError(t, err)
	e.hasher.wait = 20 * time.Millisecond
	for _, path := range []string{"/api/user/register", "/api/user/login"} {
		r := post(t, e.app, path, creds("victor", "password-123"))
		require.Equal(t, http.StatusServiceUnavailable, r.status, "%s: %s", path, r.body)
		assert.Equal(t, "1", r.header.Get("Retry-After"))
		assert.Equal(t, ErrBusy.Error(), problem(t, r).Detail)
	}
	// Other endpoints are not starved while the hashing slots are busy.
	assert.Equal(t, http.StatusOK, send(t, e.app, http.MethodGet, "/healthz", "", nil).status)
	release()
	e.hasher.wait = time.Minute
	loggedIn(t, e, post(t, e.app, "/api/user/login", creds("uma", "password-123")))
	// A 503 is not a failed login: the throttle did not count them.
	loggedIn(t, e, post(t, e.app, "/api/user/register", creds("victor", "password-123")))
}

func TestHTTPGuardAcceptsHeaderAndCookie(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dbtest.Migrated(t, dbtest.Open(t, "sqlite")), testConfig())
	r := post(t, e.app, "/api/user/register", creds("wanda", "password-123"))
	uid := loggedIn(t, e, r)
	token := r.cookie.Value
	forged := token[:len(token)-2] + "xx"

	tests := []struct {
		name       string
		header     map[string]string
		wantStatus int
	}{
		{"bearer header", map[string]string{"Authorization": "Bearer " + token}, http.StatusOK},
		{"cookie", map[string]string{"Cookie": web.CookieName + "=" + token}, http.StatusOK},
		{"nothing", nil, http.StatusUnauthorized},
		{"forged header", map[string]string{"Authorization": "Bearer " + forged}, http.StatusUnauthorized},
		{"forged cookie", map[string]string{"Cookie": web.CookieName + "=" + forged}, http.StatusUnauthorized},
		{"garbage", map[string]string{"Authorization": "Bearer garbage"}, http.StatusUnauthorized},
		{"webtest stand-in token", map[string]string{"Authorization": "Bearer user:" + uid}, http.StatusUnauthorized},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := send(t, e.app, http.MethodGet, "/api/user/whoami", "", tt.header)
			require.Equal(t, tt.wantStatus, r.status, "body: %s", r.body)
			if tt.wantStatus == http.StatusOK {
				assert.Equal(t, uid, r.body)
			}
		})
	}
}
