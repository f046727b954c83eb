package web

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"
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
	s.app.Use(requestID, requireHost, deadline(cfg.WriteTimeout), recover.New(recover.Config{EnableStackTrace: false}), Inflate(cfg.MaxInflated))
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

// requireHost answers 400 to an HTTP/1.1 request without a Host header, or with an empty one (an
// http URI never has an empty host), and to any request with more than one, as RFC 9112 (section
// 3.2) requires; fasthttp would serve all three.
func requireHost(c *fiber.Ctx) error {
	h := &c.Request().Header
	hosts := 0
	for raw := h.RawHeaders(); len(raw) > 0; {
		var line []byte
		line, raw, _ = bytes.Cut(raw, []byte("\n"))
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
	return c.Next()
}

// requestID takes the caller's X-Request-Id (if sane) or makes one, echoes it, and puts it in the
// request's context so that every log record of the request carries it.
func requestID(c *fiber.Ctx) error {
	id := c.Get(fiber.HeaderXRequestID)
	if id == "" || len(id) > 64 || strings.ContainsFunc(id, func(r rune) bool { return r < 0x21 || r > 0x7e }) {
		id = uuid.NewString()
	}
	c.Set(fiber.HeaderXRequestID, id)
	c.SetUserContext(logging.WithRequestID(c.UserContext(), id))
	return c.Next()
}

// deadline gives every request's context a deadline (the write timeout): a handler stuck on a row
// lock or a slow query gives up instead of holding its connection, and shutdown, forever.
func deadline(d time.Duration) fiber.Handler {
	return func(c *fiber.Ctx) error {
		ctx, cancel := context.WithTimeout(c.UserContext(), d)
		defer cancel()
		c.SetUserContext(ctx)
		return c.Next()
	}
}
