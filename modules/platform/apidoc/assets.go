package apidoc

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"path"
	"strings"
	"sync"

	"github.com/gofiber/fiber/v2"
)

// The files the page loads: Swagger UI's (assets/, as its npm package ships them) and docs.js.
const (
	uiBundle = "swagger-ui-bundle.js"
	uiCSS    = "swagger-ui.css"
	initJS   = "docs.js"
)

//go:embed assets/swagger-ui-bundle.js assets/swagger-ui.css docs.js
var embedded embed.FS

// asset is one file served under AssetsPath.
type asset struct {
	contentType string
	body        []byte
	version     string // a hash of body: the ?v= of the page's links and the ETag
	gzipped     func() []byte
}

// url is where the page links the asset: versioned, so that a browser may cache it for good.
func (a *asset) url(name string) string { return AssetsPath + name + "?v=" + a.version }

// assets loads the embedded files once per process; each is gzip-compressed on first demand.
var assets = sync.OnceValue(func() map[string]*asset {
	out := map[string]*asset{}
	for name, file := range map[string]string{uiBundle: "assets/" + uiBundle, uiCSS: "assets/" + uiCSS, initJS: initJS} {
		body, err := embedded.ReadFile(file)
		if err != nil {
			panic(err) // embedded at build time: cannot be missing
		}
		sum := sha256.Sum256(body)
		contentType := fiber.MIMETextJavaScriptCharsetUTF8
		if path.Ext(name) == ".css" {
			contentType = "text/css; charset=utf-8"
		}
		out[name] = &asset{
			contentType: contentType,
			body:        body,
			version:     hex.EncodeToString(sum[:8]),
			gzipped:     sync.OnceValue(func() []byte { return gzipBytes(body) }),
		}
	}
	return out
})

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression) // the level is valid: no error
	_, _ = zw.Write(b)                                       // writes to a bytes.Buffer do not fail
	_ = zw.Close()
	return buf.Bytes()
}

// serveAsset answers GET /docs/assets/{file}. A request carrying the current version (the page's
// links do) may be cached for a year; any other must be revalidated, and a matching If-None-Match
// gets 304. A client that accepts gzip gets the compressed body.
func serveAsset(c *fiber.Ctx) error {
	a, ok := assets()[c.Params("file")]
	if !ok {
		return fiber.ErrNotFound
	}
	etag := `W/"` + a.version + `"`
	c.Set(fiber.HeaderContentType, a.contentType)
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderETag, etag)
	c.Set(fiber.HeaderVary, fiber.HeaderAcceptEncoding)
	if c.Query("v") == a.version {
		c.Set(fiber.HeaderCacheControl, "public, max-age=31536000, immutable")
	} else {
		c.Set(fiber.HeaderCacheControl, "no-cache")
	}
	if matches(c.Get(fiber.HeaderIfNoneMatch), etag) {
		c.Status(fiber.StatusNotModified)
		return nil
	}
	if c.Get(fiber.HeaderAcceptEncoding) != "" && c.AcceptsEncodings("gzip") == "gzip" {
		c.Set(fiber.HeaderContentEncoding, "gzip")
		return c.Send(a.gzipped())
	}
	return c.Send(a.body)
}

// matches reports whether an If-None-Match header lists etag (weak comparison) or is "*".
func matches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimSpace(t)
		if t == "*" || strings.TrimPrefix(t, "W/") == strings.TrimPrefix(etag, "W/") {
			return true
		}
	}
	return false
}
