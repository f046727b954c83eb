package web

import (
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"
)

// Inflate decompresses a gzip request body itself, with a hard cap on the inflated size, and hands
// the plain body on. fiber's own c.Body() would inflate without any cap (PITFALLS.md §1), so this must
// run before anything reads the body. Stacked or unknown encodings are refused with 415.
func Inflate(maxInflated int) fiber.Handler {
	return func(c *fiber.Ctx) error {
		switch strings.ToLower(strings.TrimSpace(c.Get(fiber.HeaderContentEncoding))) {
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
		uid, err := auth.Authenticate(token)
		if err != nil {
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

// DecodeJSON reads the body strictly into v: one JSON value, no unknown fields, right types. Any
// Content-Type is accepted (curl -d sends form-urlencoded). Failures are 400 problems that say why.
func DecodeJSON(c *fiber.Ctx, v any) error {
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return fiber.NewError(fiber.StatusBadRequest, "empty body: a JSON object is required")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		if msg, ok := describeJSONError(err); ok {
			return fiber.NewError(fiber.StatusBadRequest, msg)
		}
		return err // a field's own UnmarshalJSON refused its value: the caller's error table maps it
	}
	if dec.More() {
		return fiber.NewError(fiber.StatusBadRequest, "malformed JSON body: trailing data after the object")
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return fiber.NewError(fiber.StatusBadRequest, "malformed JSON body: trailing data after the object")
	}
	return nil
}

func describeJSONError(err error) (string, bool) {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return fmt.Sprintf("malformed JSON body at byte %d", se.Offset), true
	case errors.As(err, &te):
		if te.Field != "" {
			return fmt.Sprintf("field %q must be a JSON %s", te.Field, jsonKind(te.Type.Kind().String())), true
		}
		return "the body must be a JSON object", true
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		return "unknown field " + strings.TrimPrefix(err.Error(), "json: unknown field "), true
	case errors.Is(err, io.ErrUnexpectedEOF), errors.Is(err, io.EOF):
		return "malformed JSON body: unexpected end", true
	case strings.HasPrefix(err.Error(), "json: "), strings.HasPrefix(err.Error(), "invalid character"):
		return "malformed JSON body", true
	}
	return "", false
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "string"
	case "int", "int64", "float64":
		return "number"
	case "bool":
		return "boolean"
	}
	return "value of the right type"
}
