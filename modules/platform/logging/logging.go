// Package logging provides the service's structured logger: log/slog on stderr, as lines for a
// person when stderr is a terminal and as JSON otherwise, with the request id of the current request
// copied into every record logged with a context.
package logging

import (
	"context"
	"io"
	"log/slog"
	"os"
	"strings"

	"go.uber.org/fx"
	"go.uber.org/fx/fxevent"
)

// Config selects the log level and format.
type Config struct {
	// Level is debug, info, warn or error.
	Level string `mapstructure:"level"`
	// Format is auto (text on a terminal, JSON otherwise), json or text.
	Format string `mapstructure:"format"`
}

// The log formats.
const (
	FormatAuto = "auto" // text when the output is a terminal, JSON otherwise
	FormatJSON = "json" // one JSON object per line, for machines
	FormatText = "text" // time, level and message, then key=value attributes, for a person
)

// Module provides *slog.Logger, writing to stderr: standard output stays for what a command
// prints as its result (migrate status, resync counts, ledger check).
var Module = fx.Module("logging",
	fx.Provide(func(cfg Config) *slog.Logger { return New(cfg, os.Stderr) }),
)

// FxLogger sends fx's lifecycle events to the logger at debug level, and says at info level when a
// started application begins to shut down and when it has stopped; pass it to fx.WithLogger.
func FxLogger(l *slog.Logger) fxevent.Logger {
	fl := &fxevent.SlogLogger{Logger: l.With("module", "fx")}
	fl.UseLogLevel(slog.LevelDebug)
	fl.UseErrorLevel(slog.LevelDebug) // the program reports a failure itself, once
	return &lifecycleLogger{Logger: fl, log: l}
}

// ParseFormat tells whether s names a log format; empty is auto.
func ParseFormat(s string) (string, bool) {
	switch f := strings.ToLower(strings.TrimSpace(s)); f {
	case "", FormatAuto:
		return FormatAuto, true
	case FormatJSON, FormatText:
		return f, true
	}
	return FormatAuto, false
}

// IsTerminal tells whether w is a terminal: a character device, as a TTY is (so is /dev/null, where
// the format does not matter). Pipes, files and sockets are not.
func IsTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// ParseLevel turns a level name into a slog.Level; unknown names are info.
func ParseLevel(s string) (slog.Level, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "debug":
		return slog.LevelDebug, true
	case "", "info":
		return slog.LevelInfo, true
	case "warn", "warning":
		return slog.LevelWarn, true
	case "error":
		return slog.LevelError, true
	}
	return slog.LevelInfo, false
}

// New builds a logger writing to w in cfg's format; auto (or an unknown name) is text when w is a
// terminal and JSON otherwise.
func New(cfg Config, w io.Writer) *slog.Logger {
	lvl, _ := ParseLevel(cfg.Level)
	opts := &slog.HandlerOptions{Level: lvl}
	format, _ := ParseFormat(cfg.Format)
	if format == FormatAuto {
		format = FormatJSON
		if IsTerminal(w) {
			format = FormatText
		}
	}
	var h slog.Handler
	if format == FormatText {
		h = newTextHandler(w, opts)
	} else {
		h = slog.NewJSONHandler(w, opts)
	}
	return slog.New(contextHandler{h})
}

type requestIDKey struct{}

// WithRequestID returns ctx carrying the request id; records logged with it get a request_id attribute.
func WithRequestID(ctx context.Context, id string) context.Context {
	return context.WithValue(ctx, requestIDKey{}, id)
}

// RequestID returns the request id carried by ctx, or "".
func RequestID(ctx context.Context) string {
	id, _ := ctx.Value(requestIDKey{}).(string)
	return id
}

// contextHandler copies the request id from the record's context into the record.
type contextHandler struct{ slog.Handler }

func (h contextHandler) Handle(ctx context.Context, r slog.Record) error {
	if id := RequestID(ctx); id != "" {
		r.AddAttrs(slog.String("request_id", id))
	}
	return h.Handler.Handle(ctx, r)
}

func (h contextHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return contextHandler{h.Handler.WithAttrs(as)}
}

func (h contextHandler) WithGroup(name string) slog.Handler {
	return contextHandler{h.Handler.WithGroup(name)}
}
