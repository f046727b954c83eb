package apidoc

import (
	"bytes"
	"compress/gzip"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/web/webtest"
)

// fixture is a small valid document whose title must be escaped on the page; the broken documents
// below are edits of it.
const fixture = `openapi: 3.0.3
info:
  title: Pet <b>shop</b>
  version: 2.1.0
  description: |
    A shop of pets.

    - dogs
    - cats
servers:
  - url: http://localhost:9999
    description: local
tags:
  - name: pets
    description: The animals.
security:
  - bearerAuth: []
paths:
  /pets:
    get:
      tags: [pets]
      operationId: listPets
      summary: List pets
      description: Lists the pets, newest first, with <script>alert(1)</script> escaped.
      parameters:
        - name: limit
          in: query
          description: Page size.
          schema: {type: integer, minimum: 1, maximum: 100, default: 20}
      responses:
        '200':
          description: The page.
          headers:
            X-Total:
              description: Pets in all.
              required: true
              schema: {type: integer}
          content:
            application/json:
              schema:
                $ref: '#/components/schemas/PetPage'
        '400':
          $ref: '#/components/responses/Problem'
    post:
      tags: [pets]
      operationId: addPet
      summary: Add a pet
      requestBody:
        required: true
        content:
          application/json:
            schema:
              $ref: '#/components/schemas/Pet'
            example: {name: Rex, price: 12.5, tags: [good]}
      responses:
        '201':
          description: Added.
  /pets/{id}:
    parameters:
      - name: id
        in: path
        required: true
        description: The pet's id.
        schema: {type: string, pattern: '^[0-9]+$'}
    delete:
      tags: [pets]
      operationId: deletePet
      summary: Remove a pet
      deprecated: true
      parameters:
        - name: X-Reason
          in: header
          schema: {type: string, maxLength: 80}
      responses:
        '204':
          description: Gone.
  /ping:
    get:
      summary: Ping
      security: []
      responses:
        '200':
          description: Pong.
          content:
            text/plain:
              schema: {type: string, enum: [pong]}
components:
  securitySchemes:
    bearerAuth:
      type: http
      scheme: bearer
      bearerFormat: JWT
      description: A token.
  responses:
    Problem:
      description: Something is wrong.
      content:
        application/problem+json:
          schema:
            type: object
            required: [status]
            properties:
              status: {type: integer}
  schemas:
    Price:
      type: number
      minimum: 0
      multipleOf: 0.01
    Pet:
      type: object
      additionalProperties: false
      required: [name]
      properties:
        name: {type: string, minLength: 1, maxLength: 40, description: What it answers to.}
        price:
          allOf:
            - $ref: '#/components/schemas/Price'
          description: What it costs.
        tags:
          type: array
          items: {type: string}
    PetPage:
      type: object
      required: [items]
      properties:
        items:
          type: array
          items:
            $ref: '#/components/schemas/Pet'
        next:
          type: string
`

func get(t *testing.T, spec []byte, req *http.Request) (*http.Response, []byte) {
	t.Helper()
	routes, err := Routes(spec)
	require.NoError(t, err)
	resp, err := webtest.New(routes).Test(req, -1)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, b
}

func getPath(t *testing.T, path string) (*http.Response, []byte) {
	t.Helper()
	return get(t, []byte(fixture), httptest.NewRequest(http.MethodGet, path, nil))
}

func TestServesTheDocumentAsGiven(t *testing.T) {
	resp, body := getPath(t, SpecPath)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/yaml; charset=utf-8", resp.Header.Get("Content-Type"), "a browser shows text/*, downloads application/yaml")
	assert.Equal(t, `inline; filename="openapi.yaml"`, resp.Header.Get("Content-Disposition"))
	assert.Equal(t, fixture, string(body))
}

func TestRootLeadsToTheDocs(t *testing.T) {
	resp, body := getPath(t, RootPath)
	assert.Equal(t, http.StatusFound, resp.StatusCode)
	assert.Equal(t, DocsPath, resp.Header.Get("Location"))
	assert.Empty(t, body)
}

var (
	linkRE   = regexp.MustCompile(`(?:href|src)="(/docs/assets/[^"]+)"`)
	scriptRE = regexp.MustCompile(`<script[^>]*>`)
)

func TestDocsPageLoadsOnlyItsOwnFiles(t *testing.T) {
	resp, body := getPath(t, DocsPath)
	page := string(body)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
	csp := resp.Header.Get("Content-Security-Policy")
	for _, want := range []string{"default-src 'none'", "script-src 'self';", "style-src 'self';", "connect-src 'self';", "frame-ancestors 'none'"} {
		assert.Contains(t, csp, want)
	}
	assert.NotContains(t, csp, "unsafe", "no inline or eval'd script or style")

	assert.Contains(t, page, "<title>Pet &lt;b&gt;shop&lt;/b&gt;</title>", "the title is escaped")
	assert.Contains(t, page, `data-spec="/openapi.yaml"`)
	assert.NotContains(t, page, "http://", "the page fetches nothing from elsewhere")
	assert.NotContains(t, page, "https://", "the page fetches nothing from elsewhere")
	for _, tag := range scriptRE.FindAllString(page, -1) {
		assert.Contains(t, tag, ` src="/docs/assets/`, "no inline script: %s", tag)
	}
	links := linkRE.FindAllStringSubmatch(page, -1)
	require.Len(t, links, 3, "the style sheet, the bundle and the script that starts it")
	for _, l := range links {
		resp, body := getPath(t, html.UnescapeString(l[1]))
		assert.Equal(t, http.StatusOK, resp.StatusCode, l[1])
		assert.NotEmpty(t, body, l[1])
		assert.Equal(t, "public, max-age=31536000, immutable", resp.Header.Get("Cache-Control"), "%s is versioned", l[1])
	}
}

func TestAssets(t *testing.T) {
	for name, wantType := range map[string]string{
		"swagger-ui-bundle.js": "text/javascript; charset=utf-8",
		"swagger-ui.css":       "text/css; charset=utf-8",
		"docs.js":              "text/javascript; charset=utf-8",
	} {
		t.Run(name, func(t *testing.T) {
			a := assets()[name]
			require.NotNil(t, a)
			req := func(query string, header ...string) (*http.Response, []byte) {
				t.Helper()
				r := httptest.NewRequest(http.MethodGet, AssetsPath+name+query, nil)
				for i := 0; i+1 < len(header); i += 2 {
					r.Header.Set(header[i], header[i+1])
				}
				return get(t, []byte(fixture), r)
			}

			resp, body := req("")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, wantType, resp.Header.Get("Content-Type"))
			assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))
			assert.Equal(t, "no-cache", resp.Header.Get("Cache-Control"), "an unversioned link must be revalidated")
			assert.Empty(t, resp.Header.Get("Content-Encoding"), "no Accept-Encoding: as it is")
			assert.Equal(t, a.body, body)
			etag := resp.Header.Get("ETag")
			assert.Equal(t, `W/"`+a.version+`"`, etag)

			resp, _ = req("?v=" + a.version)
			assert.Equal(t, "public, max-age=31536000, immutable", resp.Header.Get("Cache-Control"))
			resp, _ = req("?v=old")
			assert.Equal(t, "no-cache", resp.Header.Get("Cache-Control"), "a stale version is not cached for good")

			resp, body = req("", "If-None-Match", `"other", `+etag)
			assert.Equal(t, http.StatusNotModified, resp.StatusCode)
			assert.Empty(t, body)

			resp, body = req("", "Accept-Encoding", "br, gzip")
			require.Equal(t, http.StatusOK, resp.StatusCode)
			assert.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
			assert.Equal(t, "Accept-Encoding", resp.Header.Get("Vary"))
			zr, err := gzip.NewReader(bytes.NewReader(body))
			require.NoError(t, err)
			plain, err := io.ReadAll(zr)
			require.NoError(t, err)
			assert.Equal(t, a.body, plain)

			resp, body = req("", "Accept-Encoding", "gzip;q=0")
			assert.Empty(t, resp.Header.Get("Content-Encoding"), "gzip refused")
			assert.Equal(t, a.body, body)
		})
	}
	resp, _ := getPath(t, AssetsPath+"swagger-ui.js")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "only the files the page loads are served")
	resp, _ = getPath(t, AssetsPath+"..%2fapidoc.go")
	assert.Equal(t, http.StatusNotFound, resp.StatusCode)
}

// TestVendoredVersion: the bundle embedded is the version assets/VERSION names (a half-done update
// of the vendored files fails here).
func TestVendoredVersion(t *testing.T) {
	version, err := os.ReadFile("assets/VERSION")
	require.NoError(t, err)
	v := strings.TrimSpace(string(version))
	require.Regexp(t, `^\d+\.\d+\.\d+$`, v)
	assert.Contains(t, string(assets()[uiBundle].body), `PACKAGE_VERSION:"`+v+`"`)
}

func TestRoutesRefuseABrokenDocument(t *testing.T) {
	tests := []struct {
		name string
		spec string
	}{
		{"not YAML", "openapi: [3.0.3"},
		{"not OpenAPI", "hello: world\n"},
		{"no info", "openapi: 3.0.3\npaths: {}\n"},
		{"dangling reference", strings.Replace(fixture, "$ref: '#/components/schemas/Pet'\n            example", "$ref: '#/components/schemas/Cat'\n            example", 1)},
		{"example against its schema", strings.Replace(fixture, "{name: Rex, price: 12.5", "{name: Rex, price: -1", 1)},
		{"response without description", strings.Replace(fixture, "description: Gone.", "summary: Gone.", 1)},
		{"external reference", strings.Replace(fixture, "'#/components/schemas/PetPage'", "'other.yaml#/PetPage'", 1)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.NotEqual(t, fixture, tt.spec, "the case must change the fixture")
			_, err := Routes([]byte(tt.spec))
			require.ErrorIs(t, err, ErrInvalid)
			t.Log(err)
		})
	}
}
