package web

import (
	"bytes"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"
)

// Inflate decompresses a gzip request body itself, with a hard cap on the inflated size, and hands
// the plain body on. fiber's own c.Body() would inflate without any cap (a 4 KiB request can inflate to 1 GiB), so this must
// run before anything reads the body. Stacked or unknown encodings are refused with 415.
func Inflate(maxInflated int) fiber.Handler {
	return func(c *fiber.Ctx) error {
		enc := c.Request().Header.Peek(fiber.HeaderContentEncoding)
		if len(enc) == 0 { // most requests: nothing to inflate, nothing to remove
			return c.Next()
		}
		switch strings.ToLower(strings.TrimSpace(string(enc))) {
		case "", "identity":
			c.Request().Header.Del(fiber.HeaderContentEncoding)
			return c.Next()
		case "gzip", "x-gzip":
		default:
			return fiber.NewError(fiber.StatusUnsupportedMediaType, "unsupported Content-Encoding: only gzip is accepted")
		}
		zr, err := gzip.NewReader(bytes.NewReader(c.Request().Body()))
		if err != nil {
			return fiber.NewError(fiber.StatusBadRequest, "malformed gzip body")
		}
		defer func() { _ = zr.Close() }()
		zr.Multistream(false)
		out, err := io.ReadAll(io.LimitReader(zr, int64(maxInflated)+1))
		if len(out) > maxInflated {
			return fiber.NewError(fiber.StatusRequestEntityTooLarge, fmt.Sprintf("inflated body over %d bytes", maxInflated))
		}
		if err != nil {
			return fiber.NewError(fiber.StatusBadRequest, "malformed gzip body")
		}
		c.Request().Header.Del(fiber.HeaderContentEncoding)
		c.Request().SetBodyRaw(out)
		return c.Next()
	}
}

// Gzip compresses a response with gzip when the client accepts it. Only the list endpoints use it.
// It always sets Vary: Accept-Encoding, so a shared cache keeps the two forms apart. A whole body
// under 200 bytes is sent as is; a streamed one (SendList) is compressed as it is written.
func Gzip() fiber.Handler {
	cmp := compress.New(compress.Config{Level: compress.LevelBestSpeed})
	return func(c *fiber.Ctx) error {
		c.Vary(fiber.HeaderAcceptEncoding)
		// fiber would pick brotli or deflate when listed; the contract is gzip, so offer it nothing else.
		if acceptsGzip(c.Get(fiber.HeaderAcceptEncoding)) {
			c.Request().Header.Set(fiber.HeaderAcceptEncoding, "gzip")
		} else {
			c.Request().Header.Del(fiber.HeaderAcceptEncoding)
		}
		return cmp(c)
	}
}

// acceptsGzip reports whether an Accept-Encoding value lists gzip (or *) without q=0.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(part, ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "x-gzip" && coding != "*" {
			continue
		}
		q := strings.ReplaceAll(strings.ToLower(params), " ", "")
		if q == "q=0" || strings.HasPrefix(q, "q=0.0") && strings.Trim(strings.TrimPrefix(q, "q=0."), "0") == "" {
			return false
		}
		return true
	}
	return false
}

// Guard lets a request through only with a valid token, from `Authorization: Bearer` or the auth
// cookie; it stores the user id for UserID.
func Guard(auth Authenticator) fiber.Handler {
	return func(c *fiber.Ctx) error {
		token := ""
		if h := c.Get(fiber.HeaderAuthorization); h != "" {
			scheme, rest, ok := strings.Cut(h, " ")
			if !ok || !strings.EqualFold(scheme, "Bearer") {
				return fiber.NewError(fiber.StatusUnauthorized, "malformed Authorization header: want Bearer <token>")
			}
			token = strings.TrimSpace(rest)
		} else {
			token = c.Cookies(CookieName)
		}
		if token == "" {
			return fiber.NewError(fiber.StatusUnauthorized, "authentication required")
		}
		uid, err := auth.Authenticate(c.UserContext(), token)
		switch {
		case errors.Is(err, ErrAuthUnavailable):
			return err
		case err != nil:
			return fiber.NewError(fiber.StatusUnauthorized, "invalid or expired token")
		}
		c.Locals(userIDKey{}, uid)
		return c.Next()
	}
}

// CookieName is the cookie that carries the JWT.
const CookieName = "gophermart_token"

type userIDKey struct{}

// UserID returns the id of the authenticated caller; "" outside the guard.
func UserID(c *fiber.Ctx) string {
	id, _ := c.Locals(userIDKey{}).(string)
	return id
}
