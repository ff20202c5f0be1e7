package browsertest

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"slices"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/coder/websocket"

	"softland/server/servertest"
)

// newerServer stands in front of a real server. It relays the app's files
// and its sockets to the real server until newer is set; from then on it
// answers every frame on /ws the way a server of a later protocol version
// answers an older app: unsupported_version, echoing the frame's id.
type newerServer struct {
	wsURL   string
	newer   atomic.Bool
	refused atomic.Int32 // sockets answered as the newer server
	proxy   *httputil.ReverseProxy

	mu      sync.Mutex
	relayed []*websocket.Conn // the app's side of relayed sockets
}

func (n *newerServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/ws" {
		n.proxy.ServeHTTP(w, r)
		return
	}
	ws, err := websocket.Accept(w, r, nil)
	if err != nil {
		return
	}
	defer ws.CloseNow()
	ws.SetReadLimit(-1)
	if !n.newer.Load() {
		n.relay(r.Context(), ws)
		return
	}
	n.refused.Add(1)
	for {
		_, b, err := ws.Read(r.Context())
		if err != nil {
			return
		}
		var f struct {
			ID string `json:"id"`
		}
		json.Unmarshal(b, &f)
		answer, _ := json.Marshal(map[string]any{"v": 3, "type": "error", "id": f.ID, "code": "unsupported_version", "message": "this server speaks protocol version 3"})
		if ws.Write(r.Context(), websocket.MessageText, answer) != nil {
			return
		}
	}
}

// relay carries frames both ways between the app's socket and the real
// server's until either ends.
func (n *newerServer) relay(ctx context.Context, app *websocket.Conn) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	up, _, err := websocket.Dial(ctx, n.wsURL, nil)
	if err != nil {
		return
	}
	defer up.CloseNow()
	up.SetReadLimit(-1)
	n.mu.Lock()
	n.relayed = append(n.relayed, app)
	n.mu.Unlock()
	pump := func(from, to *websocket.Conn) {
		defer cancel()
		for {
			typ, b, err := from.Read(ctx)
			if err != nil || to.Write(ctx, typ, b) != nil {
				return
			}
		}
	}
	go pump(up, app)
	pump(app, up)
}

// drop cuts every relayed socket, as a server restart would.
func (n *newerServer) drop() {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, ws := range n.relayed {
		ws.CloseNow()
	}
	n.relayed = nil
}

// TestOutdatedAppReloadsOnce: a paired phone whose app is older than the
// server's protocol stops connecting, reloads once to get the new app
// shell, and, refused again (here the "new" shell is the same), shows the
// outdated notice instead of reloading in a loop; its room stays stored,
// and once the server speaks its version again the notice's button brings
// it back to the room.
func TestOutdatedAppReloadsOnce(t *testing.T) {
	srv := servertest.Start(t)
	target, err := url.Parse(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	n := &newerServer{wsURL: srv.WSURL(), proxy: httputil.NewSingleHostReverseProxy(target)}
	front := httptest.NewServer(n)
	t.Cleanup(front.Close)
	browser := startBrowser(t)
	alex := newPhone(t, browser, "alex")
	sam := newPhone(t, browser, "sam")
	pair(alex, sam, front.URL)
	toCheckin(alex)
	stored := alex.storedKeys()

	// The server is upgraded (it restarts): the sockets drop, and the
	// phones come back to a server of a later version.
	sam.open("about:blank") // only alex's app is under test here
	eval[int](alex, `window.softlandTestMark = 1`)
	n.newer.Store(true)
	n.drop()
	alex.visible(`#screen-notice[data-kind="outdated"]`)
	if got := n.refused.Load(); got != 2 {
		t.Errorf("%d sockets refused for their version, want 2: one before the app's reload, one after", got)
	}
	if marked := eval[bool](alex, `window.softlandTestMark === 1`); marked {
		t.Error("the app did not reload itself")
	}
	if after := alex.storedKeys(); !slices.Equal(after, stored) {
		t.Errorf("stored keys changed: %v, then %v", stored, after)
	}

	refused := n.refused.Load()

	n.newer.Store(false)
	alex.tap("#notice-primary")
	alex.visible("#screen-checkin")
	if got := n.refused.Load(); got != refused {
		t.Errorf("%d sockets refused after the server spoke the app's version again, want %d", got, refused)
	}
}
