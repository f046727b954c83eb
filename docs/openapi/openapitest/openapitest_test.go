package openapitest

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const spec = `openapi: 3.0.3
info: {title: t, version: '1'}
security:
  - bearerAuth: []
paths:
  /items/{id}:
    get:
      parameters:
        - {name: id, in: path, required: true, schema: {type: string, pattern: '^[0-9]+$'}}
      responses:
        '200':
          description: the item
          headers:
            X-Kind: {required: true, schema: {type: string, enum: [item]}}
          content:
            application/json:
              schema:
                type: object
                additionalProperties: false
                required: [id, price]
                properties:
                  id: {type: string}
                  price: {type: number, minimum: 0, multipleOf: 0.01}
        '204':
          description: no such item
  /ping:
    post:
      security: []
      responses:
        '202':
          description: accepted
components:
  securitySchemes:
    bearerAuth: {type: http, scheme: bearer}
`

// recorder stands in for a test to catch the failures the Checker reports.
type recorder struct {
	testing.TB
	errors []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

func (r *recorder) FailNow() { panic(r) }

// run calls f with a recorder and returns what it reported.
func run(t *testing.T, f func(r *recorder)) (errs []string) {
	t.Helper()
	r := &recorder{TB: t}
	defer func() {
		if p := recover(); p != nil && p != r {
			panic(p)
		}
		errs = r.errors
	}()
	f(r)
	return r.errors
}

// app answers GET /items/:id and POST /ping as the case says, whatever the document says.
func app(answer func(c *fiber.Ctx) error) *fiber.App {
	a := fiber.New()
	a.Get("/items/:id", answer)
	a.Post("/ping", answer)
	return a
}

func TestCheckerCatchesEveryKindOfDrift(t *testing.T) {
	good := func(c *fiber.Ctx) error {
		c.Set("X-Kind", "item")
		return c.JSON(fiber.Map{"id": c.Params("id"), "price": 729.98})
	}
	tests := []struct {
		name    string
		answer  func(c *fiber.Ctx) error
		valid   bool // DoValid instead of Do
		noAuth  bool
		method  string
		path    string
		wantErr string // "" if the exchange matches the document
	}{
		{name: "a documented answer", answer: good, valid: true},
		{name: "an undocumented status", answer: func(c *fiber.Ctx) error {
			return c.Status(http.StatusConflict).JSON(fiber.Map{"id": "1", "price": 1})
		}, wantErr: "status is not supported"},
		{name: "an undocumented field", answer: func(c *fiber.Ctx) error {
			c.Set("X-Kind", "item")
			return c.JSON(fiber.Map{"id": "1", "price": 1, "extra": true})
		}, wantErr: "extra"},
		{name: "a missing field", answer: func(c *fiber.Ctx) error {
			c.Set("X-Kind", "item")
			return c.JSON(fiber.Map{"id": "1"})
		}, wantErr: "price"},
		{name: "more than two decimals", answer: func(c *fiber.Ctx) error {
			c.Set("X-Kind", "item")
			return c.JSON(fiber.Map{"id": "1", "price": 729.999})
		}, wantErr: "multiple of 0.01"},
		{name: "a missing required header", answer: func(c *fiber.Ctx) error {
			return c.JSON(fiber.Map{"id": "1", "price": 1})
		}, wantErr: `"X-Kind" missing`},
		{name: "another content type", answer: func(c *fiber.Ctx) error {
			c.Set("X-Kind", "item")
			return c.SendString(`{"id":"1","price":1}`)
		}, wantErr: "Content-Type has unexpected value"},
		{name: "an answer documented without a body", method: http.MethodPost, path: "/ping", answer: func(c *fiber.Ctx) error {
			return c.SendStatus(http.StatusAccepted)
		}, wantErr: "has a body the document does not describe"}, // SendStatus writes the status text
		{
			name: "a request without the credentials it needs", answer: good, valid: true, noAuth: true,
			wantErr: "security requirement",
		},
		{
			name: "a request the document does not allow", answer: good, valid: true, path: "/items/abc",
			wantErr: "pattern",
		},
		{name: "a path the document does not have", answer: good, path: "/nowhere", wantErr: "not an operation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, a := New(t, []byte(spec)), app(tt.answer)
			method, path := http.MethodGet, "/items/12"
			if tt.method != "" {
				method = tt.method
			}
			if tt.path != "" {
				path = tt.path
			}
			errs := run(t, func(r *recorder) {
				req := httptest.NewRequest(method, path, nil)
				if !tt.noAuth {
					req.Header.Set("Authorization", "Bearer x.y.z")
				}
				if tt.valid {
					c.DoValid(r, a, req)
				} else {
					c.Do(r, a, req)
				}
			})
			if tt.wantErr == "" {
				assert.Empty(t, errs)
				return
			}
			require.NotEmpty(t, errs, "the drift must be caught")
			assert.Contains(t, strings.Join(errs, "\n"), tt.wantErr)
		})
	}
}

func TestMountedUnderAPrefix(t *testing.T) {
	a := fiber.New()
	a.Get("/mounted/items/:id", func(c *fiber.Ctx) error { return c.SendStatus(http.StatusNoContent) })
	c := NewAt(t, []byte(spec), "/mounted")
	assert.Empty(t, run(t, func(r *recorder) { c.Do(r, a, httptest.NewRequest(http.MethodGet, "/mounted/items/1", nil)) }))
	errs := run(t, func(r *recorder) { c.Do(r, a, httptest.NewRequest(http.MethodGet, "/items/1", nil)) })
	assert.Contains(t, strings.Join(errs, "\n"), "not under /mounted")
}

func TestRoutesAndOperations(t *testing.T) {
	a := app(func(c *fiber.Ctx) error { return c.SendStatus(http.StatusNoContent) })
	a.Use(func(c *fiber.Ctx) error { return c.Next() })
	a.Group("/g", func(c *fiber.Ctx) error { return c.Next() })
	routes := Routes(t, a)
	assert.Equal(t, []string{"GET /items/{id}", "POST /ping"}, routes, "HEAD and middleware entries are left out")

	c := New(t, []byte(spec))
	assert.Equal(t, routes, c.Operations())
	assert.Empty(t, run(t, func(r *recorder) { AssertSameRoutes(r, c.Operations(), routes) }))

	a.Delete("/items/:id", func(*fiber.Ctx) error { return nil })
	errs := run(t, func(r *recorder) { AssertSameRoutes(r, c.Operations(), Routes(r, a)) })
	assert.Contains(t, strings.Join(errs, "\n"), "route DELETE /items/{id} is registered but not documented")

	errs = run(t, func(r *recorder) { AssertSameRoutes(r, c.Operations(), []string{"GET /items/{id}"}) })
	assert.Contains(t, strings.Join(errs, "\n"), "operation POST /ping is documented but not registered")

	a.Get("/files/*", func(*fiber.Ctx) error { return nil })
	errs = run(t, func(r *recorder) { Routes(r, a) })
	assert.Contains(t, strings.Join(errs, "\n"), "cannot be documented")
}

func TestAssertAllExercised(t *testing.T) {
	c := New(t, []byte(spec))
	a := app(func(c *fiber.Ctx) error { return c.SendStatus(http.StatusNoContent) })
	c.Do(t, a, httptest.NewRequest(http.MethodGet, "/items/1", nil))
	errs := run(t, func(r *recorder) { c.AssertAllExercised(r) })
	assert.Contains(t, strings.Join(errs, "\n"), "operation POST /ping was never exercised")
	assert.Empty(t, run(t, func(r *recorder) { c.AssertAllExercised(r, "POST /ping") }))
}
