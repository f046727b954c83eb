package webtest

import (
	"net"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/require"
)

// Serve serves app on a free loopback port until the test ends and returns its base URL
// ("http://127.0.0.1:PORT"), for tests that need a real connection: streamed (chunked) bodies, or a
// client with its own http.Transport.
func Serve(tb testing.TB, app *fiber.App) string {
	tb.Helper()
	ln, err := (&net.ListenConfig{}).Listen(tb.Context(), "tcp", "127.0.0.1:0")
	require.NoError(tb, err)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = app.Listener(ln) // returns once Shutdown closes the listener
	}()
	tb.Cleanup(func() {
		_ = app.Shutdown()
		<-done
	})
	return "http://" + ln.Addr().String()
}
