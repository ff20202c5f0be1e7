package browsertest

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"softland/server/servertest"
	"softland/static"
)

// TestServedFiles checks how the app's files are served: gzipped to
// browsers that accept it (with its own ETag and Vary), plain otherwise, 304
// on a matching ETag, the strict headers on the page and the service worker
// and the ones that matter to an asset on every other file, and no Go or
// test file at all.
func TestServedFiles(t *testing.T) {
	srv := servertest.Start(t)
	get := func(path, encoding, etag string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Accept-Encoding", encoding) // set, so Go does not decompress for us
		if etag != "" {
			req.Header.Set("If-None-Match", etag)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, b
	}
	for _, path := range []string{"/js/main.js", "/js/screens/checkin.js", "/app.css", "/catalog.json", "/manifest.webmanifest", "/index.html", "/sw.js"} {
		want, err := fs.ReadFile(static.FS, strings.TrimPrefix(path, "/"))
		if err != nil {
			t.Fatal(err)
		}
		res, body := get(path, "gzip, deflate, br", "")
		if res.Header.Get("Content-Encoding") != "gzip" || res.Header.Get("Vary") != "Accept-Encoding" {
			t.Fatalf("%s: Content-Encoding %q, Vary %q", path, res.Header.Get("Content-Encoding"), res.Header.Get("Vary"))
		}
		zr, err := gzip.NewReader(bytes.NewReader(body))
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if got, _ := io.ReadAll(zr); !bytes.Equal(got, want) {
			t.Errorf("%s: the gzipped body is not the file", path)
		}
		if len(body) >= len(want) {
			t.Errorf("%s: gzip did not shrink it (%d → %d)", path, len(want), len(body))
		}
		gzTag := res.Header.Get("ETag")
		plainRes, plain := get(path, "identity", "")
		if plainRes.Header.Get("Content-Encoding") != "" || !bytes.Equal(plain, want) {
			t.Errorf("%s: without gzip the file must come plain", path)
		}
		if plainRes.Header.Get("ETag") == gzTag {
			t.Errorf("%s: both encodings share the ETag %s", path, gzTag)
		}
		if res, _ := get(path, "gzip", gzTag); res.StatusCode != http.StatusNotModified {
			t.Errorf("%s: If-None-Match with its ETag: %d, want 304", path, res.StatusCode)
		}
		if res, _ := get(path, "gzip;q=0", ""); res.Header.Get("Content-Encoding") != "" {
			t.Errorf("%s: gzip;q=0 still got gzip", path)
		}
		for _, h := range []string{"Referrer-Policy", "X-Content-Type-Options"} {
			if res.Header.Get(h) == "" {
				t.Errorf("%s: no %s header", path, h)
			}
		}
		// The page and the service worker are what a policy applies to;
		// a module or a stylesheet is spared the bytes.
		if page := path == "/index.html" || path == "/sw.js"; page != (res.Header.Get("Content-Security-Policy") != "") ||
			page != (res.Header.Get("X-Frame-Options") != "") {
			t.Errorf("%s: CSP %q, X-Frame-Options %q", path, res.Header.Get("Content-Security-Policy"), res.Header.Get("X-Frame-Options"))
		}
		if res.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("%s: Cache-Control %q", path, res.Header.Get("Cache-Control"))
		}
	}
	if res, _ := get("/icons/icon-192.png", "gzip", ""); res.StatusCode != 200 || res.Header.Get("Content-Encoding") != "" || res.Header.Get("Content-Type") != "image/png" {
		t.Errorf("icon: %d, %q, %q", res.StatusCode, res.Header.Get("Content-Encoding"), res.Header.Get("Content-Type"))
	}
	for _, path := range []string{"/embed.go", "/js/rules.test.mjs", "/js/crypto.test.mjs", "/browsertest/flow_test.go"} {
		if res, _ := get(path, "gzip", ""); res.StatusCode != http.StatusNotFound {
			t.Errorf("%s is served (%d); Go and test files must not be", path, res.StatusCode)
		}
	}
}

// TestShellLists: the service worker caches every module the app imports
// (or an offline reload breaks on the one it lacks), and index.html
// preloads every module but the lazily loaded QR code, move and re-pair
// links and Web Push modules (and main.js, its script), so the first load
// needs no round trip per import.
func TestShellLists(t *testing.T) {
	sw, err := fs.ReadFile(static.FS, "sw.js")
	if err != nil {
		t.Fatal(err)
	}
	page, err := fs.ReadFile(static.FS, "index.html")
	if err != nil {
		t.Fatal(err)
	}
	var modules []string
	err = fs.WalkDir(static.FS, "js", func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(path, ".js") {
			modules = append(modules, "/"+path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(modules) < 20 {
		t.Fatalf("found only %d modules: %q", len(modules), modules)
	}
	// Loaded with import() only where needed, so a first visit does not
	// download them: the QR code, the move link, and waking the phone with
	// Web Push.
	lazy := map[string]bool{"/js/main.js": true, "/js/qr.js": true, "/js/move.js": true, "/js/replace.js": true, "/js/push.js": true, "/js/wake.js": true}
	for _, m := range modules {
		if !bytes.Contains(sw, []byte("'"+m+"'")) {
			t.Errorf("sw.js does not cache %s", m)
		}
		if !lazy[m] && !bytes.Contains(page, []byte(`<link rel="modulepreload" href="`+m+`">`)) {
			t.Errorf("index.html does not preload %s", m)
		}
	}
}

// shellVersion is the service worker's cache name (VERSION in sw.js).
func shellVersion(t *testing.T) string {
	t.Helper()
	sw, err := fs.ReadFile(static.FS, "sw.js")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`const VERSION = '([\w-]+)'`).FindSubmatch(sw)
	if m == nil {
		t.Fatal("sw.js has no VERSION")
	}
	return string(m[1])
}
