// Package apidoc serves a service's OpenAPI document: the YAML itself at GET /openapi.yaml (as text,
// so that a browser shows it instead of downloading it) and, at GET /docs, an interactive page where
// Swagger UI renders the document and sends any operation to this same server ("Try it out"). The
// page's scripts and styles are embedded in the binary and served under /docs/assets/, so it needs
// no CDN and works offline. GET / leads to /docs. The document is parsed and validated once, when
// the routes are built, so a broken document fails startup instead of a request.
package apidoc

import (
	"bytes"
	"context"
	_ "embed"
	"errors"
	"fmt"
	"html/template"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/gofiber/fiber/v2"

	"github.com/gophermart/gophermart/modules/platform/web"
)

// The paths the routes answer at.
const (
	RootPath   = "/"
	SpecPath   = "/openapi.yaml"
	DocsPath   = "/docs"
	AssetsPath = "/docs/assets/" // followed by a file name
)

// The content types of the document and the page. The document is text/yaml: browsers display
// text/* types, while they download application/yaml whatever Content-Disposition says.
const (
	SpecContentType = "text/yaml; charset=utf-8"
	DocsContentType = fiber.MIMETextHTMLCharsetUTF8
)

// docsCSP lets the page run and style itself only from this server's own files, fetch only from
// this server (the document, and the requests "Try it out" sends), and show images only from there
// or from data: URLs (Swagger UI's icons). No inline script, no CDN, no frame around the page.
const docsCSP = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// ErrInvalid wraps every reason Load refuses a document.
var ErrInvalid = errors.New("invalid OpenAPI document")

// Load parses spec (YAML or JSON) and validates it as an OpenAPI 3 document, examples included.
// References must be local to the document.
func Load(spec []byte) (*openapi3.T, error) {
	loader := openapi3.NewLoader()
	loader.IsExternalRefsAllowed = false
	doc, err := loader.LoadFromData(spec)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	return doc, nil
}

//go:embed page.html
var pageHTML string

var pageTemplate = template.Must(template.New("page").Parse(pageHTML))

// Routes validates spec and returns the public routes GET / (a redirect to /docs), GET
// /openapi.yaml (the document as given), GET /docs (the page) and GET /docs/assets/{file} (the
// page's scripts and styles). An invalid document is an error, so that the service refuses to
// start with one.
func Routes(spec []byte) (web.Routes, error) {
	doc, err := Load(spec)
	if err != nil {
		return web.Routes{}, err
	}
	files := assets()
	var page bytes.Buffer
	err = pageTemplate.Execute(&page, map[string]string{
		"Title":  doc.Info.Title,
		"Spec":   SpecPath,
		"CSS":    files[uiCSS].url(uiCSS),
		"Bundle": files[uiBundle].url(uiBundle),
		"Init":   files[initJS].url(initJS),
	})
	if err != nil {
		return web.Routes{}, fmt.Errorf("render the docs page: %w", err)
	}
	yaml := bytes.Clone(spec)
	html := page.Bytes()
	return web.Routes{
		Public: func(r fiber.Router) {
			r.Get(RootPath, func(c *fiber.Ctx) error { return c.Redirect(DocsPath, fiber.StatusFound) })
			r.Get(SpecPath, func(c *fiber.Ctx) error {
				c.Set(fiber.HeaderContentType, SpecContentType)
				c.Set(fiber.HeaderContentDisposition, `inline; filename="openapi.yaml"`)
				c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
				return c.Send(yaml)
			})
			r.Get(DocsPath, func(c *fiber.Ctx) error {
				c.Set(fiber.HeaderContentType, DocsContentType)
				c.Set(fiber.HeaderContentSecurityPolicy, docsCSP)
				c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
				c.Set(fiber.HeaderCacheControl, "no-cache") // it names the current assets' versions
				return c.Send(html)
			})
			r.Get(AssetsPath+":file", serveAsset)
		},
	}, nil
}
