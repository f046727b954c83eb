package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/web"
	"github.com/gophermart/gophermart/modules/platform/web/webtest"
)

func checkAppendString(t *testing.T, s string) {
	t.Helper()
	want, err := json.Marshal(s)
	require.NoError(t, err)
	require.Equal(t, "x"+string(want), string(web.AppendString([]byte("x"), s)), "%q", s)
}

func TestAppendStringMatchesJSON(t *testing.T) {
	for _, s := range []string{
		"", "12345678903", "PROCESSED", "2024-01-02T03:04:05Z", `"`, `\`, "<", ">", "&",
		"\x00", "\x1f", "\x7f", "é", "\u2028", "\u2029", "\xff", "a\xc3", "~ !#$%'()*+,-./:;=?@[]^_`{|}",
	} {
		checkAppendString(t, s)
	}
	for c := range 256 {
		checkAppendString(t, "a"+string(rune(c))+"b")
		checkAppendString(t, "a"+string([]byte{byte(c)})+"b")
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("12345678903")
	f.Add("<\xff\u2028\"")
	f.Fuzz(checkAppendString)
}

// appended is a list item that only its AppendJSON can encode: its MarshalJSON fails, so a list
// of them answers 200 only if SendList used AppendJSON.
type appended struct{ n int }

var errNoMarshal = errors.New("MarshalJSON must not be called")

func (a appended) MarshalJSON() ([]byte, error) { return nil, errNoMarshal }

func (a *appended) AppendJSON(dst []byte) []byte { return fmt.Appendf(dst, `{"n":%d}`, a.n) }

// TestSendListUsesAppender sends lists of JSONAppender items, long then short, through one server:
// each body is exactly its items (the pooled buffer keeps nothing of the previous, longer list),
// whole or streamed.
func TestSendListUsesAppender(t *testing.T) {
	var listN, listSize atomic.Int64 // set by the test, read by the handler
	routes := web.Routes{Public: func(r fiber.Router) {
		r.Get("/list", web.Gzip(), func(c *fiber.Ctx) error {
			n, size := int(listN.Load()), int(listSize.Load())
			call := 0
			return web.SendList(c, quiet(), func(context.Context) ([]appended, bool, error) {
				from := min(call*size, n)
				to := min(from+size, n)
				call++
				items := make([]appended, 0, to-from)
				for i := from; i < to; i++ {
					items = append(items, appended{n: i})
				}
				return items, to < n, nil
			})
		})
	}}
	base := webtest.Serve(t, web.NewServer(web.DefaultConfig(), quiet(), anyAuth{}, nopPing{}, []web.Routes{routes}).App())
	for _, tc := range [][2]int{{500, 1000}, {3, 1000}, {1, 1000}, {250, 100}, {2, 1000}} {
		listN.Store(int64(tc[0]))
		listSize.Store(int64(tc[1]))
		parts := make([]string, tc[0])
		for i := range parts {
			parts[i] = fmt.Sprintf(`{"n":%d}`, i)
		}
		resp, body, err := get(t, base, false)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode, "%s", body)
		require.Equal(t, "["+strings.Join(parts, ",")+"]", string(body), "%d items in chunks of %d", tc[0], tc[1])
	}
}
