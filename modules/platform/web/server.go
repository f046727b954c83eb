package web

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/valyala/fasthttp"
	"go.uber.org/fx"

	"github.com/gophermart/gophermart/modules/platform/logging"
)

// Server is the service's HTTP server.
type Server struct {
	app     *fiber.App
	cfg     Config
	log     *slog.Logger
	errors  []ErrorStatus
	ln      net.Listener
	addr    atomic.Value // string: the bound address, set once listening
	done    chan struct{}
	metrics *prometheus.Registry
	// loopback refuses to serve on an address other machines can reach (LoopbackOnly).
	loopback bool
	// namespace prefixes the metrics' names (WithMetrics).
	namespace string
}

// NewServer builds the fiber app: middleware, health checks, then every module's public routes and,
// behind the JWT guard under /api/user, their protected routes.
func NewServer(cfg Config, log *slog.Logger, auth Authenticator, ready Pinger, routes []Routes, opts ...Option) *Server {
	s := &Server{cfg: cfg, log: log, done: make(chan struct{})}
	for _, o := range opts {
		o(s)
	}
	s.app = fiber.New(fiber.Config{
		ErrorHandler:          s.handleError,
		BodyLimit:             cfg.BodyLimit,
		ReadTimeout:           cfg.ReadTimeout,
		WriteTimeout:          cfg.WriteTimeout,
		IdleTimeout:           cfg.IdleTimeout,
		DisableStartupMessage: true,
		// Keep fasthttp from answering bad requests with its own plain-text bodies where it can.
		ReadBufferSize: 8192,
	})
	if s.metrics != nil {
		s.app.Use(httpMetrics(s.metrics, s.namespace, s.handleError))
		s.app.Get("/metrics", metricsHandler(s.metrics))
	}
	s.app.Use(edge(newDeadlines(cfg.WriteTimeout), cfg.MaxInflated))
	s.app.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok") })
	s.app.Get("/readyz", func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
		defer cancel()
		if err := ready.Ping(ctx); err != nil {
			s.log.WarnContext(ctx, "not ready", "err", err)
			return WriteProblem(c, fiber.StatusServiceUnavailable, "database unavailable")
		}
		return c.SendString("ok")
	})
	for _, r := range routes {
		s.errors = append(s.errors, r.Errors...)
		if r.Public != nil {
			r.Public(s.app)
		}
	}
	// Registered after every public route, so the guard never runs in front of one.
	protected := s.app.Group("/api/user", Guard(auth))
	for _, r := range routes {
		if r.Protected != nil {
			r.Protected(protected)
		}
	}
	s.app.Use(func(*fiber.Ctx) error { return fiber.ErrNotFound })
	return s
}

// App returns the fiber app, for tests (app.Test) and for mounting extra handlers.
func (s *Server) App() *fiber.App { return s.app }

// Addr returns the address the server listens on once started.
// Safe for concurrent use.
func (s *Server) Addr() string {
	a, _ := s.addr.Load().(string)
	return a
}

// Start binds the address synchronously (a bind error fails startup) and serves in the background; if
// serving fails later the app is shut down with exit code 1.
func (s *Server) Start(sd fx.Shutdowner) error {
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", s.cfg.Address)
	if err != nil {
		return &ListenError{Addr: s.cfg.Address, Err: err}
	}
	if s.loopback && !isLoopback(ln.Addr()) {
		_ = ln.Close()
		return fmt.Errorf("listen on %s: bound %s, which is not a loopback address", s.cfg.Address, ln.Addr())
	}
	s.ln = ln
	s.addr.Store(ln.Addr().String())
	s.log.Info("listening", "address", ln.Addr().String())
	go func() {
		defer close(s.done)
		if err := s.app.Listener(ln); !isClosed(err) {
			s.log.Error("server stopped", "err", err)
			_ = sd.Shutdown(fx.ExitCode(1))
		}
	}()
	return nil
}

// ListenError is Start's failure to bind its address (taken, not allowed, not this machine's).
type ListenError struct {
	Addr string // the configured address
	Err  error
}

func (e *ListenError) Error() string { return e.Err.Error() }

func (e *ListenError) Unwrap() error { return e.Err }

// Stop stops accepting connections and waits for in-flight requests, until ctx ends.
func (s *Server) Stop(ctx context.Context) error {
	if s.ln == nil {
		return nil
	}
	err := s.app.ShutdownWithContext(ctx)
	select {
	case <-s.done:
	case <-ctx.Done():
	}
	return err
}

// handleError is the one place errors become HTTP answers: problem+json, never internals.
func (s *Server) handleError(c *fiber.Ctx, err error) error {
	status, reply := fiber.StatusInternalServerError, "internal error"
	var fe *fiber.Error
	if errors.As(err, &fe) {
		status, reply = fe.Code, fe.Message
	} else if m, ok := s.match(err); ok {
		status, reply = m.Status, m.Err.Error()
	}
	switch {
	case status == fiber.StatusServiceUnavailable: // overload, answered on purpose: no human must act
		s.log.WarnContext(c.UserContext(), "request refused", "method", c.Method(), "path", c.Path(), "err", err)
	case status >= fiber.StatusInternalServerError:
		s.log.ErrorContext(c.UserContext(), "request failed", "method", c.Method(), "path", c.Path(), "err", err)
	}
	return WriteProblem(c, status, reply)
}

func (s *Server) match(err error) (ErrorStatus, bool) {
	for _, m := range s.errors {
		if errors.Is(err, m.Err) {
			return m, true
		}
	}
	return ErrorStatus{}, false
}

// LoopbackOnly makes Start refuse to serve unless the address it bound is a loopback one (127.0.0.0/8,
// ::1): a listener whose endpoints create points must not be reachable from other machines, even
// when a name such as localhost resolves somewhere unexpected.
func LoopbackOnly() Option { return func(s *Server) { s.loopback = true } }

func isLoopback(a net.Addr) bool {
	tcp, ok := a.(*net.TCPAddr)
	return ok && tcp.IP.IsLoopback()
}

// edge is the chain every request passes before its route: it takes or makes the request id,
// requires a sane Host, gives the request its deadline, turns a panic into a 500 and inflates a gzip
// body. One handler rather than five saves fiber's walk to the next handler between each pair.
func edge(deadlines *deadlines, maxInflated int) fiber.Handler {
	inflate := Inflate(maxInflated)
	return func(c *fiber.Ctx) (err error) {
		id := requestID(c)
		if err := checkHost(&c.Request().Header); err != nil {
			return err
		}
		// The request id rides on the deadline's context, shared by the requests of a short while:
		// one allocation per request.
		c.SetUserContext(logging.WithRequestID(deadlines.context(), id))
		defer func() {
			if r := recover(); r != nil {
				var ok bool
				if err, ok = r.(error); !ok {
					err = fmt.Errorf("%v", r)
				}
			}
		}()
		return inflate(c)
	}
}

// checkHost refuses an HTTP/1.1 request without a Host header, or with an empty one (an http URI
// never has an empty host), and any request with more than one, as RFC 9112 (section 3.2)
// requires; fasthttp would serve all three.
func checkHost(h *fasthttp.RequestHeader) error {
	hosts := 0
	for raw := h.RawHeaders(); len(raw) > 0; {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		// Most lines are not Host: look at their first letter before anything else.
		line = bytes.TrimLeft(line, " \t")
		if len(line) < 5 || line[0]|0x20 != 'h' {
			continue
		}
		if name, _, ok := bytes.Cut(line, []byte(":")); ok && bytes.EqualFold(bytes.TrimSpace(name), []byte(fiber.HeaderHost)) {
			hosts++
		}
	}
	switch {
	case hosts > 1:
		return fiber.NewError(fiber.StatusBadRequest, "more than one Host header")
	case h.IsHTTP11() && len(bytes.TrimSpace(h.Host())) == 0:
		return fiber.NewError(fiber.StatusBadRequest, "missing Host header (required in HTTP/1.1)")
	}
	return nil
}

// requestID takes the caller's X-Request-Id (if sane) or makes one, echoes it and returns it (a
// copy: the request's buffers are reused by the next one).
func requestID(c *fiber.Ctx) string {
	id := c.Request().Header.Peek(fiber.HeaderXRequestID)
	if len(id) == 0 || len(id) > 64 || bytes.ContainsFunc(id, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		var made [36]byte
		newRequestID(&made)
		id = made[:]
	}
	c.Response().Header.SetBytesV(fiber.HeaderXRequestID, id)
	return string(id)
}

// requestIDs makes the ids of requests that come without one: a random 64-bit prefix drawn once per
// process and a counter, laid out as a version 4 UUID (the 6 version and variant bits overwrite
// prefix bits). Unique within the process by the counter, across processes by the prefix; neither
// secret nor unguessable, which a request id need not be.
var requestIDs = struct {
	prefix uint64
	n      atomic.Uint64
}{prefix: randomPrefix()}

func randomPrefix() uint64 {
	var b [8]byte
	_, _ = rand.Read(b[:]) // never fails: crypto/rand aborts the program instead
	return binary.BigEndian.Uint64(b[:])
}

func newRequestID(dst *[36]byte) {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], requestIDs.prefix)
	binary.BigEndian.PutUint64(b[8:], requestIDs.n.Add(1))
	b[6] = b[6]&0x0f | 0x40 // version 4
	b[8] = b[8]&0x3f | 0x80 // RFC 9562 variant
	hex.Encode(dst[0:8], b[0:4])
	dst[8] = '-'
	hex.Encode(dst[9:13], b[4:6])
	dst[13] = '-'
	hex.Encode(dst[14:18], b[6:8])
	dst[18] = '-'
	hex.Encode(dst[19:23], b[8:10])
	dst[23] = '-'
	hex.Encode(dst[24:], b[10:])
}
