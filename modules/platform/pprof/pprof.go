// Package pprof serves the Go runtime's profiles (net/http/pprof) on a listener of its own, bound to
// a loopback address, so that an operator on the machine can profile the running server without the
// profiles ever being reachable from the network. It is off unless an address is configured.
package pprof

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	httppprof "net/http/pprof"
	"strconv"
	"time"

	"go.uber.org/fx"
)

// Config is the profiling listener's part of the configuration.
type Config struct {
	// Address is the loopback host:port to serve /debug/pprof/ on; empty: off.
	Address string
}

// ErrNotLoopback is returned for an address whose host is not a loopback one.
var ErrNotLoopback = errors.New("must be a loopback address (127.0.0.1, ::1 or localhost): profiles expose the process's internals")

// CheckAddress returns nil for "" (off) and for host:port with a loopback host and a port from 0 to
// 65535. An empty host (":6060") means every interface and is refused, as is any host name but
// localhost, whose address could not be checked here.
func CheckAddress(addr string) error {
	if addr == "" {
		return nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("want host:port, got %q", addr)
	}
	if p, err := strconv.Atoi(port); err != nil || p < 0 || p > 65535 {
		return fmt.Errorf("bad port %q", port)
	}
	if host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("host %q %w", host, ErrNotLoopback)
}

// Module serves the profiles while the app runs, when Config.Address is set.
var Module = fx.Module("pprof",
	fx.Provide(NewServer),
	fx.Invoke(func(lc fx.Lifecycle, s *Server) {
		lc.Append(fx.Hook{OnStart: s.Start, OnStop: s.Stop})
	}),
	fx.Decorate(func(l *slog.Logger) *slog.Logger { return l.With("module", "pprof") }),
)

// Server is the profiling listener. Start and Stop are not safe for concurrent use with each other.
type Server struct {
	cfg Config
	log *slog.Logger
	srv *http.Server
	ln  net.Listener
}

// NewServer returns a stopped Server for cfg.
func NewServer(cfg Config, log *slog.Logger) *Server {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", httppprof.Index) // also serves heap, goroutine, allocs, block, mutex…
	mux.HandleFunc("/debug/pprof/cmdline", httppprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", httppprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", httppprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", httppprof.Trace)
	return &Server{
		cfg: cfg,
		log: log,
		// No WriteTimeout: a CPU profile or a trace answers only after the ?seconds= it was asked for.
		srv: &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, IdleTimeout: time.Minute},
	}
}

// Start listens on the configured address and serves in the background; with no address it does
// nothing. The address is checked again here, so that no caller can open the profiles to the network.
func (s *Server) Start(ctx context.Context) error {
	if s.cfg.Address == "" {
		return nil
	}
	if err := CheckAddress(s.cfg.Address); err != nil {
		return fmt.Errorf("pprof address: %w", err)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Address)
	if err != nil {
		return fmt.Errorf("pprof listen: %w", err)
	}
	s.ln = ln
	go func() {
		if err := s.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("pprof server stopped", "err", err)
		}
	}()
	s.log.InfoContext(ctx, "serving profiles", "address", ln.Addr().String(), "path", "/debug/pprof/")
	return nil
}

// Addr is the bound address, or "" before Start or when off.
func (s *Server) Addr() string {
	if s.ln == nil {
		return ""
	}
	return s.ln.Addr().String()
}

// Stop closes the listener and waits for running requests (a profile being taken, say) until ctx
// ends, then closes them.
func (s *Server) Stop(ctx context.Context) error {
	if s.ln == nil {
		return nil
	}
	if err := s.srv.Shutdown(ctx); err != nil {
		_ = s.srv.Close()
		return fmt.Errorf("pprof shutdown: %w", err)
	}
	return nil
}
