package auth

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/db/dbtest"
	"github.com/gophermart/gophermart/modules/platform/web"
)

// FuzzCredentials sends arbitrary bodies to register and login through the real routes and server
// (SQLite, cheap hashing): every answer is one the contract allows (never a 5xx), and a body the
// strict decoder refuses never logs anyone in or registers anyone.
func FuzzCredentials(f *testing.F) {
	for _, s := range []string{
		`{"login":"alice","password":"correct horse"}`,
		`{"login":"mallory","login":"alice","password":"correct horse"}`,
		`{"login":"alice","password":"x","password":"correct horse"}`,
		`{"login":"alice","LOGIN":"bob","password":"correct horse"}`,
		`{"login":"alice","passworD":"correct horse"}`,
		`{"login":null,"password":"correct horse"}`,
		`{"login":"al ice","password":"correct horse"}`,
		`{"login":"alice","password":"correct horse"} {}`,
		`{"login":"alice","password":"correct horse","admin":true}`,
		`{"login":1,"password":2}`, `[]`, `null`, ``, `{`,
	} {
		f.Add(s)
	}
	cfg := testConfig()
	cfg.LoginMaxFailures = 1 << 20 // the throttle has its own tests
	e := newEnv(f, dbtest.Migrated(f, dbtest.Open(f, "sqlite")), cfg)
	require.Equal(f, http.StatusOK, post(f, e.app, "/api/user/register", creds("alice", "correct horse")).status)
	f.Fuzz(func(t *testing.T, body string) {
		var c credentials
		strictErr := web.Unmarshal([]byte(body), &c)
		r := post(t, e.app, "/api/user/login", body)
		require.Contains(t, []int{http.StatusOK, http.StatusBadRequest, http.StatusUnauthorized}, r.status, "login %q: %s", body, r.body)
		if r.status == http.StatusOK {
			require.NoError(t, strictErr, "logged in with %q", body)
			loggedIn(t, e, r)
		}
		r = post(t, e.app, "/api/user/register", body)
		require.Contains(t, []int{http.StatusOK, http.StatusBadRequest, http.StatusConflict}, r.status, "register %q: %s", body, r.body)
		if r.status != http.StatusBadRequest {
			require.NoError(t, strictErr, "answered %d to %q", r.status, body)
		}
	})
}
