package apidoc

import (
	"bytes"
	"html"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/web/webtest"
)

// fixture exercises what the page must show: tags, global and per-operation security, path, query
// and header parameters, an object body with nested arrays, $ref and allOf-wrapped references,
// response headers, several media types, and text that must be escaped.
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

func get(t *testing.T, spec []byte, path string) (*http.Response, string) {
	t.Helper()
	routes, err := Routes(spec)
	require.NoError(t, err)
	resp, err := webtest.New(routes).Test(httptest.NewRequest(http.MethodGet, path, nil), -1)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, string(b)
}

func TestServesTheDocumentAsGiven(t *testing.T) {
	resp, body := get(t, []byte(fixture), SpecPath)
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, SpecContentType, resp.Header.Get("Content-Type"))
	assert.Equal(t, fixture, body)
}

func TestDocsPageListsEveryOperation(t *testing.T) {
	resp, page := get(t, []byte(fixture), DocsPath)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, "text/html; charset=utf-8", resp.Header.Get("Content-Type"))
	assert.Contains(t, resp.Header.Get("Content-Security-Policy"), "default-src 'none'")
	assert.Equal(t, "nosniff", resp.Header.Get("X-Content-Type-Options"))

	doc, err := Load([]byte(fixture))
	require.NoError(t, err)
	sections := opSections(t, page)
	count := 0
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			count++
			sec, ok := sections[anchor(method, path)]
			if !assert.True(t, ok, "no section for %s %s", method, path) {
				continue
			}
			assert.Contains(t, sec, `<span class="method `+method+`">`+method+`</span>`)
			assert.Contains(t, sec, `<span class="path">`+path+`</span>`)
			assert.Contains(t, sec, op.Summary)
			for code, r := range op.Responses.Map() {
				assert.Contains(t, sec, `<span class="status">`+code+`</span> <p>`+*r.Value.Description+`</p>`,
					"%s %s: response %s", method, path, code)
			}
		}
	}
	assert.Len(t, sections, count, "one section per operation, no more")
	assert.Contains(t, page, "4 operations")
	assert.NotContains(t, strings.ToLower(page), "<script", "the page must load and run no script")
	assert.NotContains(t, strings.ToLower(page), "http://cdn", "the page must fetch nothing")
	assert.NotContains(t, strings.ToLower(page), "https://", "the page must fetch nothing")
}

func TestDocsPageDetails(t *testing.T) {
	_, page := get(t, []byte(fixture), DocsPath)
	sections := opSections(t, page)
	tags := regexp.MustCompile(`<[^>]+>`)
	text := func(s string) string {
		return html.UnescapeString(strings.Join(strings.Fields(tags.ReplaceAllString(s, " ")), " "))
	}

	list := text(sections["get-pets"])
	for _, want := range []string{
		"bearerAuth", // global security applies
		"limit query integer ≥ 1; ≤ 100; default 20 Page size.",
		"X-Total required integer Pets in all.",
		"Content-Type: application/json · object · PetPage",
		"items required array of Pet",
		"items[].name required string 1 to 40 characters What it answers to.",
		"items[].price number · Price ≥ 0; multiple of 0.01 What it costs.",
		"items[].tags array of string",
		"next string",
		"status required integer",
	} {
		assert.Contains(t, list, want)
	}
	assert.Contains(t, sections["get-pets"], "with &lt;script&gt;alert(1)&lt;/script&gt; escaped.")
	add := text(sections["post-pets"])
	assert.Contains(t, add, "Request body required")
	assert.Contains(t, add, "(body) object · Pet no other fields")
	assert.Contains(t, add, `"name": "Rex"`, "the example is shown")
	del := text(sections["delete-pets-id"])
	assert.Contains(t, del, "deprecated")
	assert.Contains(t, del, "id required path string pattern ^[0-9]+$ The pet's id.", "path-level parameters are listed")
	assert.Contains(t, del, "X-Reason header string at most 80 characters")
	ping := text(sections["get-ping"])
	assert.Contains(t, ping, "public")
	assert.Contains(t, ping, "one of: pong")

	assert.Contains(t, page, "Pet &lt;b&gt;shop&lt;/b&gt;", "the title is escaped")
	assert.Contains(t, page, "<ul><li>dogs<li>cats</ul>", "a description's list is a list")
	assert.Contains(t, page, "http://localhost:9999")
	assert.Contains(t, text(page), "bearerAuth HTTP bearer (JWT) A token.")
	// Document order, not alphabetical: /pets comes before /ping in the file and in the menu.
	assert.Less(t, strings.Index(page, `href="#get-pets"`), strings.Index(page, `href="#get-ping"`))
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

var sectionRE = regexp.MustCompile(`(?s)<section class="op" id="([^"]+)">(.*?)</section>`)

// opSections maps each operation section's id to its HTML.
func opSections(t *testing.T, page string) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, m := range sectionRE.FindAllStringSubmatch(page, -1) {
		require.NotContains(t, out, m[1], "duplicate section id")
		out[m[1]] = m[2]
	}
	return out
}

func BenchmarkRender(b *testing.B) {
	doc, err := Load([]byte(fixture))
	require.NoError(b, err)
	var buf bytes.Buffer
	for b.Loop() {
		buf.Reset()
		require.NoError(b, Render(&buf, doc))
	}
}
