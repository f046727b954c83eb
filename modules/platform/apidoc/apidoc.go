// Package apidoc serves a service's OpenAPI document: the YAML itself at GET /openapi.yaml and, at
// GET /docs, a human-readable HTML page rendered on the server from it (no script, no CDN: the page
// works offline). The document is parsed and validated once, when the routes are built, so a broken
// document fails startup instead of a request.
package apidoc

import (
	"bytes"
	"context"
	"errors"
	"fmt"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gofiber/fiber/v2"

	"github.com/gophermart/gophermart/modules/platform/web"
)

// The paths the document is served at.
const (
	SpecPath = "/openapi.yaml"
	DocsPath = "/docs"
)

// The content types of the two answers.
const (
	SpecContentType = "application/yaml"
	DocsContentType = fiber.MIMETextHTMLCharsetUTF8
)

// docsCSP lets the page use its inline style sheet and nothing else: it has no script, no image and
// no form.
const docsCSP = "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// ErrInvalid wraps every reason Load refuses a document.
var ErrInvalid = errors.New("invalid OpenAPI document")

// Load parses spec (YAML or JSON) and validates it as an OpenAPI 3 document, examples included.
// References must be local to the document.
func Load(spec []byte) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	loader.IncludeOrigin = true // Render lists paths and properties in document order
	doc, err := loader.LoadFromData(spec)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return doc, nil
}

// Routes validates spec and returns the public routes GET /openapi.yaml (the document as given)
// and GET /docs (the page rendered from it, once, here). An invalid document is an error, so that
// the service refuses to start with one.
func Routes(spec []byte) (web.Routes, error) {
	doc, err := Load(spec)
	if err != nil {
		return web.Routes{}, err
	}
	var page bytes.Buffer
	if err := Render(&page, doc); err != nil {
		return web.Routes{}, err
	}
	yaml := bytes.Clone(spec)
	html := page.Bytes()
	return web.Routes{
		Public: func(r fiber.Router) {
			r.Get(SpecPath, func(c *fiber.Ctx) error {
				c.Set(fiber.HeaderContentType, SpecContentType)
				return c.Send(yaml)
			})
			r.Get(DocsPath, func(c *fiber.Ctx) error {
				c.Set(fiber.HeaderContentType, DocsContentType)
				c.Set(fiber.HeaderContentSecurityPolicy, docsCSP)
				c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
				return c.Send(html)
			})
		},
	}, nil
}
