// Package setup serves home mode's setup page: how a person makes an iPhone
// or an Android phone trust the certificate authority that package localca
// made on this computer, with the authority's fingerprint to check, the
// certificate to download (and for iOS a configuration profile), and the
// address of the app over HTTPS. It is served on plain HTTP, because until
// the phone trusts the authority HTTPS is exactly what does not work yet.
//
// The page is an embedded template with no script at all; the server puts
// the app's own security headers around it (edge.Secure).
package setup

import (
	"bytes"
	"crypto/x509"
	_ "embed"
	"html/template"
	"net/http"
	"strings"
	"time"

	"softland/server/localca"
)

// Paths under which the setup page and its downloads are served. The web
// app links to Path from its "this page needs HTTPS" screen.
const (
	Path        = "/setup"
	CertPath    = "/setup/softland-ca.crt"
	ProfilePath = "/setup/softland.mobileconfig"
	cssPath     = "/setup/setup.css"
)

// Content types of the downloads. A DER certificate as
// application/x-x509-ca-cert is what iOS and Android recognise as a CA
// certificate to install (RFC 2585's application/pkix-cert they do not);
// application/x-apple-aspen-config makes iOS offer to install a profile.
const (
	CertType    = "application/x-x509-ca-cert"
	ProfileType = "application/x-apple-aspen-config"
)

//go:embed page.html
var pageHTML string

//go:embed setup.css
var css []byte

var page = template.Must(template.New("setup").Parse(pageHTML))

// Config configures a Handler.
type Config struct {
	// CA is the certificate authority the phones must trust.
	CA *x509.Certificate
	// AppURL returns the HTTPS address of the app for a request to the
	// setup page, so the link names the host the phone already reached
	// when the server certificate covers it.
	AppURL func(r *http.Request) string
}

// Handler serves the setup page and its downloads under Path.
type Handler struct {
	appURL  func(r *http.Request) string
	caName  string
	fp      string
	crt     []byte
	profile []byte
}

// New returns a Handler for cfg.
func New(cfg Config) *Handler {
	return &Handler{
		appURL:  cfg.AppURL,
		caName:  cfg.CA.Subject.CommonName,
		fp:      localca.Fingerprint(cfg.CA),
		crt:     cfg.CA.Raw,
		profile: mobileconfig(cfg.CA),
	}
}

// ServeHTTP serves GET requests under Path; anything else there is 404.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	switch r.URL.Path {
	case Path:
		h.servePage(w, r)
	case Path + "/":
		http.Redirect(w, r, Path, http.StatusFound)
	case CertPath:
		download(w, r, CertType, "softland-ca.crt", h.crt)
	case ProfilePath:
		download(w, r, ProfileType, "softland.mobileconfig", h.profile)
	case cssPath:
		w.Header().Set("Content-Type", "text/css; charset=utf-8")
		w.Header().Set("Cache-Control", "no-cache")
		http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(css))
	default:
		http.NotFound(w, r)
	}
}

// Plain is the handler of home mode's plain-HTTP listener: the setup page
// under Path, "/" redirected to it, and nothing else (404), so no part of the
// app is ever served without TLS.
func (h *Handler) Plain() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/":
			http.Redirect(w, r, Path, http.StatusFound)
		case r.URL.Path == Path || strings.HasPrefix(r.URL.Path, Path+"/"):
			h.ServeHTTP(w, r)
		default:
			http.NotFound(w, r)
		}
	})
}

func (h *Handler) servePage(w http.ResponseWriter, r *http.Request) {
	app := h.appURL(r)
	qr, err := svgQR(app, "QR code of "+app)
	if err != nil {
		http.Error(w, "cannot draw the QR code", http.StatusInternalServerError)
		return
	}
	var b bytes.Buffer
	err = page.Execute(&b, struct {
		CAName, AppURL string
		Fingerprint    []string
		AppQR          template.HTML
	}{h.caName, app, fingerprintLines(h.fp), qr})
	if err != nil {
		http.Error(w, "cannot render the setup page", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.Write(b.Bytes())
}

// fingerprintLines splits a fingerprint into four lines of eight pairs, to
// compare by eye on a phone.
func fingerprintLines(fp string) []string {
	pairs := strings.Split(fp, ":")
	var lines []string
	for len(pairs) > 0 {
		n := min(8, len(pairs))
		lines = append(lines, strings.Join(pairs[:n], " "))
		pairs = pairs[n:]
	}
	return lines
}

func download(w http.ResponseWriter, r *http.Request, ctype, name string, body []byte) {
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "no-cache")
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}
