// Package openapitest holds a service to its OpenAPI document in tests: every route the real fiber
// app registers must be a documented operation and every operation a registered route, and every
// answer a test gets from the real app must be one the document describes (status, headers, body).
package openapitest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/legacy"
	"github.com/gofiber/fiber/v2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/modules/platform/apidoc"
)

func init() {
	// The docs page and its files are text kin-openapi has no decoder for: their schemas are plain
	// strings. The document itself is YAML served as text/yaml.
	for _, ct := range []string{"text/html", "text/javascript", "text/css"} {
		openapi3filter.RegisterBodyDecoder(ct, openapi3filter.PlainBodyDecoder)
	}
	openapi3filter.RegisterBodyDecoder("text/yaml", openapi3filter.YamlBodyDecoder)
}

// Checker validates exchanges with a real app against one OpenAPI document and records which
// operations and statuses were exercised. Safe for concurrent use.
type Checker struct {
	doc    *openapi3.T
	router routers.Router
	prefix string // where the service is mounted on the app: "" or e.g. "/accrual"

	mu   sync.Mutex
	seen map[string]map[int]bool // "GET /path" -> statuses answered
}

// New loads and validates spec (apidoc.Load: the same checks as the server's startup).
func New(tb testing.TB, spec []byte) *Checker {
	tb.Helper()
	doc, err := apidoc.Load(spec)
	require.NoError(tb, err)
	// Route on the path alone: the tests' requests go to whatever host the app is reached at.
	doc.Servers = nil
	router, err := legacy.NewRouter(doc)
	require.NoError(tb, err)
	return &Checker{doc: doc, router: router, seen: map[string]map[int]bool{}}
}

// NewAt is New for a service mounted under prefix on the app under test (e.g. behind a path-routing
// proxy): the prefix is taken off request paths before they are matched against the document.
func NewAt(tb testing.TB, spec []byte, prefix string) *Checker {
	tb.Helper()
	c := New(tb, spec)
	c.prefix = prefix
	return c
}

// Response is an answer of the real app, body read.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
}

// Target answers requests: a *fiber.App in process, or Over(addr) through a real connection (needed
// where the client's address matters, e.g. routes that answer loopback clients only).
type Target interface {
	Test(req *http.Request, msTimeout ...int) (*http.Response, error)
}

// Over is the server listening on addr (host:port), reached over loopback TCP.
type Over string

// Test sends req to the server at addr.
func (addr Over) Test(req *http.Request, _ ...int) (*http.Response, error) {
	out := req.Clone(req.Context())
	out.RequestURI = ""
	out.URL.Scheme, out.URL.Host, out.Host = "http", string(addr), string(addr)
	return (&http.Client{Transport: &http.Transport{DisableCompression: true}}).Do(out)
}

// Do sends req to app and checks the answer against the document: its status must be documented for
// the operation, and its headers and body must match that response. The request itself is not
// checked, so Do also serves requests that are wrong on purpose (bad bodies, missing credentials).
func (c *Checker) Do(tb testing.TB, app Target, req *http.Request) Response {
	tb.Helper()
	return c.do(tb, app, req, false)
}

// DoValid is Do for a request the document allows: the request is checked against the document
// too (parameters, body, and that it carries the credentials a security scheme names).
func (c *Checker) DoValid(tb testing.TB, app Target, req *http.Request) Response {
	tb.Helper()
	return c.do(tb, app, req, true)
}

func (c *Checker) do(tb testing.TB, app Target, req *http.Request, checkRequest bool) Response {
	tb.Helper()
	var reqBody []byte
	if req.Body != nil {
		var err error
		reqBody, err = io.ReadAll(req.Body)
		require.NoError(tb, err)
		require.NoError(tb, req.Body.Close())
	}
	req.Body = io.NopCloser(bytes.NewReader(reqBody))
	resp, err := app.Test(req, -1)
	require.NoError(tb, err)
	defer func() { _ = resp.Body.Close() }()
	body, err := io.ReadAll(resp.Body)
	require.NoError(tb, err)
	out := Response{Status: resp.StatusCode, Header: resp.Header, Body: body}

	// Validate against a copy of the request, body restored.
	vreq := req.Clone(context.Background())
	vreq.Body = io.NopCloser(bytes.NewReader(reqBody))
	c.Check(tb, vreq, out, checkRequest)
	return out
}

// Check validates resp as the answer to req (whose body must still be readable); with checkRequest,
// req is validated too. It fails tb with every mismatch found.
func (c *Checker) Check(tb testing.TB, req *http.Request, resp Response, checkRequest bool) {
	tb.Helper()
	name := req.Method + " " + req.URL.RequestURI()
	if c.prefix != "" {
		path, ok := strings.CutPrefix(req.URL.Path, c.prefix)
		if !ok {
			tb.Errorf("%s: not under %s", name, c.prefix)
			return
		}
		req = req.Clone(req.Context())
		req.URL.Path, req.URL.RawPath = path, ""
	}
	route, pathParams, err := c.router.FindRoute(req)
	if err != nil {
		tb.Errorf("%s: not an operation of the document: %v", name, err)
		return
	}
	c.mark(route, resp.Status)
	opts := &openapi3filter.Options{
		IncludeResponseStatus: true, // an undocumented status is a mismatch
		MultiError:            true,
		AuthenticationFunc:    carriesCredentials,
	}
	in := &openapi3filter.RequestValidationInput{Request: req, PathParams: pathParams, Route: route, Options: opts}
	// Mismatches are reported with Errorf, not require: one run shows every one of them.
	if checkRequest {
		if err := openapi3filter.ValidateRequest(context.Background(), in); err != nil {
			tb.Errorf("%s: request does not match the document: %v", name, err)
		}
	}
	out := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: in,
		Status:                 resp.Status,
		Header:                 resp.Header,
		Options:                opts,
	}
	out.SetBodyBytes(resp.Body)
	if err := openapi3filter.ValidateResponse(context.Background(), out); err != nil {
		tb.Errorf("%s: answer %d does not match the document: %v\nbody: %.300s", name, resp.Status, err, resp.Body)
	}

	// kin-openapi leaves a body unchecked where the document describes none: then there must be none.
	if r := route.Operation.Responses.Status(resp.Status); r != nil && r.Value != nil && len(r.Value.Content) == 0 {
		assert.Empty(tb, resp.Body, "%s: answer %d has a body the document does not describe", name, resp.Status)
	}
}

// carriesCredentials checks that a request carries what a security scheme names: a bearer token in
// Authorization, or the named cookie or header. Whether the credential is good is the server's job.
func carriesCredentials(_ context.Context, in *openapi3filter.AuthenticationInput) error {
	req, s := in.RequestValidationInput.Request, in.SecurityScheme
	switch {
	case s.Type == "http" && strings.EqualFold(s.Scheme, "bearer"):
		scheme, token, ok := strings.Cut(req.Header.Get("Authorization"), " ")
		if ok && strings.EqualFold(scheme, "Bearer") && token != "" {
			return nil
		}
	case s.Type == "apiKey" && s.In == "cookie":
		if c, err := req.Cookie(s.Name); err == nil && c.Value != "" {
			return nil
		}
	case s.Type == "apiKey" && s.In == "header":
		if req.Header.Get(s.Name) != "" {
			return nil
		}
	default:
		return fmt.Errorf("security scheme %q: type %q is not checked here", in.SecuritySchemeName, s.Type)
	}
	return errors.New("no credentials for " + in.SecuritySchemeName)
}

func (c *Checker) mark(route *routers.Route, status int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	key := route.Method + " " + route.Path
	if c.seen[key] == nil {
		c.seen[key] = map[int]bool{}
	}
	c.seen[key][status] = true
}

// Operations lists the document's operations as "METHOD /path/{param}", sorted.
func (c *Checker) Operations() []string {
	var out []string
	for path, item := range c.doc.Paths.Map() {
		for method := range item.Operations() {
			out = append(out, method+" "+path)
		}
	}
	sort.Strings(out)
	return out
}

// AssertAllExercised fails tb for every operation of the document that no Do, DoValid or Check
// reached, except those listed in except ("GET /metrics"), and logs the statuses seen per operation.
// A flow test that calls it grows with the document: a new operation needs a new step.
func (c *Checker) AssertAllExercised(tb testing.TB, except ...string) {
	tb.Helper()
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, op := range c.Operations() {
		if slices.Contains(except, op) {
			continue
		}
		statuses := c.seen[op]
		if !assert.NotEmpty(tb, statuses, "operation %s was never exercised", op) {
			continue
		}
		codes := make([]int, 0, len(statuses))
		for s := range statuses {
			codes = append(codes, s)
		}
		slices.Sort(codes)
		tb.Logf("%-40s answered %v", op, codes)
	}
}

// Routes lists the routes registered on app as "METHOD /path/{param}" (fiber's :param written as
// OpenAPI writes it), sorted and without duplicates. Middleware entries (app.Use, groups) and the
// HEAD routes fiber adds for every GET are left out.
func Routes(tb testing.TB, app *fiber.App) []string {
	tb.Helper()
	set := map[string]bool{}
	for _, r := range app.GetRoutes(true) {
		if r.Method == http.MethodHead {
			continue
		}
		set[r.Method+" "+openAPIPath(tb, r.Path)] = true
	}
	out := make([]string, 0, len(set))
	for r := range set {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}

// openAPIPath rewrites fiber's path parameters (/api/orders/:number) as OpenAPI's
// (/api/orders/{number}). Optional parameters and wildcards have no OpenAPI form: the test fails.
func openAPIPath(tb testing.TB, path string) string {
	tb.Helper()
	segs := strings.Split(path, "/")
	for i, s := range segs {
		if strings.ContainsAny(s, "*+?") {
			tb.Errorf("route %s: wildcard or optional segment %q cannot be documented as an OpenAPI path", path, s)
		}
		if name, ok := strings.CutPrefix(s, ":"); ok {
			segs[i] = "{" + name + "}"
		}
	}
	return strings.Join(segs, "/")
}

// AssertSameRoutes fails tb unless registered and documented hold the same routes, naming the
// ones missing on each side.
func AssertSameRoutes(tb testing.TB, documented, registered []string) {
	tb.Helper()
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			tb.Errorf("route %s is registered but not documented", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(registered, d) {
			tb.Errorf("operation %s is documented but not registered", d)
		}
	}
}
