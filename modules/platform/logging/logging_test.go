package logging

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/fx/fxevent"
)

func TestTextFormat(t *testing.T) {
	var out bytes.Buffer
	log := New(Config{Level: "debug", Format: "text"}, &out)
	log.With("module", "web").Info("gophermart started", "address", "127.0.0.1:8080", "database", "sqlite /tmp/x.db")
	log.WithGroup("req").Warn("slow", "ms", 12)
	log.Debug("bare")
	ctx := WithRequestID(context.Background(), "req-42")
	log.ErrorContext(ctx, "request failed", "err", errors.New("boom"))

	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	require.Len(t, lines, 4, out.String())
	clock := `\d\d:\d\d:\d\d\.\d{3} `
	assert.Regexp(t, `^`+clock+`INFO  gophermart started  module=web address=127\.0\.0\.1:8080 database="sqlite /tmp/x\.db"$`, lines[0])
	assert.Regexp(t, `^`+clock+`WARN  slow  req\.ms=12$`, lines[1])
	assert.Regexp(t, `^`+clock+`DEBUG bare$`, lines[2])
	assert.Regexp(t, `^`+clock+`ERROR request failed  err=boom request_id=req-42$`, lines[3])
}

func TestJSONFormat(t *testing.T) {
	var out bytes.Buffer
	New(Config{Format: "json"}, &out).Info("hello", "n", 1)
	var rec map[string]any
	require.NoError(t, json.Unmarshal(out.Bytes(), &rec), out.String())
	assert.Equal(t, "hello", rec["msg"])
	assert.Equal(t, "INFO", rec["level"])
}

// auto is text on a terminal (a character device) and JSON on anything else: a pipe, a file, a buffer.
func TestAutoFormat(t *testing.T) {
	r, w, err := os.Pipe()
	require.NoError(t, err)
	t.Cleanup(func() { _ = r.Close(); _ = w.Close() })
	assert.False(t, IsTerminal(w), "a pipe")
	assert.False(t, IsTerminal(&bytes.Buffer{}))
	file, err := os.Create(t.TempDir() + "/log")
	require.NoError(t, err)
	t.Cleanup(func() { _ = file.Close() })
	assert.False(t, IsTerminal(file), "a file")
	null, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
	require.NoError(t, err)
	t.Cleanup(func() { _ = null.Close() })
	assert.True(t, IsTerminal(null), "a character device, as a TTY is")

	New(Config{Format: "auto"}, w).Info("hello")
	require.NoError(t, w.Close())
	line := make([]byte, 4096)
	n, _ := r.Read(line)
	assert.True(t, json.Valid(bytes.TrimSpace(line[:n])), "JSON into a pipe: %q", line[:n])
}

func TestParseFormat(t *testing.T) {
	for give, want := range map[string]string{"": FormatAuto, "auto": FormatAuto, "JSON": FormatJSON, " text ": FormatText} {
		got, ok := ParseFormat(give)
		assert.True(t, ok, give)
		assert.Equal(t, want, got, give)
	}
	_, ok := ParseFormat("yaml")
	assert.False(t, ok)
}

// A started application says when it begins to shut down and when it has stopped; one that never
// started (a one-shot command) or failed to start says neither.
func TestLifecycleLines(t *testing.T) {
	run := func(events ...fxevent.Event) []string {
		var out bytes.Buffer
		l := FxLogger(slog.New(slog.NewJSONHandler(&out, nil)))
		for _, e := range events {
			l.LogEvent(e)
		}
		var msgs []string
		for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			var rec struct{ Msg, Module string }
			if line != "" && json.Unmarshal([]byte(line), &rec) == nil && rec.Module != "fx" {
				msgs = append(msgs, rec.Msg)
			}
		}
		return msgs
	}
	stopHook := &fxevent.OnStopExecuting{FunctionName: "f", CallerName: "c"}
	assert.Equal(t, []string{"shutting down", "stopped"},
		run(&fxevent.Started{}, stopHook, stopHook, &fxevent.Stopped{}))
	assert.Equal(t, []string{"shutting down"},
		run(&fxevent.Started{}, stopHook, &fxevent.Stopped{Err: errors.New("deadline")}), "fx logs the failed stop itself")
	assert.Empty(t, run(stopHook, &fxevent.Stopped{}), "never started")
	assert.Empty(t, run(&fxevent.Started{Err: errors.New("bind")}, stopHook, &fxevent.Stopped{}), "failed to start")
}
