package browsertest

import (
	"bufio"
	"net"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"softland/server/servertest"
)

// flaky sits between the phones and the server like a network that can
// fail: down cuts every open WebSocket without a close frame (the browser
// sees 1006) and refuses new ones until up.
type flaky struct {
	next http.Handler

	mu    sync.Mutex
	conns []net.Conn
	off   bool
}

func (f *flaky) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/ws" {
		f.mu.Lock()
		off := f.off
		f.mu.Unlock()
		if off {
			http.Error(w, "the network is down", http.StatusServiceUnavailable)
			return
		}
		w = &hijackSpy{ResponseWriter: w, f: f}
	}
	f.next.ServeHTTP(w, r)
}

func (f *flaky) down() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.off = true
	for _, c := range f.conns {
		c.Close()
	}
	f.conns = nil
}

func (f *flaky) up() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.off = false
}

// hijackSpy keeps the connection a WebSocket takes over, so down can cut it.
type hijackSpy struct {
	http.ResponseWriter
	f *flaky
}

func (h *hijackSpy) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, rw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err == nil {
		h.f.mu.Lock()
		h.f.conns = append(h.f.conns, c)
		h.f.mu.Unlock()
	}
	return c, rw, err
}

// TestNetworkDrop: while the network is down, taps and a pause stay on the
// phones and show at once there; when it comes back, both phones resume and
// send what they owe, and the partner sees it.
func TestNetworkDrop(t *testing.T) {
	srv := servertest.Start(t)
	network := &flaky{next: srv.Edge}
	front := httptest.NewServer(network)
	t.Cleanup(front.Close)
	browser := startBrowser(t)
	alex := newPhone(t, browser, "alex")
	sam := newPhone(t, browser, "sam")
	pair(alex, sam, front.URL)
	for _, p := range []*phone{alex, sam} {
		p.tap("#pair-continue")
		p.visible("#screen-checkin")
		p.tap(`[data-need="water"]`)
	}
	before := sameSuggestions(t, alex, sam, nil)

	network.down()
	alex.state("#bar", "offline")
	sam.state("#bar", "offline")
	alex.tap(`[data-need="be-held"]`)
	sam.tap(`[data-need="hold-partner"]`)
	sam.tap("#pause-btn")
	sam.visible(`#pause[data-who="me"]`) // at once, on the pauser's phone
	alex.reload()                        // and a reload while offline loses nothing
	alex.visible("#screen-checkin")
	until[bool](alex, "the offline tap kept", `document.querySelector('[data-need="be-held"]').getAttribute('aria-pressed') === 'true'`)

	network.up()
	for _, p := range []*phone{alex, sam} {
		// The browser noticing the network is back.
		p.do("go online", chromedp.Evaluate[chromedp.Void](`window.dispatchEvent(new Event('online'))`))
	}
	alex.visible(`#pause[data-who="partner"]`) // the pause got through
	sam.tap("#unpause-btn")
	alex.gone("#pause")
	after := sameSuggestions(t, alex, sam, before)
	if !contains(after, "holds") {
		t.Errorf("after the drop the phones show %q; the closeness both tapped offline is missing", after)
	}
}
