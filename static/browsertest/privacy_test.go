package browsertest

import (
	"bytes"
	"compress/gzip"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/cdproto/network"
	"github.com/chromedp/chromedp"

	"softland/server/servertest"
)

// recorder sits in front of the server and keeps every request the browser
// makes (service worker included): method, URL, headers and body, and the
// body of each answer but the WebSocket's.
type recorder struct {
	next http.Handler
	mu   sync.Mutex
	reqs []*recorded
}

type recorded struct {
	method   string
	uri      string
	header   http.Header
	body     []byte
	status   int
	resp     []byte
	respHead int // bytes of the answer's status line and headers, as HTTP/1.1 sends them
}

func (rc *recorder) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	r.Body = io.NopCloser(bytes.NewReader(body))
	rec := &recorded{method: r.Method, uri: r.RequestURI, header: r.Header.Clone(), body: body}
	rc.mu.Lock()
	rc.reqs = append(rc.reqs, rec)
	rc.mu.Unlock()
	if r.URL.Path == "/ws" {
		rc.next.ServeHTTP(w, r)
		return
	}
	cw := &captureWriter{ResponseWriter: w, status: http.StatusOK}
	rc.next.ServeHTTP(cw, r)
	head := len("HTTP/1.1 200 OK\r\n\r\n") + len("Date: Mon, 02 Jan 2006 15:04:05 GMT\r\n")
	for k, vs := range cw.Header() {
		for _, v := range vs {
			head += len(k) + len(": \r\n") + len(v)
		}
	}
	rc.mu.Lock()
	rec.status, rec.resp, rec.respHead = cw.status, cw.buf.Bytes(), head
	rc.mu.Unlock()
}

func (rc *recorder) all() []recorded {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	out := make([]recorded, len(rc.reqs))
	for i, r := range rc.reqs {
		out[i] = *r
	}
	return out
}

type captureWriter struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
}

func (c *captureWriter) WriteHeader(code int) { c.status = code; c.ResponseWriter.WriteHeader(code) }
func (c *captureWriter) Write(b []byte) (int, error) {
	c.buf.Write(b)
	return c.ResponseWriter.Write(b)
}
func (c *captureWriter) Unwrap() http.ResponseWriter { return c.ResponseWriter }

// startRecorded starts a server with a recorder in front of it.
func startRecorded(t *testing.T) (*httptest.Server, *recorder) {
	t.Helper()
	srv := servertest.Start(t)
	rc := &recorder{next: srv.Edge}
	front := httptest.NewServer(rc)
	t.Cleanup(front.Close)
	return front, rc
}

// secretForms are the ways the room secret, or a key derived from it that
// must stay on the phones, could show up in traffic.
func secretForms(t *testing.T, link string) map[string]string {
	t.Helper()
	_, frag, ok := strings.Cut(link, "#")
	if !ok {
		t.Fatalf("link %q has no fragment", link)
	}
	_, enc, _ := strings.Cut(frag, ".")
	secret, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil || len(secret) != 32 {
		t.Fatalf("link %q: bad secret", link)
	}
	forms := map[string]string{
		"fragment":         frag,
		"secret":           enc,
		"secret (std b64)": base64.RawStdEncoding.EncodeToString(secret),
		"secret (hex)":     hex.EncodeToString(secret),
		"secret (escaped)": url.QueryEscape(enc),
	}
	for _, info := range []string{"match", "seal"} {
		k, err := hkdf.Key(sha256.New, secret, nil, "softland/v1/"+info, 32)
		if err != nil {
			t.Fatal(err)
		}
		forms[info+" key"] = base64.RawURLEncoding.EncodeToString(k)
		forms[info+" key (hex)"] = hex.EncodeToString(k)
	}
	return forms
}

// sentFrames collects every WebSocket message the phone's page sends.
func (p *phone) sentFrames() func() []string {
	var (
		mu     sync.Mutex
		frames []string
		wg     sync.WaitGroup
	)
	events := chromedp.Events(p.ctx, network.WebSocketFrameSent)
	wg.Go(func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			mu.Lock()
			frames = append(frames, string(ev.Response.PayloadData))
			mu.Unlock()
		}
	})
	return func() []string {
		mu.Lock()
		defer mu.Unlock()
		return append([]string(nil), frames...)
	}
}

// TestLinkSecretNeverSent pairs two phones and goes through a round, a
// pause, shared settings, space and a debrief while recording every request
// at the server and every WebSocket message the pages send: none may carry
// the link's secret, its fragment or the keys that must stay on the phones,
// and no request carries a Referer at all.
func TestLinkSecretNeverSent(t *testing.T) {
	front, rc := startRecorded(t)
	browser := startBrowser(t)
	alex := newPhone(t, browser, "alex")
	sam := newPhone(t, browser, "sam")
	framesA, framesS := alex.sentFrames(), sam.sentFrames()

	alex.open(front.URL)
	alex.tap("#create")
	link := until[string](alex, "the pairing link", `document.querySelector('#pair-link').value`)
	sam.open(link)
	sam.state("#pair-status", "paired")
	if href := eval[string](sam, `location.href`); href != front.URL+"/" {
		t.Errorf("after opening the link the address is %q, want %q", href, front.URL+"/")
	}
	for _, p := range []*phone{alex, sam} {
		p.tap("#pair-continue")
		p.visible("#screen-checkin")
	}
	alex.tap(`[data-need="water"]`)
	alex.tap(`[data-need="space-10"]`)
	sam.tap(`[data-need="water"]`)
	sameSuggestions(t, alex, sam, nil)
	sam.tap("#pause-btn")
	alex.visible(`#pause[data-who="partner"]`)
	sam.tap("#unpause-btn")
	alex.gone("#pause")
	sam.tap("#nav-plan")
	sam.typeInto("#plan-pauseword", "mandarina")
	sam.tap("#share-settings")
	until[bool](alex, "the shared pause word", `document.querySelector('#pause-word').textContent === 'mandarina'`)
	alex.tap("#close-round")
	alex.typeInto("#debrief-helped", "water")
	alex.tap("#debrief-send")
	sam.tap("#nav-debrief")
	sam.typeInto("#debrief-helped", "quiet")
	sam.tap("#debrief-send")
	alex.visible("#debrief-released")
	sam.visible("#debrief-released")
	sam.reload()
	sam.visible("#screen-checkin")
	sam.state("#bar", "online")

	forms := secretForms(t, link)
	check := func(where, s string) {
		t.Helper()
		for name, f := range forms {
			if strings.Contains(s, f) {
				t.Errorf("%s carries the %s", where, name)
			}
		}
	}
	reqs := rc.all()
	if len(reqs) < 10 {
		t.Fatalf("only %d requests were recorded", len(reqs))
	}
	paths := map[string]bool{}
	for _, r := range reqs {
		paths[strings.SplitN(r.uri, "?", 2)[0]] = true
		check(r.method+" "+r.uri, r.uri)
		check("the body of "+r.uri, string(r.body))
		for k, vs := range r.header {
			for _, v := range vs {
				check("header "+k+" of "+r.uri, v)
			}
		}
		if ref := r.header.Get("Referer"); ref != "" {
			t.Errorf("%s was sent with a Referer: %s", r.uri, ref)
		}
	}
	for _, p := range []string{"/", "/ws", "/js/main.js", "/catalog.json", "/sw.js"} {
		if !paths[p] {
			t.Errorf("no request for %s was recorded; recorded %v", p, paths)
		}
	}
	frames := append(framesA(), framesS()...)
	if len(frames) < 10 {
		t.Fatalf("only %d WebSocket messages were seen", len(frames))
	}
	for _, f := range frames {
		check("a WebSocket message", f)
	}
	t.Logf("checked %d requests and %d WebSocket messages", len(reqs), len(frames))
}

// TestFirstLoad measures what a phone's first visit transfers: every
// response the server sends (status line, headers and body) until the app
// shows and its service worker has cached the shell. It must stay under
// 100 KB; the server gzips text for browsers that accept it.
func TestFirstLoad(t *testing.T) {
	front, rc := startRecorded(t)
	browser := startBrowser(t)
	p := newPhone(t, browser, "first")
	p.open(front.URL)
	p.visible("#screen-welcome")
	until[bool](p, "the shell cached by the service worker", fmt.Sprintf(`(async () => {
		const reg = await navigator.serviceWorker.ready;
		return Boolean(reg.active) && (await caches.has(%[1]q)) && (await (await caches.open(%[1]q)).keys()).length >= 30;
	})()`, shellVersion(t)))

	var head, body, plain, n int
	for _, r := range rc.all() {
		if r.uri == "/ws" {
			continue
		}
		size := len(r.resp)
		if zr, err := gzip.NewReader(bytes.NewReader(r.resp)); err == nil {
			if b, err := io.ReadAll(zr); err == nil {
				size = len(b)
			}
		}
		if len(r.resp) > 0 {
			t.Logf("%3d %-24s %6d bytes sent (%6d uncompressed)", r.status, r.uri, len(r.resp), size)
		} else {
			t.Logf("%3d %-24s (revalidated, no body)", r.status, r.uri)
		}
		n++
		head += r.respHead
		body += len(r.resp)
		plain += size
	}
	total := head + body
	t.Logf("first load: %d responses, %d bytes: %d of headers, %d of bodies (%d uncompressed)", n, total, head, body, plain)
	if total >= 100*1024 {
		t.Errorf("the first load transfers %d bytes, over the 100 KB budget", total)
	}
}

// TestOfflineShell: once the service worker has cached the shell, the app
// opens with the server gone — the room, the link and the taps all come from
// the phone — and says plainly that it is offline.
func TestOfflineShell(t *testing.T) {
	srv := servertest.Start(t)
	front := httptest.NewServer(srv.Edge)
	t.Cleanup(front.Close)
	browser := startBrowser(t)
	p := newPhone(t, browser, "offline")
	p.open(front.URL)
	p.tap("#create")
	link := until[string](p, "the pairing link", `document.querySelector('#pair-link').value`)
	until[bool](p, "a controlling service worker", `Boolean(navigator.serviceWorker.controller)`)

	front.CloseClientConnections()
	front.Close()
	p.reload()
	p.visible("#screen-pair")
	if got := until[string](p, "the link", `document.querySelector('#pair-link').value`); got != link {
		t.Errorf("offline, the pairing link is %q, want %q", got, link)
	}
	until[bool](p, "an offline status", `['offline', 'connecting'].includes(document.querySelector('#bar').dataset.state)`)
}
