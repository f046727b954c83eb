package web_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/logging"
	"github.com/gophermart/gophermart/modules/platform/web"
	"github.com/gophermart/gophermart/modules/platform/web/webtest"
)

// listItem has what makes encoding differ: an omitted pointer, a custom marshaller (json.Number) and
// text that encoding/json escapes.
type listItem struct {
	ID     string      `json:"id"`
	Note   string      `json:"note"`
	Amount json.Number `json:"amount"`
	Extra  *int        `json:"extra,omitempty"`
}

func listItems(n int) []listItem {
	out := make([]listItem, n)
	for i := range out {
		out[i] = listItem{ID: fmt.Sprintf("%05d", i), Note: "<a & b> \"q\" é\u2028", Amount: json.Number(fmt.Sprintf("%d.%02d", i, i%100))}
		if i%3 == 0 {
			x := i
			out[i].Extra = &x
		}
	}
	return out
}

// lockedBuffer is a log sink safe for the stream's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// chunker serves items in chunks of size through GET /list, recording how it is called. failAt > 0
// makes the call with that number (1 is the first) fail.
type chunker struct {
	items  []listItem
	size   int
	failAt int
	panics bool // the failing call panics instead of returning an error

	mu           sync.Mutex
	calls        int
	callsAtReply int               // calls made before the handler returned
	ctxs         []context.Context // the context of every call
	deadline     time.Time         // the request context's deadline
}

var errChunk = errors.New("chunk failed: pq: secret internals")

func (ch *chunker) next(ctx context.Context) ([]listItem, bool, error) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	ch.calls++
	ch.ctxs = append(ch.ctxs, ctx)
	if ch.calls == ch.failAt {
		if ch.panics {
			panic("chunk panicked: secret internals")
		}
		return nil, false, errChunk
	}
	from := min((ch.calls-1)*ch.size, len(ch.items))
	to := min(from+ch.size, len(ch.items))
	return ch.items[from:to], to < len(ch.items), nil
}

func (ch *chunker) snapshot() (calls, atReply int, ctxs []context.Context) {
	ch.mu.Lock()
	defer ch.mu.Unlock()
	return ch.calls, ch.callsAtReply, append([]context.Context(nil), ch.ctxs...)
}

// app serves ch at GET /list (behind the Gzip middleware, like the real lists) on a real server; the
// server's and the stream's logs go to log.
func (ch *chunker) app(log *slog.Logger) *fiber.App {
	routes := web.Routes{Public: func(r fiber.Router) {
		r.Get("/list", web.Gzip(), func(c *fiber.Ctx) error {
			d, _ := c.UserContext().Deadline()
			err := web.SendList(c, log, ch.next)
			ch.mu.Lock()
			ch.callsAtReply, ch.deadline = ch.calls, d
			ch.mu.Unlock()
			return err
		})
	}}
	return web.NewServer(web.DefaultConfig(), log, anyAuth{}, nopPing{}, []web.Routes{routes}).App()
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func get(t *testing.T, base string, gzipped bool) (*http.Response, []byte, error) {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, base+"/list", nil)
	require.NoError(t, err)
	req.Header.Set(fiber.HeaderXRequestID, "req-42")
	if gzipped {
		req.Header.Set("Accept-Encoding", "gzip")
	}
	client := &http.Client{Transport: &http.Transport{DisableCompression: true}} // keep Content-Encoding visible
	resp, err := client.Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	return resp, body, err
}

func gunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	require.NoError(t, err)
	out, err := io.ReadAll(zr)
	require.NoError(t, err)
	return out
}

func TestSendList(t *testing.T) {
	tests := []struct {
		name       string
		items      int
		size       int
		wantCalls  int
		wantStream bool
	}{
		{name: "one chunk", items: 3, size: 5, wantCalls: 1},
		{name: "fits one chunk", items: 5, size: 5, wantCalls: 1},
		{name: "many chunks", items: 23, size: 5, wantCalls: 5, wantStream: true},
		{name: "long", items: 2000, size: 500, wantCalls: 4, wantStream: true},
	}
	for _, tt := range tests {
		for _, gzipped := range []bool{false, true} {
			t.Run(fmt.Sprintf("%s gzip=%v", tt.name, gzipped), func(t *testing.T) {
				ch := &chunker{items: listItems(tt.items), size: tt.size}
				if tt.items == tt.size {
					ch.size = tt.size + 1 // one call reads all and says none follows
				}
				want, err := json.Marshal(ch.items)
				require.NoError(t, err)
				resp, body, err := get(t, webtest.Serve(t, ch.app(quiet())), gzipped)
				require.NoError(t, err)
				require.Equal(t, http.StatusOK, resp.StatusCode)
				assert.Equal(t, "application/json", resp.Header.Get("Content-Type"))
				assert.Contains(t, resp.Header.Get("Vary"), "Accept-Encoding")
				wire := len(body)
				if gzipped && len(want) >= 200 { // fasthttp sends shorter whole bodies as they are
					assert.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
					body = gunzip(t, body)
				} else {
					assert.Empty(t, resp.Header.Get("Content-Encoding"))
				}
				assert.Equal(t, string(want), string(body), "byte for byte what json.Marshal makes of the list")
				if tt.wantStream {
					assert.Equal(t, []string{"chunked"}, resp.TransferEncoding)
				} else {
					assert.Equal(t, int64(wire), resp.ContentLength, "a one-chunk list has its length")
				}
				calls, atReply, _ := ch.snapshot()
				assert.Equal(t, tt.wantCalls, calls)
				assert.Equal(t, 1, atReply, "the handler reads only the first chunk; the rest is read as the body is written")
			})
		}
	}
}

func TestSendListEmpty(t *testing.T) {
	ch := &chunker{size: 5}
	resp, body, err := get(t, webtest.Serve(t, ch.app(quiet())), true)
	require.NoError(t, err)
	assert.Equal(t, http.StatusNoContent, resp.StatusCode)
	assert.Empty(t, body)
	assert.Empty(t, resp.Header.Get("Content-Encoding"))
}

// An empty chunk that says more may follow is skipped: the status depends on the first item.
func TestSendListSkipsEmptyChunks(t *testing.T) {
	for _, tail := range [][]listItem{nil, listItems(2)} {
		calls := 0
		app := fiber.New()
		app.Get("/list", func(c *fiber.Ctx) error {
			return web.SendList(c, quiet(), func(context.Context) ([]listItem, bool, error) {
				calls++
				if calls < 3 {
					return nil, true, nil
				}
				return tail, false, nil
			})
		})
		resp, err := app.Test(httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/list", nil), -1)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		if tail == nil {
			assert.Equal(t, http.StatusNoContent, resp.StatusCode)
		} else {
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			want, _ := json.Marshal(tail)
			assert.Equal(t, string(want), string(body))
		}
		assert.Equal(t, 3, calls)
	}
}

// The chunks read after the handler returned get a context of their own: the request's values and
// deadline, alive after the handler (whose context is cancelled) and cancelled once the body is done.
func TestSendListStreamContext(t *testing.T) {
	ch := &chunker{items: listItems(12), size: 5}
	resp, _, err := get(t, webtest.Serve(t, ch.app(quiet())), false)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	calls, _, ctxs := ch.snapshot()
	require.Equal(t, 3, calls)
	for i, ctx := range ctxs[1:] {
		assert.Equal(t, "req-42", logging.RequestID(ctx), "chunk %d keeps the request's values", i+2)
		d, ok := ctx.Deadline()
		assert.True(t, ok && d.Equal(ch.deadline), "chunk %d has the request's deadline", i+2)
	}
	select { // fasthttp closes the body once it has written it, a moment after the client read it
	case <-ctxs[1].Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the stream's context is not cancelled after the body was written")
	}
}

func TestSendListFirstChunkFails(t *testing.T) {
	ch := &chunker{items: listItems(12), size: 5, failAt: 1}
	logs := &lockedBuffer{}
	app := ch.app(slog.New(slog.NewTextHandler(logs, nil)))
	resp, err := app.Test(httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/list", nil), -1)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	assert.NotContains(t, string(body), "secret")
	assert.Contains(t, logs.String(), "request failed")
}

// A chunk that fails (or panics) once the answer has started ends the body early: never a valid JSON
// array, and without compression not even a complete chunked body.
func TestSendListLaterChunkFails(t *testing.T) {
	for _, tt := range []struct{ gzipped, panics bool }{{false, false}, {true, false}, {false, true}, {true, true}} {
		gzipped := tt.gzipped
		t.Run(fmt.Sprintf("gzip=%v panic=%v", tt.gzipped, tt.panics), func(t *testing.T) {
			ch := &chunker{items: listItems(40), size: 10, failAt: 3, panics: tt.panics}
			logs := &lockedBuffer{}
			log := logging.New(logging.Config{Level: "info", Format: "text"}, logs)
			resp, body, err := get(t, webtest.Serve(t, ch.app(log)), gzipped)
			require.Equal(t, http.StatusOK, resp.StatusCode)
			if gzipped {
				require.NoError(t, err, "the gzip stream itself ends cleanly")
				body = gunzip(t, body)
			} else {
				require.ErrorIs(t, err, io.ErrUnexpectedEOF, "the connection closes inside the chunked body")
			}
			full, err := json.Marshal(ch.items)
			require.NoError(t, err)
			assert.True(t, strings.HasPrefix(string(full), string(body)), "what was sent is the list's start")
			assert.Less(t, len(body), len(full))
			assert.False(t, json.Valid(body), "a cut list is never valid JSON")
			assert.NotContains(t, string(body), "secret")
			// Logged before the stream ended, so before the client saw the end.
			assert.Contains(t, logs.String(), "list body aborted")
			assert.Contains(t, logs.String(), "request_id=req-42", "with the request's id")
		})
	}
}

// A HEAD of a streamed list is answered without a body.
func TestSendListHead(t *testing.T) {
	for _, gzipped := range []bool{false, true} {
		ch := &chunker{items: listItems(40), size: 10}
		req, err := http.NewRequestWithContext(context.Background(), http.MethodHead, webtest.Serve(t, ch.app(quiet()))+"/list", nil)
		require.NoError(t, err)
		if gzipped {
			req.Header.Set("Accept-Encoding", "gzip")
		}
		resp, err := (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(req)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		require.NoError(t, resp.Body.Close())
		assert.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Empty(t, body)
	}
}
