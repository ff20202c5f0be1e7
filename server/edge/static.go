package edge

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"time"
)

// securityHeaders go on every page and asset. The policy allows nothing from
// elsewhere: the app talks only to the server that served it, and never sends
// a referrer (the link's fragment must not leak, and neither should the path).
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; " +
		"connect-src 'self'; manifest-src 'self'; worker-src 'self'; font-src 'self'; object-src 'none'; " +
		"base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
	"Referrer-Policy":            "no-referrer",
	"X-Content-Type-Options":     "nosniff",
	"X-Frame-Options":            "DENY",
	"Permissions-Policy":         "camera=(), microphone=(), geolocation=(), payment=(), usb=(), interest-cohort=()",
	"Cross-Origin-Opener-Policy": "same-origin",
}

// assetHeaders are the part of securityHeaders that means something on a
// file that can never become a document or a worker (a module, a
// stylesheet, JSON, a PNG): a module's or stylesheet's own Referrer-Policy
// governs the fetches it starts, and nosniff keeps each read as its type.
// The rest (CSP, framing, permissions, opener) only ever apply to a
// document or a worker, so sending them on the ~35 files of a first visit
// cost about 17 KB of headers for nothing.
var assetHeaders = map[string]string{
	"Referrer-Policy":        securityHeaders["Referrer-Policy"],
	"X-Content-Type-Options": securityHeaders["X-Content-Type-Options"],
}

// headersFor returns the security headers a served file needs: all of them
// for what a browser can open as a document or run as a worker (the page,
// the service worker, SVG, anything unknown), the asset set otherwise.
func headersFor(path, ctype string) map[string]string {
	switch {
	case path == "/sw.js":
		return securityHeaders
	case strings.HasPrefix(ctype, "text/javascript"), strings.HasPrefix(ctype, "application/javascript"),
		strings.HasPrefix(ctype, "text/css"), strings.HasPrefix(ctype, "application/json"),
		strings.HasPrefix(ctype, "application/manifest+json"), strings.HasPrefix(ctype, "image/png"):
		return assetHeaders
	}
	return securityHeaders
}

type asset struct {
	body  []byte
	gz    []byte // body gzipped, for text that shrinks; nil otherwise
	etag  string
	ctype string
}

// staticHandler serves the embedded app. Every response says "no-cache" with
// a content hash as its ETag, so a phone revalidates cheaply (304) and a new
// release reaches it on the next load. Text is also kept gzipped and sent so
// to browsers that accept it (with its own ETag and "Vary: Accept-Encoding"):
// a phone's first visit then transfers about a third of the bytes.
func staticHandler(fsys fs.FS, hsts bool) http.Handler {
	assets := map[string]*asset{}
	fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".go") || strings.HasSuffix(p, ".test.mjs") {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return nil
		}
		sum := sha256.Sum256(b)
		ct := mime.TypeByExtension(path.Ext(p))
		switch path.Ext(p) {
		case ".js", ".mjs":
			ct = "text/javascript; charset=utf-8"
		case ".webmanifest":
			ct = "application/manifest+json"
		case "":
			ct = "application/octet-stream"
		}
		a := &asset{body: b, etag: `"` + base64.RawURLEncoding.EncodeToString(sum[:12]) + `"`, ctype: ct}
		if compressible(ct) {
			if z := gzipped(b); len(z) < len(b) {
				a.gz = z
			}
		}
		assets["/"+p] = a
		return nil
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		if hsts {
			h.Set("Strict-Transport-Security", "max-age=63072000")
		}
		p := r.URL.Path
		if p == "/" {
			p = "/index.html"
		}
		a, ok := assets[p]
		if !ok {
			for k, v := range securityHeaders {
				h.Set(k, v)
			}
			http.NotFound(w, r)
			return
		}
		for k, v := range headersFor(p, a.ctype) {
			h.Set(k, v)
		}
		h.Set("Content-Type", a.ctype)
		h.Set("Cache-Control", "no-cache")
		body, etag := a.body, a.etag
		if a.gz != nil {
			h.Add("Vary", "Accept-Encoding")
			if acceptsGzip(r.Header.Get("Accept-Encoding")) {
				body, etag = a.gz, strings.TrimSuffix(a.etag, `"`)+`.gz"`
				h.Set("Content-Encoding", "gzip")
			}
		}
		h.Set("ETag", etag)
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
	})
}

// compressible reports whether a content type is text worth gzipping.
func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || strings.Contains(ctype, "javascript") ||
		strings.Contains(ctype, "json") || strings.Contains(ctype, "svg") || strings.Contains(ctype, "xml")
}

func gzipped(b []byte) []byte {
	var buf bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	zw.Write(b)
	zw.Close()
	return buf.Bytes()
}

// acceptsGzip reports whether an Accept-Encoding header allows gzip: "gzip"
// or "*" listed without q=0.
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		name, params, _ := strings.Cut(part, ";")
		name = strings.ToLower(strings.TrimSpace(name))
		if name != "gzip" && name != "*" {
			continue
		}
		if q, ok := strings.CutPrefix(strings.TrimSpace(params), "q="); ok {
			if v, err := strconv.ParseFloat(q, 64); err == nil && v == 0 {
				continue
			}
		}
		return true
	}
	return false
}
