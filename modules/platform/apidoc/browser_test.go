package apidoc_test

import (
	"context"
	"errors"
	"html"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/gophermart/gophermart/docs/openapi"
	"github.com/gophermart/gophermart/modules/platform/apidoc"
	"github.com/gophermart/gophermart/modules/platform/web/webtest"
)

// TestDocsPageInABrowser loads /docs of each service's real document in headless Chromium, as a
// person would open it, and checks the page Swagger UI builds: the title and version, every
// operation (method, path, summary) in its tag's section, the Authorize control, the same-origin
// server, and no error and no console message (a script or style the CSP blocks shows up there).
// An operation opened by its link shows the "Try it out" button. Without Chromium the test is
// skipped, except under CI=true, where it fails: .ci/run installs Chromium.
func TestDocsPageInABrowser(t *testing.T) {
	chromium := findChromium(t)
	for name, spec := range map[string][]byte{"gophermart": openapi.Gophermart, "accrual": openapi.Accrual} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			doc, err := apidoc.Load(spec)
			require.NoError(t, err)
			base := serveDocs(t, spec)

			dom, console := browse(t, chromium, base+apidoc.RootPath)
			assert.Empty(t, console, "the browser's console")
			// The DOM is long: report what is missing, not the whole page.
			has := func(re, what string) {
				t.Helper()
				assert.Truef(t, regexp.MustCompile(re).MatchString(dom), "the page shows no %s (%s)", what, re)
			}
			assert.NotContains(t, text(dom), "Failed to load API definition")
			assert.NotContains(t, dom, `class="errors-wrapper"`)

			has(regexp.QuoteMeta("<title>"+html.EscapeString(doc.Info.Title)+"</title>"), "page title")
			title := text(between(t, dom, `<h1 class="title">`, "</h1>"))
			assert.Contains(t, title, doc.Info.Title)
			assert.Contains(t, title, doc.Info.Version)
			has(`<option value="/">`, "same-origin server: requests go where the page came from")
			authorize := `<button class="btn authorize[^"]*"><span>Authorize</span>`
			if doc.Components != nil && len(doc.Components.SecuritySchemes) > 0 {
				has(authorize, "Authorize control")
			} else {
				assert.NotRegexp(t, authorize, dom, "no security scheme, no Authorize control")
			}

			ops := opBlocks(dom)
			count := 0
			for path, item := range doc.Paths.Map() {
				for method, op := range item.Operations() {
					count++
					id := "operations-" + op.Tags[0] + "-" + op.OperationID
					block, ok := ops[id]
					if !assert.True(t, ok, "%s %s is not on the page (no #%s)", method, path, id) {
						continue
					}
					assert.Contains(t, block, `data-path="`+path+`"`)
					assert.Contains(t, text(block), method+" "+path+" "+op.Summary, "what the operation's bar reads")
				}
			}
			assert.Len(t, ops, count, "one bar per operation")

			// A deep link opens that operation, with its "Try it out" control.
			op := firstOperation(doc)
			link := base + apidoc.DocsPath + "#/" + op.Tags[0] + "/" + op.OperationID
			dom, console = browse(t, chromium, link)
			assert.Empty(t, console, "the browser's console")
			block := opBlocks(dom)["operations-"+op.Tags[0]+"-"+op.OperationID]
			assert.Regexp(t, `class="opblock[^"]* is-open"`, block, "%s opens the operation", link)
			assert.Contains(t, text(block), "Try it out")
		})
	}
}

// findChromium returns the path of a Chromium (or Chrome) binary, or skips the test (fails it
// under CI).
func findChromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "/usr/bin/chromium", "google-chrome", "google-chrome-stable"} {
		if path, err := exec.LookPath(name); err == nil {
			return path
		}
	}
	if os.Getenv("CI") == "true" {
		t.Fatal("chromium is not installed: CI must run this test (.ci/run installs it)")
	}
	t.Skip("chromium is not installed")
	return ""
}

// serveDocs serves apidoc's routes for spec on the real web server over a loopback listener and
// returns its base URL.
func serveDocs(t *testing.T, spec []byte) string {
	t.Helper()
	routes, err := apidoc.Routes(spec)
	require.NoError(t, err)
	app := webtest.New(routes)
	ln, err := (&net.ListenConfig{}).Listen(context.Background(), "tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- app.Listener(ln) }()
	t.Cleanup(func() {
		assert.NoError(t, app.Shutdown())
		if err := <-done; err != nil && !errors.Is(err, net.ErrClosed) {
			t.Error(err)
		}
	})
	return "http://" + ln.Addr().String()
}

// consoleRE matches a message the page wrote to the browser's console, as Chromium logs it.
var consoleRE = regexp.MustCompile(`:CONSOLE[^\]]*\] (.*)`)

// browse opens url in headless Chromium, lets the page run for 5 s of virtual time (scripts,
// fetches, rendering), and returns the DOM it ends with and what it wrote to the console.
func browse(t *testing.T, chromium, url string) (dom string, console []string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	//nolint:gosec // the binary is the Chromium found on this machine; the URL is the test server's
	cmd := exec.CommandContext(ctx, chromium,
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync",
		"--disable-dev-shm-usage", "--user-data-dir="+filepath.Join(t.TempDir(), "profile"),
		"--enable-logging=stderr", "--v=0", "--virtual-time-budget=5000", "--dump-dom", url)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "chromium: %s", stderr.String())
	for _, m := range consoleRE.FindAllStringSubmatch(stderr.String(), -1) {
		console = append(console, m[1])
	}
	return string(out), console
}

// opRE matches the start of an operation's bar: Swagger UI gives it the id
// operations-<tag>-<operationId>.
var opRE = regexp.MustCompile(`<div class="opblock [^"]*" id="(operations-[^"]+)">`)

// opBlocks maps each operation bar's id to its HTML (up to the next bar).
func opBlocks(dom string) map[string]string {
	out := map[string]string{}
	locs := opRE.FindAllStringSubmatchIndex(dom, -1)
	for i, loc := range locs {
		end := len(dom)
		if i+1 < len(locs) {
			end = locs[i+1][0]
		}
		out[dom[loc[2]:loc[3]]] = dom[loc[0]:end]
	}
	return out
}

var tagRE = regexp.MustCompile(`<[^>]*>`)

// text is what a person reads in an HTML fragment: tags dropped (a <wbr> joins the pieces of a
// path, other tags separate words), entities decoded, runs of white space as one space.
func text(fragment string) string {
	fragment = strings.ReplaceAll(fragment, "<wbr>", "")
	return strings.Join(strings.Fields(html.UnescapeString(tagRE.ReplaceAllString(fragment, " "))), " ")
}

// between returns the part of s from the first start up to the next end.
func between(t *testing.T, s, start, end string) string {
	t.Helper()
	_, rest, ok := strings.Cut(s, start)
	require.True(t, ok, "no %s in the page", start)
	in, _, ok := strings.Cut(rest, end)
	require.True(t, ok, "no %s after %s", end, start)
	return in
}

// firstOperation returns the document's first operation, paths and methods in sorted order.
func firstOperation(doc *openapi3.T) *openapi3.Operation {
	paths := doc.Paths.Map()
	ops := paths[slices.Min(slices.Collect(maps.Keys(paths)))].Operations()
	return ops[slices.Min(slices.Collect(maps.Keys(ops)))]
}
