package web_test

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/logging"
	"github.com/gophermart/gophermart/modules/platform/web"
	"github.com/gophermart/gophermart/modules/platform/web/webtest"
)

var errTeapot = errors.New("the pot is a teapot")

type echoBody struct {
	Name  string `json:"name"`
	Count int    `json:"count"`
}

// testRoutes exercises the edge: body echo, strict JSON, a mapped sentinel, a panic, a raw error, a
// protected route and a gzip-compressed list.
func testRoutes() web.Routes {
	return web.Routes{
		Public: func(r fiber.Router) {
			r.Post("/echo", func(c *fiber.Ctx) error { return c.Send(c.Body()) })
			r.Post("/json", func(c *fiber.Ctx) error {
				var b echoBody
				if err := web.DecodeJSON(c, &b); err != nil {
					return err
				}
				return c.JSON(b)
			})
			r.Get("/teapot", func(*fiber.Ctx) error { return errTeapot })
			r.Get("/panic", func(*fiber.Ctx) error { panic("secret internals") })
			r.Get("/raw", func(*fiber.Ctx) error { return errors.New("pq: relation secret_table does not exist") })
			r.Get("/rid", func(c *fiber.Ctx) error { return c.SendString(logging.RequestID(c.UserContext())) })
			r.Get("/deadline", func(c *fiber.Ctx) error {
				d, ok := c.UserContext().Deadline()
				if !ok {
					return c.SendString("none")
				}
				return c.SendString(time.Until(d).Round(time.Second).String())
			})
		},
		Protected: func(r fiber.Router) {
			r.Get("/me", func(c *fiber.Ctx) error { return c.SendString(web.UserID(c)) })
			r.Get("/list", web.Gzip(), func(c *fiber.Ctx) error { return c.SendString(strings.Repeat("item,", 200)) })
		},
		Errors: []web.ErrorStatus{{Err: errTeapot, Status: http.StatusTeapot}},
	}
}

func gz(t *testing.T, b []byte, times int) []byte {
	t.Helper()
	for range times {
		var buf bytes.Buffer
		w, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		require.NoError(t, err)
		_, err = w.Write(b)
		require.NoError(t, err)
		require.NoError(t, w.Close())
		b = buf.Bytes()
	}
	return b
}

func do(t *testing.T, app *fiber.App, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	resp, err := app.Test(req, -1)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	return resp, body
}

func problemOf(t *testing.T, resp *http.Response, body []byte) web.Problem {
	t.Helper()
	assert.Equal(t, "application/problem+json", resp.Header.Get("Content-Type"))
	var p web.Problem
	require.NoError(t, json.Unmarshal(body, &p), string(body))
	assert.Equal(t, resp.StatusCode, p.Status)
	assert.NotEmpty(t, p.Title)
	assert.NotEmpty(t, p.Type)
	return p
}

func TestGzipRequestBodies(t *testing.T) {
	app := webtest.New(testRoutes())
	plain := []byte(`{"order":"12345678903"}`)
	bomb := bytes.Repeat([]byte{0}, 8<<20) // 8 MiB of zeros: a few KiB gzipped, far over the 1 MiB cap

	tests := []struct {
		name       string
		body       []byte
		encoding   string
		wantStatus int
		wantBody   []byte
	}{
		{name: "plain", body: plain, wantStatus: 200, wantBody: plain},
		{name: "gzip", body: gz(t, plain, 1), encoding: "gzip", wantStatus: 200, wantBody: plain},
		{name: "gzip upper case", body: gz(t, plain, 1), encoding: " GZIP ", wantStatus: 200, wantBody: plain},
		{name: "bomb", body: gz(t, bomb, 1), encoding: "gzip", wantStatus: 413},
		{name: "stacked encodings", body: gz(t, plain, 2), encoding: "gzip, gzip", wantStatus: 415},
		{name: "brotli", body: plain, encoding: "br", wantStatus: 415},
		{name: "not gzip at all", body: plain, encoding: "gzip", wantStatus: 400},
		{name: "truncated gzip", body: gz(t, plain, 1)[:15], encoding: "gzip", wantStatus: 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/echo", bytes.NewReader(tt.body))
			if tt.encoding != "" {
				req.Header.Set("Content-Encoding", tt.encoding)
			}
			resp, body := do(t, app, req)
			require.Equal(t, tt.wantStatus, resp.StatusCode, string(body))
			if tt.wantBody != nil {
				assert.Equal(t, tt.wantBody, body)
			} else {
				problemOf(t, resp, body)
			}
		})
	}
}

// A gzip bomb must be refused without inflating it: memory stays flat.
func TestGzipBombDoesNotGrowMemory(t *testing.T) {
	app := webtest.New(testRoutes())
	bomb := gz(t, bytes.Repeat([]byte{0}, 32<<20), 1) // 32 MiB inflated
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	for range 4 {
		req := httptest.NewRequest(http.MethodPost, "/echo", bytes.NewReader(bomb))
		req.Header.Set("Content-Encoding", "gzip")
		resp, _ := do(t, app, req)
		require.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
	}
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	// Four requests inflated in full would allocate over 128 MiB; the cap keeps each to a few MiB.
	assert.Less(t, after.TotalAlloc-before.TotalAlloc, uint64(24<<20))
}

func TestBodyLimitOnTheWire(t *testing.T) {
	app := webtest.New(testRoutes())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	go func() { _ = app.Listener(ln) }()
	t.Cleanup(func() { _ = app.Shutdown() })

	// The server refuses on the announced length, before the body is sent (a client still writing
	// would see its connection reset, so speak HTTP by hand and read the answer).
	conn, err := net.Dial("tcp", ln.Addr().String())
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	_, err = conn.Write([]byte("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 2097152\r\n\r\n"))
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
}

func TestErrorsAreProblemsWithoutInternals(t *testing.T) {
	app := webtest.New(testRoutes())
	tests := []struct {
		name       string
		path       string
		wantStatus int
		wantDetail string
	}{
		{name: "mapped sentinel", path: "/teapot", wantStatus: http.StatusTeapot, wantDetail: "the pot is a teapot"},
		{name: "panic", path: "/panic", wantStatus: 500, wantDetail: "internal error"},
		{name: "raw error", path: "/raw", wantStatus: 500, wantDetail: "internal error"},
		{name: "unknown route", path: "/nope", wantStatus: 404},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := do(t, app, httptest.NewRequest(http.MethodGet, tt.path, nil))
			require.Equal(t, tt.wantStatus, resp.StatusCode)
			p := problemOf(t, resp, body)
			if tt.wantDetail != "" {
				assert.Equal(t, tt.wantDetail, p.Detail)
			}
			assert.NotContains(t, string(body), "secret")
		})
	}
}

func TestDecodeJSON(t *testing.T) {
	app := webtest.New(testRoutes())
	tests := []struct {
		name       string
		body       string
		ctype      string
		wantStatus int
		wantDetail string
	}{
		{name: "ok", body: `{"name":"a","count":2}`, wantStatus: 200},
		{name: "form content type still JSON", body: `{"name":"a"}`, ctype: "application/x-www-form-urlencoded", wantStatus: 200},
		{name: "empty", body: ``, wantStatus: 400, wantDetail: "empty body"},
		{name: "malformed", body: `{"name":`, wantStatus: 400, wantDetail: "malformed JSON"},
		{name: "syntax", body: `{"name" "a"}`, wantStatus: 400, wantDetail: "malformed JSON body at byte"},
		{name: "unknown field", body: `{"name":"a","admin":true}`, wantStatus: 400, wantDetail: `unknown field "admin"`},
		{name: "wrong type", body: `{"name":5}`, wantStatus: 400, wantDetail: `field "name" must be a JSON string`},
		{name: "array", body: `[1,2]`, wantStatus: 400, wantDetail: "must be a JSON object"},
		{name: "trailing data", body: `{"name":"a"} {"name":"b"}`, wantStatus: 400, wantDetail: "trailing data"},
		{name: "trailing garbage", body: `{"name":"a"}x`, wantStatus: 400},
		{name: "duplicate key", body: `{"name":"a","name":"b"}`, wantStatus: 400, wantDetail: `duplicate field "name"`},
		{name: "duplicate key, last one a number", body: `{"count":1,"count":999999}`, wantStatus: 400, wantDetail: `duplicate field "count"`},
		{name: "duplicate key in another case", body: `{"name":"a","NAME":"b"}`, wantStatus: 400, wantDetail: `duplicate field "NAME"`},
		{name: "duplicate key by escape", body: `{"name":"a","\u006eame":"b"}`, wantStatus: 400, wantDetail: "duplicate field"},
		{name: "duplicate of an unknown key", body: `{"x":1,"x":2}`, wantStatus: 400, wantDetail: `duplicate field "x"`},
		{name: "duplicate null", body: `{"name":null,"name":"b"}`, wantStatus: 400, wantDetail: "duplicate field"},
		{name: "deep nesting", body: `{"name":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}`, wantStatus: 400, wantDetail: "nested deeper"},
		{name: "null body", body: `null`, wantStatus: 200},
		{name: "scalar body", body: `5`, wantStatus: 400, wantDetail: "must be a JSON object"},
		{name: "white space around", body: " \n{\"name\":\"a\"}\n ", wantStatus: 200},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodPost, "/json", strings.NewReader(tt.body))
			if tt.ctype != "" {
				req.Header.Set("Content-Type", tt.ctype)
			}
			resp, body := do(t, app, req)
			require.Equal(t, tt.wantStatus, resp.StatusCode, string(body))
			if tt.wantStatus != 200 {
				assert.Contains(t, problemOf(t, resp, body).Detail, tt.wantDetail)
			}
		})
	}
}

// TestUnmarshalNested: keys repeat legitimately in sibling objects, never within one.
func TestUnmarshalNested(t *testing.T) {
	var v struct {
		Goods []struct {
			Description string `json:"description"`
			Price       int    `json:"price"`
		} `json:"goods"`
	}
	require.NoError(t, web.Unmarshal([]byte(`{"goods":[{"description":"a","price":1},{"description":"b","price":2}]}`), &v))
	assert.Len(t, v.Goods, 2)
	err := web.Unmarshal([]byte(`{"goods":[{"description":"a","price":1},{"price":2,"price":3}]}`), &v)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `duplicate field "price"`)
	err = web.Unmarshal([]byte(`{"goods":[],"goods":[{"description":"a"}]}`), &v)
	require.Error(t, err)
	// encoding/json matches "ſum" (long s) to the field sum, so it is a second sum.
	var w struct {
		Sum int `json:"sum"`
	}
	err = web.Unmarshal([]byte(`{"sum":1,"\u017fum":999999}`), &w)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "duplicate field")
	require.NoError(t, web.Unmarshal([]byte(`{"\u017fum":5}`), &w))
	assert.Equal(t, 5, w.Sum, "the premise: encoding/json folds the long s")
	var raw map[string]json.RawMessage
	require.Error(t, web.Unmarshal([]byte(`{"a":{"b":1,"b":2}}`), &raw), "a duplicate inside a raw value counts too")
	require.NoError(t, web.Unmarshal([]byte(`{"a":{"b":1},"c":{"b":2}}`), &raw))
}

// rawRequest sends raw bytes over a real connection to a server started on loopback and returns
// the status line of the answer.
func rawRequest(t *testing.T, addr, req string) string {
	t.Helper()
	conn, err := (&net.Dialer{Timeout: 5 * time.Second}).DialContext(context.Background(), "tcp", addr)
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	require.NoError(t, conn.SetDeadline(time.Now().Add(5*time.Second)))
	_, err = io.WriteString(conn, req)
	require.NoError(t, err)
	line, err := bufio.NewReader(conn).ReadString('\n')
	require.NoError(t, err)
	return strings.TrimSpace(line)
}

func startServer(t *testing.T, cfg web.Config, opts ...web.Option) (*web.Server, error) {
	t.Helper()
	srv := web.NewServer(cfg, slog.New(slog.NewTextHandler(io.Discard, nil)), anyAuth{}, nopPing{}, []web.Routes{testRoutes()}, opts...)
	if err := srv.Start(nil); err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = srv.Stop(context.Background()) })
	return srv, nil
}

// HTTP/1.1 requires exactly one Host header with a host in it (RFC 9112, section 3.2).
func TestHostHeaderRequired(t *testing.T) {
	cfg := web.DefaultConfig()
	cfg.Address = "127.0.0.1:0"
	srv, err := startServer(t, cfg)
	require.NoError(t, err)
	tests := []struct {
		name string
		req  string
		want string
	}{
		{name: "HTTP/1.1 with Host", req: "GET /healthz HTTP/1.1\r\nHost: shop\r\n\r\n", want: "HTTP/1.1 200 OK"},
		{name: "HTTP/1.1 without Host", req: "GET /healthz HTTP/1.1\r\n\r\n", want: "HTTP/1.1 400 Bad Request"},
		{name: "HTTP/1.1 with an empty Host", req: "GET /healthz HTTP/1.1\r\nHost:\r\n\r\n", want: "HTTP/1.1 400 Bad Request"},
		{name: "HTTP/1.1 absolute form without Host", req: "GET http://shop/healthz HTTP/1.1\r\n\r\n", want: "HTTP/1.1 400 Bad Request"},
		{name: "two Host headers", req: "GET /healthz HTTP/1.1\r\nHost: a\r\nhost: b\r\n\r\n", want: "HTTP/1.1 400 Bad Request"},
		{name: "HTTP/1.0 without Host", req: "GET /healthz HTTP/1.0\r\n\r\n", want: "HTTP/1.1 200 OK"},
		{name: "POST without Host", req: "POST /json HTTP/1.1\r\nContent-Length: 12\r\n\r\n{\"name\":\"a\"}", want: "HTTP/1.1 400 Bad Request"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, rawRequest(t, srv.Addr(), tt.req))
		})
	}
}

// A LoopbackOnly server serves on loopback and refuses to start on any other address.
func TestLoopbackOnly(t *testing.T) {
	cfg := web.DefaultConfig()
	cfg.Address = "127.0.0.1:0"
	srv, err := startServer(t, cfg, web.LoopbackOnly())
	require.NoError(t, err)
	assert.Equal(t, "HTTP/1.1 200 OK", rawRequest(t, srv.Addr(), "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"))

	cfg.Address = "0.0.0.0:0"
	_, err = startServer(t, cfg, web.LoopbackOnly())
	require.Error(t, err)
	assert.Contains(t, err.Error(), "not a loopback address")
}

// unavailableAuth cannot tell whether a token is good: the request is a server error, not a 401.
type unavailableAuth struct{}

func (unavailableAuth) Authenticate(context.Context, string) (string, error) {
	return "", fmt.Errorf("check user: %w: connection refused", web.ErrAuthUnavailable)
}

func TestGuardAuthUnavailable(t *testing.T) {
	app := web.NewServer(web.DefaultConfig(), slog.New(slog.NewTextHandler(io.Discard, nil)), unavailableAuth{}, nopPing{}, []web.Routes{testRoutes()}).App()
	req := httptest.NewRequest(http.MethodGet, "/api/user/me", nil)
	req.Header.Set("Authorization", "Bearer x")
	resp, body := do(t, app, req)
	assert.Equal(t, http.StatusInternalServerError, resp.StatusCode)
	assert.NotContains(t, string(body), "connection refused")
}

func TestGuard(t *testing.T) {
	app := webtest.New(testRoutes())
	tests := []struct {
		name       string
		header     string
		cookie     string
		wantStatus int
		wantBody   string
	}{
		{name: "bearer", header: "Bearer " + webtest.Token("u1"), wantStatus: 200, wantBody: "u1"},
		{name: "bearer lower case scheme", header: "bearer " + webtest.Token("u1"), wantStatus: 200, wantBody: "u1"},
		{name: "cookie", cookie: webtest.Token("u2"), wantStatus: 200, wantBody: "u2"},
		{name: "none", wantStatus: 401},
		{name: "basic scheme", header: "Basic dTpw", wantStatus: 401},
		{name: "bad token", header: "Bearer nope", wantStatus: 401},
		{name: "empty bearer", header: "Bearer ", wantStatus: 401},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequest(http.MethodGet, "/api/user/me", nil)
			if tt.header != "" {
				req.Header.Set("Authorization", tt.header)
			}
			if tt.cookie != "" {
				req.AddCookie(&http.Cookie{Name: web.CookieName, Value: tt.cookie})
			}
			resp, body := do(t, app, req)
			require.Equal(t, tt.wantStatus, resp.StatusCode)
			if tt.wantStatus == 200 {
				assert.Equal(t, tt.wantBody, string(body))
			} else {
				problemOf(t, resp, body)
			}
		})
	}
}

func TestGzipOnlyWhenAccepted(t *testing.T) {
	app := webtest.New(testRoutes())
	for _, accept := range []string{"", "gzip", "br, deflate, gzip", "gzip;q=0", "deflate"} {
		req := httptest.NewRequest(http.MethodGet, "/api/user/list", nil)
		req.Header.Set("Authorization", "Bearer "+webtest.Token("u"))
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}
		resp, body := do(t, app, req)
		require.Equal(t, 200, resp.StatusCode)
		assert.Contains(t, resp.Header.Get("Vary"), "Accept-Encoding")
		if !strings.Contains(accept, "gzip") || strings.Contains(accept, "q=0") {
			assert.Empty(t, resp.Header.Get("Content-Encoding"), accept)
			assert.Equal(t, strings.Repeat("item,", 200), string(body))
			continue
		}
		assert.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
		zr, err := gzip.NewReader(bytes.NewReader(body))
		require.NoError(t, err)
		plain, err := io.ReadAll(zr)
		require.NoError(t, err)
		assert.Equal(t, strings.Repeat("item,", 200), string(plain))
	}
}

// Every request's context carries a deadline: the write timeout.
func TestRequestDeadline(t *testing.T) {
	app := webtest.New(testRoutes())
	resp, body := do(t, app, httptest.NewRequest(http.MethodGet, "/deadline", nil))
	require.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, web.DefaultConfig().WriteTimeout.String(), string(body))
}

func TestRequestID(t *testing.T) {
	app := webtest.New(testRoutes())
	resp, _ := do(t, app, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	assert.Len(t, resp.Header.Get("X-Request-Id"), 36, "generated uuid")
	req := httptest.NewRequest(http.MethodGet, "/healthz", nil)
	req.Header.Set("X-Request-Id", "abc-123")
	resp, _ = do(t, app, req)
	assert.Equal(t, "abc-123", resp.Header.Get("X-Request-Id"))
	req = httptest.NewRequest(http.MethodGet, "/healthz", nil)
	req.Header.Set("X-Request-Id", "bad id\twith spaces")
	resp, _ = do(t, app, req)
	assert.NotEqual(t, "bad id\twith spaces", resp.Header.Get("X-Request-Id"))

	// The id echoed is the one the request's context carries into every log record, given or made.
	for _, given := range []string{"", "given-7"} {
		req = httptest.NewRequest(http.MethodGet, "/rid", nil)
		if given != "" {
			req.Header.Set("X-Request-Id", given)
		}
		resp, body := do(t, app, req)
		require.Equal(t, 200, resp.StatusCode)
		assert.Equal(t, resp.Header.Get("X-Request-Id"), string(body))
		assert.NotEmpty(t, body)
	}
	first, _ := do(t, app, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	second, _ := do(t, app, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	assert.NotEqual(t, first.Header.Get("X-Request-Id"), second.Header.Get("X-Request-Id"))
}

type failingPing struct{}

func (failingPing) Ping(context.Context) error { return errors.New("db down") }

type nopPing struct{}

func (nopPing) Ping(context.Context) error { return nil }

type anyAuth struct{}

func (anyAuth) Authenticate(context.Context, string) (string, error) { return "", errors.New("no") }

func TestHealthAndReadiness(t *testing.T) {
	app := webtest.New()
	resp, body := do(t, app, httptest.NewRequest(http.MethodGet, "/healthz", nil))
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "ok", string(body))
	resp, _ = do(t, app, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	assert.Equal(t, 200, resp.StatusCode)

	down := web.NewServer(web.DefaultConfig(), slog.New(slog.NewTextHandler(io.Discard, nil)), anyAuth{}, failingPing{}, nil).App()
	resp, body = do(t, down, httptest.NewRequest(http.MethodGet, "/readyz", nil))
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.NotContains(t, string(body), "db down")
}
