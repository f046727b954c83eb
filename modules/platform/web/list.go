package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"

	"github.com/gofiber/fiber/v2"
)

// NextChunk returns the next chunk of a list, in the order the list is answered, and whether another
// chunk may follow. It must be safe to call after the handler returned (it may not use the
// fiber.Ctx): SendList calls it again while the body is being written, with a context of its own.
type NextChunk[T any] func(ctx context.Context) (items []T, more bool, err error)

// errStreamAborted ends a list body that could not be finished: its chunk failed after the status
// line had been sent. The failure itself is logged.
var errStreamAborted = errors.New("list body aborted: a chunk failed after the answer started")

// SendList answers a whole list as a JSON array of its items, each encoded as encoding/json would
// (so the body is byte for byte json.Marshal of the whole list), while holding only one chunk in
// memory however long the list is. The first chunk is read here, in the handler, so an error there
// is answered by the error handler (a 500 problem) and an empty list is 204 without a body. A list
// that fits in that chunk is sent as is, with a Content-Length. A longer one is streamed: the body
// is written chunk by chunk (HTTP/1.1 chunked transfer), each chunk read with next only when the
// previous one has been written out, under a context that keeps the request's values and deadline
// but outlives the handler. The Gzip middleware compresses such a body as it streams.
//
// A chunk that fails (or panics) once streaming has begun cannot change the status any more: the
// failure is logged on log and the body ends early without its closing bracket, so it is never a
// valid JSON array a client could mistake for the whole list; without compression the connection is
// also closed before the end of the chunked body, which clients see as a truncated response.
func SendList[T any](c *fiber.Ctx, log *slog.Logger, next NextChunk[T]) error {
	items, more, err := next(c.UserContext())
	for err == nil && len(items) == 0 && more {
		items, more, err = next(c.UserContext())
	}
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return c.SendStatus(fiber.StatusNoContent)
	}
	bp := getBuf()
	s := &listStream[T]{next: next, log: log, buf: append(*bp, '[')}
	if err := s.encode(items); err != nil {
		putBuf(bp, s.buf)
		return err
	}
	c.Set(fiber.HeaderContentType, fiber.MIMEApplicationJSON)
	if !more {
		s.buf = append(s.buf, ']')
		c.Response().SetBody(s.buf) // copied into fasthttp's own pooled body buffer
		putBuf(bp, s.buf)
		return nil
	}
	// The stream keeps the buffer to the end and leaves it to the garbage collector: Close may run
	// on another goroutine than Read, so handing it back there could race with a Read.
	s.ctx, s.cancel = detach(c.UserContext())
	c.Response().SetBodyStream(s, -1) // -1: length unknown, so chunked
	return nil
}

// JSONAppender is a value that appends its own JSON encoding to a buffer, byte for byte what
// json.Marshal writes for it, without reflection. SendList uses it for list items that have it.
type JSONAppender interface {
	AppendJSON(dst []byte) []byte
}

// bufPool holds the buffers lists are encoded in (*[]byte). A buffer that grew past maxPooledBuf
// (a chunk far larger than a usual list) is left to the garbage collector rather than kept.
var bufPool sync.Pool

const (
	newBufSize   = 8 << 10 // a list of 50 orders is about 6 KB
	maxPooledBuf = 256 << 10
)

// getBuf returns a pooled buffer, empty.
func getBuf() *[]byte {
	if p, ok := bufPool.Get().(*[]byte); ok {
		*p = (*p)[:0]
		return p
	}
	b := make([]byte, 0, newBufSize)
	return &b
}

// putBuf hands p back to the pool holding b, the buffer as it grew; nothing may use b afterwards.
func putBuf(p *[]byte, b []byte) {
	if cap(b) > maxPooledBuf {
		return
	}
	*p = b
	bufPool.Put(p)
}

// detach returns a context with parent's values and deadline (or the default write timeout when it
// has none) that the end of the request does not cancel.
func detach(parent context.Context) (context.Context, context.CancelFunc) {
	ctx := context.WithoutCancel(parent)
	if d, ok := parent.Deadline(); ok {
		return context.WithDeadline(ctx, d)
	}
	return context.WithTimeout(ctx, DefaultConfig().WriteTimeout)
}

// listStream is the body of a streamed list: an io.Reader that fasthttp (or, when compressing, the
// gzip writer's goroutine) reads after the handler returned. It reads the next chunk only when the
// previous one has been read out of buf, so it holds at most one chunk's JSON. Read is called by one
// goroutine at a time; Close may come from another.
type listStream[T any] struct {
	ctx    context.Context
	cancel context.CancelFunc
	next   NextChunk[T]
	log    *slog.Logger

	buf   []byte // JSON not read yet: buf[off:]
	off   int
	wrote bool  // an item was written: the next one needs a comma
	done  bool  // the closing bracket is in buf
	err   error // the stream failed: every later Read returns it

	closeOnce sync.Once
}

// encode appends items to buf, each as json.Marshal writes it, separated by commas: by the item's
// own AppendJSON when it has one, else by json.Marshal.
func (s *listStream[T]) encode(items []T) error {
	for i := range items {
		if s.wrote {
			s.buf = append(s.buf, ',')
		}
		if a, ok := any(&items[i]).(JSONAppender); ok {
			s.buf = a.AppendJSON(s.buf)
		} else {
			b, err := json.Marshal(&items[i])
			if err != nil {
				return fmt.Errorf("encode list item: %w", err)
			}
			s.buf = append(s.buf, b...)
		}
		s.wrote = true
	}
	return nil
}

// Read implements io.Reader.
func (s *listStream[T]) Read(p []byte) (int, error) {
	for s.off == len(s.buf) {
		switch {
		case s.err != nil:
			return 0, s.err
		case s.done:
			return 0, io.EOF
		}
		s.buf, s.off = s.buf[:0], 0
		items, more, err := s.nextChunk()
		if err == nil {
			err = s.encode(items)
		}
		if err != nil {
			s.log.ErrorContext(s.ctx, "list body aborted", "err", err)
			s.buf = s.buf[:0] // never send a partly encoded item
			s.err = errStreamAborted
			return 0, s.err
		}
		if !more {
			s.buf = append(s.buf, ']')
			s.done = true
		}
	}
	n := copy(p, s.buf[s.off:])
	s.off += n
	return n, nil
}

// nextChunk calls next, turning a panic into an error: when compressing, Read runs on fasthttp's
// gzip goroutine, where neither the recover middleware nor fasthttp would catch it.
func (s *listStream[T]) nextChunk() (items []T, more bool, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("list chunk panicked: %v", r)
		}
	}()
	return s.next(s.ctx)
}

// Close implements io.Closer: fasthttp calls it once the body is written, or abandoned.
func (s *listStream[T]) Close() error {
	s.closeOnce.Do(s.cancel)
	return nil
}
