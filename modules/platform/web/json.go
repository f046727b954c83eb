package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"

	"github.com/gofiber/fiber/v2"
)

// maxJSONDepth bounds how deeply objects and arrays may nest in a request body. The deepest body
// the services read is three levels ({"goods":[{…}]}).
const maxJSONDepth = 32

// strictError is a body that is valid JSON but breaks a rule of Unmarshal; its text is the
// client-facing reason.
type strictError struct{ reason string }

func (e *strictError) Error() string { return e.reason }

// DecodeJSON reads the body strictly into v (see Unmarshal). Any Content-Type is accepted (curl -d
// sends form-urlencoded). Failures are 400 problems that say why, except an error from a field's own
// UnmarshalJSON, which is returned as is for the caller's error table to map.
func DecodeJSON(c *fiber.Ctx, v any) error {
	body := c.Body()
	if len(bytes.TrimSpace(body)) == 0 {
		return fiber.NewError(fiber.StatusBadRequest, "empty body: a JSON object is required")
	}
	if err := Unmarshal(body, v); err != nil {
		if msg, ok := describeJSONError(err); ok {
			return fiber.NewError(fiber.StatusBadRequest, msg)
		}
		return err
	}
	return nil
}

// Unmarshal decodes data into v strictly: exactly one JSON value with nothing after it, no object
// naming a key twice, nesting at most 32 deep, no field that v does not have, every value of its
// field's type. encoding/json alone lets the last of two equal keys win ({"sum":1,"sum":999999} is
// 999999), and it matches keys to fields ignoring case, so two keys that differ only in case count
// as the same key here too.
func Unmarshal(data []byte, v any) error {
	if err := checkStrict(data); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	return dec.Decode(v) // checkStrict has made sure nothing follows the value
}

// frame is one object or array being walked by checkStrict.
type frame struct {
	keys    map[string]struct{} // folded keys seen so far; nil for an array
	wantKey bool                // an object's next token is a key
}

// checkStrict walks data token by token and reports the first breach of Unmarshal's rules that
// encoding/json would let through: trailing data, a repeated key, nesting too deep. A syntax error
// comes back as encoding/json reports it.
func checkStrict(data []byte) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber() // numbers are not converted, so none can fail here
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return io.ErrUnexpectedEOF // EOF before the value was complete (an empty body)
			}
			return err
		}
		done := false
		switch d, _ := tok.(json.Delim); {
		case d == '}' || d == ']':
			stack = stack[:len(stack)-1]
			done = len(stack) == 0
		case len(stack) > 0 && stack[len(stack)-1].wantKey:
			top := &stack[len(stack)-1]
			key, _ := tok.(string)
			folded := foldKey(key)
			if _, dup := top.keys[folded]; dup {
				return &strictError{reason: "duplicate field " + strconv.Quote(key)}
			}
			top.keys[folded] = struct{}{}
			top.wantKey = false
			continue
		case d == '{' || d == '[':
			if len(stack) == maxJSONDepth {
				return &strictError{reason: fmt.Sprintf("malformed JSON body: nested deeper than %d levels", maxJSONDepth)}
			}
			f := frame{}
			if d == '{' {
				f = frame{keys: map[string]struct{}{}, wantKey: true}
			}
			stack = append(stack, f)
			continue
		default: // a scalar
			done = len(stack) == 0
		}
		if done {
			break
		}
		if top := &stack[len(stack)-1]; top.keys != nil {
			top.wantKey = true // the value of a key is complete: a key or '}' follows
		}
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return &strictError{reason: "malformed JSON body: trailing data after the object"}
	}
	return nil
}

// foldKey maps a key to the form encoding/json compares field names in (bytes.EqualFold: simple
// Unicode case folding): each rune becomes the smallest rune of its folding orbit, so "login",
// "LOGIN" and "Login", and even "ſum" and "sum" or the Kelvin sign and "k", give one key.
func foldKey(key string) string {
	var b strings.Builder
	b.Grow(len(key))
	for _, r := range key {
		least := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			least = min(least, f)
		}
		b.WriteRune(least)
	}
	return b.String()
}

func describeJSONError(err error) (string, bool) {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	var strict *strictError
	switch {
	case errors.As(err, &strict):
		return strict.reason, true
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

// SendRawJSON answers with body, a JSON value the caller encoded itself, as c.JSON would send it:
// status unchanged (200 by default), Content-Type application/json. body is copied into the
// response, so the caller may reuse it (a stack array, a pooled buffer).
func SendRawJSON(c *fiber.Ctx, body []byte) error {
	c.Response().SetBody(body)
	c.Response().Header.SetContentType(fiber.MIMEApplicationJSON)
	return nil
}

// AppendString appends s as a JSON string, byte for byte what json.Marshal writes for it. Text of
// plain printable ASCII that json.Marshal leaves as is (no quote, backslash or HTML-sensitive <, >,
// &) is copied directly; anything else goes through json.Marshal itself.
func AppendString(dst []byte, s string) []byte {
	for i := range len(s) {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			b, _ := json.Marshal(s) // a string always encodes
			return append(dst, b...)
		}
	}
	dst = append(dst, '"')
	dst = append(dst, s...)
	return append(dst, '"')
}
