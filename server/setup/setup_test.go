package setup

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/xml"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"softland/server/localca"
)

func testCA(t *testing.T) *x509.Certificate {
	t.Helper()
	a, err := localca.Open(localca.Options{
		Dir:   t.TempDir(),
		Names: func() (localca.Names, error) { return localca.Names{IPs: []net.IP{net.IPv4(127, 0, 0, 1)}}, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	return a.Certificate()
}

func fetch(t *testing.T, h http.Handler, method, path string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, "http://192.168.1.20:8080"+path, nil))
	return rec.Result()
}

func TestPlainServesSetupAndNothingElse(t *testing.T) {
	ca := testCA(t)
	h := New(Config{CA: ca, AppURL: func(r *http.Request) string { return "https://192.168.1.20:8443/" }}).Plain()

	resp := fetch(t, h, "GET", Path)
	page, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
		t.Fatalf("page: %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	fp := localca.Fingerprint(ca)
	for _, want := range []string{
		strings.ReplaceAll(fp[:23], ":", " "), // the first line of eight pairs
		`href="` + CertPath + `"`,
		`href="` + ProfilePath + `"`,
		`href="https://192.168.1.20:8443/"`,
		"Certificate Trust Settings",
		"Install a\ncertificate → CA certificate",
		"<svg class=\"qr\"",
	} {
		if !bytes.Contains(page, []byte(want)) {
			t.Errorf("page lacks %q", want)
		}
	}
	if bytes.Contains(page, []byte("<script")) {
		t.Error("the setup page has a script")
	}

	resp = fetch(t, h, "GET", CertPath)
	der, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("Content-Type") != CertType || !bytes.Equal(der, ca.Raw) {
		t.Errorf("certificate: %q, %d bytes, want the CA's DER", resp.Header.Get("Content-Type"), len(der))
	}

	resp = fetch(t, h, "GET", ProfilePath)
	profile, _ := io.ReadAll(resp.Body)
	if resp.Header.Get("Content-Type") != ProfileType {
		t.Errorf("profile type %q", resp.Header.Get("Content-Type"))
	}
	// The profile is a well-formed plist whose one payload is the CA as a
	// root certificate.
	var plist struct {
		Data   []string `xml:"dict>array>dict>data"`
		Inner  []string `xml:"dict>array>dict>string"`
		Outer  []string `xml:"dict>string"`
		Remove []string `xml:"dict>false"`
	}
	if err := xml.Unmarshal(profile, &plist); err != nil {
		t.Fatalf("profile: %v", err)
	}
	if len(plist.Data) != 1 {
		t.Fatalf("profile payloads: %d", len(plist.Data))
	}
	if b, err := base64.StdEncoding.DecodeString(plist.Data[0]); err != nil || !bytes.Equal(b, ca.Raw) {
		t.Errorf("profile payload is not the CA (%v)", err)
	}
	if !strings.Contains(strings.Join(plist.Inner, " "), "com.apple.security.root") || !strings.Contains(strings.Join(plist.Outer, " "), "Configuration") {
		t.Errorf("profile types: %q %q", plist.Inner, plist.Outer)
	}
	if again := fetch(t, h, "GET", ProfilePath); !bytes.Equal(must(io.ReadAll(again.Body)), profile) {
		t.Error("a second download gives another profile")
	}

	if resp := fetch(t, h, "GET", "/"); resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != Path {
		t.Errorf("/: %d to %q", resp.StatusCode, resp.Header.Get("Location"))
	}
	// No part of the app, its socket or its health and metrics routes is
	// served without TLS.
	for _, p := range []string{"/index.html", "/ws", "/app.js", "/catalog.json", "/metrics", "/healthz", "/setupx", "/setup/../index.html"} {
		if resp := fetch(t, h, "GET", p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d", p, resp.StatusCode)
		}
	}
	if resp := fetch(t, h, "POST", Path); resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", resp.StatusCode)
	}
}

func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

// TestQRHasFinderPatterns checks that the library's modules reach us the
// right way round: a QR code has a 7×7 finder pattern in three corners and
// none in the fourth, inside a light quiet zone.
func TestQRHasFinderPatterns(t *testing.T) {
	bits, err := bitmap("http://192.168.1.20:8080/setup")
	if err != nil {
		t.Fatal(err)
	}
	n := len(bits)
	if size := n - 2*quiet; size < 21 || (size-21)%4 != 0 {
		t.Fatalf("%d modules a side, not a QR version", size)
	}
	finder := func(x0, y0 int) bool {
		for y := range 7 {
			for x := range 7 {
				ring := max(abs(x-3), abs(y-3)) // 3: outer ring, 2: light ring, 0–1: dark centre
				if bits[y0+y][x0+x] != (ring != 2) {
					return false
				}
			}
		}
		return true
	}
	far := n - quiet - 7
	if !finder(quiet, quiet) || !finder(far, quiet) || !finder(quiet, far) || finder(far, far) {
		t.Error("finder patterns are not where a QR code has them")
	}
	for i := range n {
		if bits[0][i] || bits[i][0] || bits[n-1][i] || bits[i][n-1] {
			t.Fatal("the quiet zone has a dark module")
		}
	}

	var out bytes.Buffer
	if err := TerminalQR(&out, "http://192.168.1.20:8080/setup"); err != nil {
		t.Fatal(err)
	}
	if lines := strings.Count(out.String(), "\n"); lines != (n+1)/2 {
		t.Errorf("%d terminal lines for %d rows of modules", lines, n)
	}
}

func abs(x int) int { return max(x, -x) }
