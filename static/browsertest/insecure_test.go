package browsertest

import (
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"softland/server/servertest"
)

// TestNotSecureContext: on a plain-http:// address that is not localhost
// (softland.test, mapped to 127.0.0.1 inside Chromium) the browser gives
// the page no WebCrypto and no service worker. The app says so and what to
// do, instead of failing; it links to the setup page only when the server
// offers one.
func TestNotSecureContext(t *testing.T) {
	srv := servertest.Start(t)
	withSetup := http.NewServeMux()
	withSetup.HandleFunc("/setup", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.Write([]byte("How to trust this server on your phone"))
	})
	withSetup.Handle("/", srv.Edge)
	home := httptest.NewServer(withSetup)
	t.Cleanup(home.Close)

	browser := startBrowser(t, chromedp.Flag("host-resolver-rules", "MAP softland.test 127.0.0.1"))
	for _, c := range []struct {
		name  string
		url   string
		setup bool
	}{
		{"plain", srv.URL, false},
		{"home", home.URL, true},
	} {
		_, port, err := net.SplitHostPort(strings.TrimPrefix(c.url, "http://"))
		if err != nil {
			t.Fatal(err)
		}
		p := newPhone(t, browser, c.name)
		p.open("http://softland.test:" + port + "/")
		p.visible("#screen-insecure")
		if eval[bool](p, `window.isSecureContext`) {
			t.Fatalf("%s: softland.test over http is a secure context; the test proves nothing", c.name)
		}
		if c.setup {
			p.visible("#insecure-setup")
			if href := eval[string](p, `document.querySelector('#insecure-setup').href`); href != "http://softland.test:"+port+"/setup" {
				t.Errorf("%s: the setup link goes to %q", c.name, href)
			}
			p.shot("22-needs-https")
		} else {
			p.visible("#insecure-ask")
			if eval[bool](p, `!document.querySelector('#insecure-setup').hidden`) {
				t.Errorf("%s: a setup link is shown though the server offers none", c.name)
			}
		}
		if got := eval[string](p, `document.querySelector('#insecure-title').textContent`); got != "This page needs HTTPS" {
			t.Errorf("%s: the screen says %q", c.name, got)
		}
	}
}
