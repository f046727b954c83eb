package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/gofiber/fiber/v2"
)

// serveCeiling is the load generator's second mode (-serve-ceiling ADDR): a bare fiber v2 app whose
// one handler answers GET / with "ok", run as its own process like the real servers. It returns when
// it gets SIGTERM or SIGINT.
func serveCeiling(addr string) error {
	app := fiber.New(fiber.Config{DisableStartupMessage: true})
	app.Get("/", func(c *fiber.Ctx) error { return c.SendString("ok") })
	return serveUntilSignal(app, addr)
}

// serveUntilSignal serves app on addr until the process gets SIGTERM or SIGINT, then shuts it down.
func serveUntilSignal(app *fiber.App, addr string) error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(sig)
	var lc net.ListenConfig
	ln, err := lc.Listen(context.Background(), "tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	served := make(chan error, 1)
	go func() { served <- app.Listener(ln) }()
	select {
	case <-sig:
	case err := <-served:
		return fmt.Errorf("serve: %w", err)
	}
	if err := app.ShutdownWithTimeout(5 * time.Second); err != nil && !errors.Is(err, net.ErrClosed) {
		return fmt.Errorf("shutdown: %w", err)
	}
	return nil
}
