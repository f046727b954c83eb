package logging

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"sync"
)

// textHandler writes one line per record for a person: local time, level and message first, then
// the attributes in slog's key=value text form, e.g.
//
//	14:03:07.412 INFO  gophermart started  address=127.0.0.1:8080 docs=http://127.0.0.1:8080/docs
//
// The attributes are formatted by an slog.TextHandler (so groups, quoting and WithAttrs behave as
// slog's own) that writes into a buffer shared, under one lock, by every handler derived from it.
type textHandler struct {
	out   io.Writer
	mu    *sync.Mutex
	buf   *bytes.Buffer // what attrs wrote for the record being handled; guarded by mu
	attrs slog.Handler  // an slog.TextHandler writing to buf, without time, level and message
}

func newTextHandler(w io.Writer, opts *slog.HandlerOptions) *textHandler {
	buf := &bytes.Buffer{}
	inner := *opts
	inner.ReplaceAttr = func(groups []string, a slog.Attr) slog.Attr {
		if len(groups) == 0 && (a.Key == slog.TimeKey || a.Key == slog.LevelKey || a.Key == slog.MessageKey) {
			return slog.Attr{} // written by Handle itself
		}
		if opts.ReplaceAttr != nil {
			return opts.ReplaceAttr(groups, a)
		}
		return a
	}
	return &textHandler{out: w, mu: &sync.Mutex{}, buf: buf, attrs: slog.NewTextHandler(buf, &inner)}
}

func (h *textHandler) Enabled(ctx context.Context, l slog.Level) bool { return h.attrs.Enabled(ctx, l) }

func (h *textHandler) Handle(ctx context.Context, r slog.Record) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.buf.Reset()
	if err := h.attrs.Handle(ctx, r); err != nil {
		return err
	}
	attrs := bytes.TrimRight(h.buf.Bytes(), "\n")
	line := make([]byte, 0, 64+len(r.Message)+len(attrs))
	if !r.Time.IsZero() {
		line = r.Time.Local().AppendFormat(line, "15:04:05.000")
		line = append(line, ' ')
	}
	level := r.Level.String()
	line = append(line, level...)
	for i := len(level); i < len("ERROR"); i++ {
		line = append(line, ' ')
	}
	line = append(line, ' ')
	line = append(line, r.Message...)
	if len(attrs) > 0 {
		line = append(line, "  "...)
		line = append(line, attrs...)
	}
	line = append(line, '\n')
	_, err := h.out.Write(line)
	return err
}

func (h *textHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return &textHandler{out: h.out, mu: h.mu, buf: h.buf, attrs: h.attrs.WithAttrs(as)}
}

func (h *textHandler) WithGroup(name string) slog.Handler {
	return &textHandler{out: h.out, mu: h.mu, buf: h.buf, attrs: h.attrs.WithGroup(name)}
}
