package main

import (
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strconv"

	"softland/server/edge"
	"softland/server/localca"
	"softland/server/setup"
)

// Home mode (-tls local) serves the app over HTTPS with a certificate from a
// certificate authority this computer makes for itself (package localca), and
// a plain-HTTP setup page that tells each phone how to trust that authority
// (package setup). WebCrypto and service workers need a secure context, and
// two phones on a home network have no public name for ACME.
const (
	tlsLocal = "local"
	// DefaultLocalAddr is where home mode serves HTTPS when -addr is not
	// given; DefaultSetupAddr is where it serves the setup page.
	DefaultLocalAddr = ":8443"
	DefaultSetupAddr = ":8080"
)

// dataDir is where home mode keeps its CA: -data-dir, else
// $XDG_DATA_HOME/softland, else ~/.local/share/softland (the XDG Base
// Directory default), so that the CA, which both phones trust, survives
// restarts and is made only once.
func dataDir(c *config, getenv func(string) string) (string, error) {
	if c.dataDir != "" {
		return c.dataDir, nil
	}
	if x := getenv("XDG_DATA_HOME"); x != "" && filepath.IsAbs(x) {
		return filepath.Join(x, "softland"), nil
	}
	if h := getenv("HOME"); h != "" {
		return filepath.Join(h, ".local", "share", "softland"), nil
	}
	return "", errors.New("-tls local: give -data-dir (neither XDG_DATA_HOME nor HOME is set)")
}

// home is home mode's state: the authority and its setup page.
type home struct {
	ca  *localca.Authority
	dir string
}

func openHome(c *config, getenv func(string) string, logger *slog.Logger) (*home, error) {
	dir, err := dataDir(c, getenv)
	if err != nil {
		return nil, err
	}
	ca, err := localca.Open(localca.Options{Dir: dir, Logger: logger})
	if err != nil {
		return nil, err
	}
	return &home{ca: ca, dir: dir}, nil
}

// tlsConfig serves the authority's server certificate, which it reissues
// when this computer gains an address or the certificate nears its end.
func (h *home) tlsConfig() *tls.Config {
	return &tls.Config{GetCertificate: h.ca.GetCertificate, MinVersion: tls.VersionTLS12}
}

// url is the address phones use for a listener: its own IP when bound to
// one, else this computer's LAN address (else localhost).
func (h *home) url(scheme string, addr net.Addr) string {
	tcp, _ := addr.(*net.TCPAddr)
	host := "localhost"
	port := "0"
	if tcp != nil {
		port = strconv.Itoa(tcp.Port)
		if !tcp.IP.IsUnspecified() {
			host = tcp.IP.String()
		} else if lan := h.ca.Names().LAN(); lan != nil {
			host = lan.String()
		}
	}
	return scheme + "://" + net.JoinHostPort(host, port)
}

// setupHandler is the plain-HTTP listener's handler: the setup page and
// its downloads under /setup, "/" redirected there, nothing else. The page
// links to the app at the host the phone used to reach it when the server
// certificate covers that host (a phone that came by NAME.local stays on
// it), else at the LAN address.
func (h *home) setupHandler(app net.Addr) http.Handler {
	port := strconv.Itoa(app.(*net.TCPAddr).Port)
	s := setup.New(setup.Config{
		CA: h.ca.Certificate(),
		AppURL: func(r *http.Request) string {
			host, _, err := net.SplitHostPort(r.Host)
			if err != nil {
				host = r.Host
			}
			if host != "" && h.ca.Names().Has(host) {
				return "https://" + net.JoinHostPort(host, port) + "/"
			}
			return h.url("https", app) + "/"
		},
	})
	return edge.Secure(s.Plain())
}

// announce prints what the person at the computer needs: the setup address
// as text and as a QR code to scan with each phone, and the fingerprint the
// setup page must show.
func (h *home) announce(w io.Writer, app, setupAddr net.Addr) error {
	setupURL := h.url("http", setupAddr) + setup.Path
	fmt.Fprintf(w, "softland: home mode, the authority is kept in %s\n", h.dir)
	fmt.Fprintf(w, "softland: on each phone, open %s (scan the code) and follow the steps\n", setupURL)
	fmt.Fprintf(w, "softland: the page must show this fingerprint (SHA-256): %s\n", h.ca.Fingerprint())
	if err := setup.TerminalQR(w, setupURL); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "softland: then the app is at %s/\n", h.url("https", app))
	return err
}
