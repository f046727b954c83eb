package logging

import (
	"log/slog"
	"sync"
	"time"

	"go.uber.org/fx/fxevent"
)

// lifecycleLogger passes every fx event on, and tells a person, at info level, when an application
// that started begins to shut down and when it has stopped cleanly (fx itself logs a failed stop at
// error level). One-shot commands, which never start their application, log neither line.
type lifecycleLogger struct {
	fxevent.Logger
	log *slog.Logger

	mu       sync.Mutex
	started  bool      // Start succeeded and Stop has not finished
	stopping time.Time // when the first stop hook ran; zero before
}

func (l *lifecycleLogger) LogEvent(e fxevent.Event) {
	l.mu.Lock()
	switch e := e.(type) {
	case *fxevent.Started:
		l.started = e.Err == nil
	case *fxevent.OnStopExecuting:
		if l.started && l.stopping.IsZero() {
			l.stopping = time.Now()
			l.log.Info("shutting down")
		}
	case *fxevent.Stopped:
		if l.started && e.Err == nil {
			took := time.Duration(0)
			if !l.stopping.IsZero() {
				took = time.Since(l.stopping).Round(time.Millisecond)
			}
			l.log.Info("stopped", "duration", took.String())
		}
		l.started, l.stopping = false, time.Time{}
	}
	l.mu.Unlock()
	l.Logger.LogEvent(e)
}
