package apidoc

import (
	"cmp"
	_ "embed"
	"encoding/json"
	"fmt"
	"html"
	"html/template"
	"io"
	"math"
	"net/http"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/getkin/kin-openapi/openapi3"
)

//go:embed page.html
var pageHTML string

var pageTemplate = template.Must(template.New("page").Parse(pageHTML))

// maxDepth bounds how deep the field tables follow nested schemas (and so any reference cycle).
const maxDepth = 6

// methodOrder is the order operations of one path are listed in.
var methodOrder = []string{
	http.MethodGet, http.MethodPost, http.MethodPut, http.MethodPatch, http.MethodDelete,
	http.MethodHead, http.MethodOptions, http.MethodTrace, http.MethodConnect,
}

// Render writes the HTML page documenting doc to w: every operation with its method, path,
// summary, description, security, parameters, request body and responses (status, description,
// headers, body fields and example).
func Render(w io.Writer, doc *openapi3.T) error {
	if err := pageTemplate.Execute(w, newPage(doc)); err != nil {
		return fmt.Errorf("render API docs: %w", err)
	}
	return nil
}

// The page model: plain data, so that the template only loops and prints.
type (
	page struct {
		Title       string
		Version     string
		Description template.HTML
		SpecPath    string
		Servers     []server
		Schemes     []scheme
		Groups      []group
		Count       int
	}
	server struct{ URL, Description string }
	scheme struct {
		Name, Kind  string
		Description template.HTML
	}
	group struct {
		Name        string
		Description template.HTML
		Ops         []operation
	}
	operation struct {
		Anchor      string
		Method      string
		Path        string
		ID          string
		Summary     string
		Description template.HTML
		Deprecated  bool
		Auth        string
		Params      []param
		Body        *body
		Responses   []response
	}
	param struct {
		Name, In    string
		Required    bool
		Type        string
		Rules       string
		Description template.HTML
	}
	body struct {
		Required    bool
		Description template.HTML
		Contents    []content
	}
	response struct {
		Status      string
		Class       string // "ok", "redirect", "error": for colour
		Description template.HTML
		Headers     []param
		Contents    []content
	}
	content struct {
		MediaType string
		Schema    string // the body's type in words: "object · Problem"
		Open      bool   // shown unfolded (request bodies and success answers)
		Fields    []field
		Example   string
	}
	field struct {
		Name        string
		Depth       int
		Type        string
		Rules       string
		Required    bool
		Description template.HTML
	}
)

func newPage(doc *openapi3.T) page {
	p := page{SpecPath: SpecPath}
	if doc.Info != nil {
		p.Title, p.Version, p.Description = doc.Info.Title, doc.Info.Version, prose(doc.Info.Description)
	}
	for _, s := range doc.Servers {
		p.Servers = append(p.Servers, server{URL: s.URL, Description: s.Description})
	}
	if doc.Components != nil {
		for _, name := range sortedKeys(doc.Components.SecuritySchemes) {
			ref := doc.Components.SecuritySchemes[name]
			if ref == nil || ref.Value == nil {
				continue
			}
			p.Schemes = append(p.Schemes, scheme{Name: name, Kind: schemeKind(ref.Value), Description: prose(ref.Value.Description)})
		}
	}

	groups := map[string]*group{}
	var order []string
	addGroup := func(name string, description string) *group {
		if g, ok := groups[name]; ok {
			return g
		}
		g := &group{Name: name, Description: prose(description)}
		groups[name] = g
		order = append(order, name)
		return g
	}
	for _, t := range doc.Tags {
		addGroup(t.Name, t.Description)
	}
	if doc.Paths != nil {
		paths := doc.Paths.Map()
		for _, path := range inDocumentOrder(paths, pathOrigin) {
			ops := paths[path].Operations()
			for _, method := range methodOrder {
				op := ops[method]
				if op == nil {
					continue
				}
				tag := "other"
				if len(op.Tags) > 0 {
					tag = op.Tags[0]
				}
				g := addGroup(tag, "")
				g.Ops = append(g.Ops, newOperation(doc, method, path, paths[path], op))
				p.Count++
			}
		}
	}
	for _, name := range order {
		if g := groups[name]; len(g.Ops) > 0 {
			p.Groups = append(p.Groups, *g)
		}
	}
	return p
}

func newOperation(doc *openapi3.T, method, path string, item *openapi3.PathItem, op *openapi3.Operation) operation {
	o := operation{
		Anchor:      anchor(method, path),
		Method:      method,
		Path:        path,
		ID:          op.OperationID,
		Summary:     op.Summary,
		Description: prose(op.Description),
		Deprecated:  op.Deprecated,
		Auth:        auth(doc, op),
	}
	// Operation parameters override the path item's of the same name and location.
	seen := map[string]bool{}
	for _, list := range []openapi3.Parameters{op.Parameters, item.Parameters} {
		for _, ref := range list {
			if ref == nil || ref.Value == nil || seen[ref.Value.In+":"+ref.Value.Name] {
				continue
			}
			pv := ref.Value
			seen[pv.In+":"+pv.Name] = true
			typ, rules := describe(pv.Schema)
			o.Params = append(o.Params, param{
				Name: pv.Name, In: pv.In, Required: pv.Required, Type: typ, Rules: rules,
				Description: prose(pv.Description),
			})
		}
	}
	if op.RequestBody != nil && op.RequestBody.Value != nil {
		rb := op.RequestBody.Value
		o.Body = &body{Required: rb.Required, Description: prose(rb.Description), Contents: contents(rb.Content, true)}
	}
	if op.Responses != nil {
		codes := op.Responses.Map()
		for _, status := range sortedKeys(codes) {
			ref := codes[status]
			if ref == nil || ref.Value == nil {
				continue
			}
			r := ref.Value
			class := statusClass(status)
			resp := response{Status: status, Class: class, Contents: contents(r.Content, class == "ok")}
			if r.Description != nil {
				resp.Description = prose(*r.Description)
			}
			for _, name := range sortedKeys(r.Headers) {
				h := r.Headers[name]
				if h == nil || h.Value == nil {
					continue
				}
				typ, rules := describe(h.Value.Schema)
				resp.Headers = append(resp.Headers, param{
					Name: name, In: "header", Required: h.Value.Required, Type: typ, Rules: rules,
					Description: prose(h.Value.Description),
				})
			}
			o.Responses = append(o.Responses, resp)
		}
	}
	return o
}

// auth says how an operation authenticates: "public", or the alternatives of its security
// requirements ("bearerAuth or cookieAuth").
func auth(doc *openapi3.T, op *openapi3.Operation) string {
	reqs := doc.Security
	if op.Security != nil {
		reqs = *op.Security
	}
	var alts []string
	for _, req := range reqs {
		if len(req) == 0 {
			return "public" // an empty requirement makes authentication optional
		}
		alts = append(alts, strings.Join(sortedKeys(req), " + "))
	}
	if len(alts) == 0 {
		return "public"
	}
	return strings.Join(alts, " or ")
}

func schemeKind(s *openapi3.SecurityScheme) string {
	switch s.Type {
	case "http":
		k := "HTTP " + s.Scheme
		if s.BearerFormat != "" {
			k += " (" + s.BearerFormat + ")"
		}
		return k
	case "apiKey":
		return fmt.Sprintf("API key in %s %q", s.In, s.Name)
	}
	return s.Type
}

func contents(c openapi3.Content, open bool) []content {
	var out []content
	for _, mt := range sortedKeys(c) {
		m := c[mt]
		if m == nil {
			continue
		}
		cc := content{MediaType: mt, Open: open, Example: example(m)}
		if m.Schema != nil {
			cc.Schema, _ = describe(m.Schema)
			walk(&cc.Fields, "", m.Schema, false, 0)
		}
		out = append(out, cc)
	}
	return out
}

// example returns the media type's example (or its first named one, or its schema's) as text:
// a string as it is, anything else as indented JSON.
func example(m *openapi3.MediaType) string {
	var v any
	switch {
	case m.Example != nil:
		v = m.Example
	case len(m.Examples) > 0:
		for _, name := range sortedKeys(m.Examples) {
			if ex := m.Examples[name]; ex != nil && ex.Value != nil && ex.Value.Value != nil {
				v = ex.Value.Value
				break
			}
		}
	case m.Schema != nil && m.Schema.Value != nil && m.Schema.Value.Example != nil:
		v = m.Schema.Value.Example
	}
	if v == nil {
		return ""
	}
	if s, ok := v.(string); ok {
		return s
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// walk appends one row for the schema at name, then rows for its properties (objects) or its items'
// properties (arrays of objects), depth first.
func walk(out *[]field, name string, ref *openapi3.SchemaRef, required bool, depth int) {
	s, _ := resolve(ref)
	if s == nil {
		return
	}
	typ, rules := describe(ref)
	label := name
	if label == "" {
		label = "(body)"
	}
	*out = append(*out, field{
		Name: label, Depth: depth, Type: typ, Rules: rules, Required: required, Description: prose(s.Description),
	})
	if depth >= maxDepth {
		return
	}
	prefix := name
	if s.Type.Is(openapi3.TypeArray) && s.Items != nil {
		item, _ := resolve(s.Items)
		if item == nil || len(item.Properties) == 0 {
			return
		}
		s, prefix = item, name+"[]"
	}
	for _, prop := range propertyOrder(s) {
		child := prop
		if prefix != "" {
			child = prefix + "." + prop
		}
		walk(out, child, s.Properties[prop], slices.Contains(s.Required, prop), depth+1)
	}
}

// propertyOrder lists a schema's properties in the order the document gives them.
func propertyOrder(s *openapi3.Schema) []string {
	return inDocumentOrder(s.Properties, schemaOrigin)
}

func pathOrigin(p *openapi3.PathItem) *openapi3.Origin {
	if p == nil {
		return nil
	}
	return p.Origin
}

func schemaOrigin(r *openapi3.SchemaRef) *openapi3.Origin {
	if r == nil {
		return nil
	}
	return r.Origin
}

// inDocumentOrder returns the keys of m in the order they appear in the document (Load records
// positions), falling back to alphabetical order where a position is unknown.
func inDocumentOrder[V any](m map[string]V, origin func(V) *openapi3.Origin) []string {
	keys := sortedKeys(m)
	line := func(k string) int {
		if o := origin(m[k]); o != nil && o.Key != nil {
			return o.Key.Line
		}
		return math.MaxInt
	}
	slices.SortStableFunc(keys, func(a, b string) int { return cmp.Compare(line(a), line(b)) })
	return keys
}

// resolve returns the schema ref stands for, and the name of the component it refers to. A schema
// that only wraps one allOf member (the usual way to add a description next to a $ref in OpenAPI
// 3.0) is that member, with the wrapper's description.
func resolve(ref *openapi3.SchemaRef) (*openapi3.Schema, string) {
	if ref == nil || ref.Value == nil {
		return nil, ""
	}
	s, name := ref.Value, refName(ref.Ref)
	if len(s.AllOf) == 1 && s.Type.IsEmpty() && len(s.Properties) == 0 && s.AllOf[0] != nil && s.AllOf[0].Value != nil {
		inner := *s.AllOf[0].Value
		if s.Description != "" {
			inner.Description = s.Description
		}
		return &inner, refName(s.AllOf[0].Ref)
	}
	return s, name
}

func refName(ref string) string {
	if i := strings.LastIndex(ref, "/"); i >= 0 {
		return ref[i+1:]
	}
	return ref
}

// describe returns a schema's type ("string (date-time)", "array of Order") and its other
// constraints, in words ("1 to 64 characters; pattern ^[!-~]+$").
func describe(ref *openapi3.SchemaRef) (typ, rules string) {
	s, name := resolve(ref)
	if s == nil {
		return "any", ""
	}
	typ = typeName(s)
	if s.Type.Is(openapi3.TypeArray) && s.Items != nil {
		item, itemName := resolve(s.Items)
		itemType := "any"
		if item != nil {
			itemType = typeName(item)
		}
		if itemName != "" {
			itemType = itemName
		}
		typ = "array of " + itemType
	} else if name != "" {
		typ += " · " + name
	}
	return typ, strings.Join(constraints(s), "; ")
}

func typeName(s *openapi3.Schema) string {
	t := strings.Join(s.Type.Slice(), " | ")
	switch {
	case t == "" && len(s.OneOf) > 0:
		t = "one of " + strconv.Itoa(len(s.OneOf)) + " schemas"
	case t == "" && len(s.AnyOf) > 0:
		t = "any of " + strconv.Itoa(len(s.AnyOf)) + " schemas"
	case t == "":
		t = "any"
	}
	if s.Format != "" {
		t += " (" + s.Format + ")"
	}
	if s.Nullable {
		t += ", nullable"
	}
	return t
}

func constraints(s *openapi3.Schema) []string {
	var out []string
	if len(s.Enum) > 0 {
		vals := make([]string, len(s.Enum))
		for i, v := range s.Enum {
			vals[i] = fmt.Sprint(v)
		}
		out = append(out, "one of: "+strings.Join(vals, ", "))
	}
	if s.Min != nil {
		op := "≥ "
		if s.ExclusiveMin.IsTrue() {
			op = "> "
		}
		out = append(out, op+num(*s.Min))
	}
	if v := s.ExclusiveMin.Value; v != nil {
		out = append(out, "> "+num(*v))
	}
	if s.Max != nil {
		op := "≤ "
		if s.ExclusiveMax.IsTrue() {
			op = "< "
		}
		out = append(out, op+num(*s.Max))
	}
	if v := s.ExclusiveMax.Value; v != nil {
		out = append(out, "< "+num(*v))
	}
	if s.MultipleOf != nil {
		out = append(out, "multiple of "+num(*s.MultipleOf))
	}
	if r := lengthRule(s.MinLength, s.MaxLength, "characters"); r != "" {
		out = append(out, r)
	}
	if r := lengthRule(s.MinItems, s.MaxItems, "items"); r != "" {
		out = append(out, r)
	}
	if s.Pattern != "" {
		out = append(out, "pattern "+s.Pattern)
	}
	if s.Default != nil {
		out = append(out, "default "+fmt.Sprint(s.Default))
	}
	if s.AdditionalProperties.Has != nil && !*s.AdditionalProperties.Has {
		out = append(out, "no other fields")
	}
	return out
}

func lengthRule(lo uint64, hi *uint64, unit string) string {
	if hi == nil && lo == 1 {
		return "at least 1 " + strings.TrimSuffix(unit, "s")
	}
	switch {
	case hi != nil && lo > 0:
		return fmt.Sprintf("%d to %d %s", lo, *hi, unit)
	case hi != nil:
		return fmt.Sprintf("at most %d %s", *hi, unit)
	case lo > 0:
		return fmt.Sprintf("at least %d %s", lo, unit)
	}
	return ""
}

func num(f float64) string { return strconv.FormatFloat(f, 'f', -1, 64) }

func statusClass(status string) string {
	switch {
	case strings.HasPrefix(status, "2"):
		return "ok"
	case strings.HasPrefix(status, "3"):
		return "redirect"
	}
	return "error"
}

var nonWord = regexp.MustCompile(`[^a-z0-9]+`)

// anchor is an operation's fragment id: "get-api-user-orders".
func anchor(method, path string) string {
	return strings.Trim(nonWord.ReplaceAllString(strings.ToLower(method+"-"+path), "-"), "-")
}

var codeSpan = regexp.MustCompile("`([^`]+)`")

// prose turns a description into HTML: the text escaped, blank lines separating paragraphs, lines
// starting with "- " as list items, and `code` spans.
func prose(text string) template.HTML {
	text = strings.TrimSpace(text)
	if text == "" {
		return ""
	}
	var b strings.Builder
	for _, para := range strings.Split(text, "\n\n") {
		lines := strings.Split(strings.TrimSpace(para), "\n")
		if strings.HasPrefix(lines[0], "- ") {
			b.WriteString("<ul>")
			for _, l := range lines {
				l = strings.TrimSpace(l)
				if rest, ok := strings.CutPrefix(l, "- "); ok {
					b.WriteString("<li>" + inline(rest))
				} else {
					b.WriteString(" " + inline(l))
				}
			}
			b.WriteString("</ul>")
			continue
		}
		b.WriteString("<p>" + inline(strings.Join(lines, " ")) + "</p>")
	}
	return template.HTML(b.String()) //nolint:gosec // built from html.EscapeString'd text and fixed tags only
}

// inline escapes s and turns `code` spans into <code> elements.
func inline(s string) string {
	return codeSpan.ReplaceAllString(html.EscapeString(s), "<code>$1</code>")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
