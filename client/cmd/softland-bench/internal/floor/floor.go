// Package floor is the bare relay the benchmark measures beside every
// server: the least a relay of Softland's shape can cost.
package floor

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/coder/websocket"

	"softland/server/protocol"
)

// The floor is the least a relay of this shape can cost: the same WebSocket
// library with the same options, and nothing else. A socket's first frame
// registers it under a pair id and seat (its "id" is "r.<pair>.<seat>") and is
// echoed back; every later frame is written to the partner and echoed to the
// sender, so a submit reaches both phones once, like a reveal, except a
// one-way message (id "m<n>"), which only goes to the partner. It keeps no
// state, logs nothing, checks nothing and sends no pings.
type floor struct {
	mu    sync.Mutex
	pairs map[string]*[2]*websocket.Conn
}

const floorWriteTimeout = 10 * time.Second

// Serve runs the floor on addr until ctx ends. Like softland it prints
// "listening on URL" once it accepts connections.
func Serve(ctx context.Context, addr string, stdout io.Writer) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	f := &floor{pairs: make(map[string]*[2]*websocket.Conn)}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ws", f.serveWS)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ready\n")) })
	mux.HandleFunc("GET /metrics", serveGoStats)
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "floor: listening on http://%s\n", ln.Addr())
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	hs.Close()
	return nil
}

func (f *floor) serveWS(w http.ResponseWriter, r *http.Request) {
	ws, err := websocket.Accept(w, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return
	}
	defer ws.CloseNow()
	ws.SetReadLimit(protocol.MaxFrameBytes)
	_, hello, err := ws.Read(context.Background())
	if err != nil {
		return
	}
	key, seat, ok := parseHello(FrameID(hello))
	if !ok {
		ws.Close(websocket.StatusPolicyViolation, "register first")
		return
	}
	f.mu.Lock()
	p := f.pairs[key]
	if p == nil {
		p = new([2]*websocket.Conn)
		f.pairs[key] = p
	}
	p[seat] = ws
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		if p[seat] == ws {
			p[seat] = nil
		}
		if p[0] == nil && p[1] == nil && f.pairs[key] == p {
			delete(f.pairs, key)
		}
		f.mu.Unlock()
	}()
	if !writeFloor(ws, hello) {
		return
	}
	for {
		_, b, err := ws.Read(context.Background())
		if err != nil {
			return
		}
		f.mu.Lock()
		partner := p[1-seat]
		f.mu.Unlock()
		if partner != nil {
			writeFloor(partner, b)
		}
		if oneWay(b) {
			continue
		}
		if !writeFloor(ws, b) {
			return
		}
	}
}

// oneWay reports whether a frame is a one-way message (its id starts with
// "m"): forwarded to the partner only, as a pub/sub relay would, for the
// benchmark's one-message-per-tap comparison.
func oneWay(b []byte) bool { return strings.HasPrefix(FrameID(b), "m") }

func writeFloor(ws *websocket.Conn, b []byte) bool {
	ctx, cancel := context.WithTimeout(context.Background(), floorWriteTimeout)
	defer cancel()
	return ws.Write(ctx, websocket.MessageText, b) == nil
}

// FrameID returns the "id" of a frame the benchmark made with
// protocol.Marshal, where it comes right after "v" and "type", without
// decoding the rest: a relay need not parse what it forwards, and the
// benchmark's reader of floor frames uses it too.
func FrameID(b []byte) string {
	const key = `"id":"`
	i := bytes.Index(b, []byte(key))
	if i < 0 {
		return ""
	}
	b = b[i+len(key):]
	j := bytes.IndexByte(b, '"')
	if j < 0 {
		return ""
	}
	return string(b[:j])
}

// HelloID is the id of a floor registration frame.
func HelloID(pair, seat int) string { return fmt.Sprintf("r.%d.%d", pair, seat) }

func parseHello(id string) (key string, seat int, ok bool) {
	rest, found := strings.CutPrefix(id, "r.")
	if !found {
		return "", 0, false
	}
	i := strings.LastIndexByte(rest, '.')
	if i <= 0 {
		return "", 0, false
	}
	switch rest[i+1:] {
	case "0":
		return rest[:i], 0, true
	case "1":
		return rest[:i], 1, true
	}
	return "", 0, false
}

// serveGoStats shows the runtime numbers the benchmark reads from softland's
// /metrics, under the same names, so the floor is measured the same way.
func serveGoStats(w http.ResponseWriter, _ *http.Request) {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	fmt.Fprintf(w, "go_memstats_mallocs_total %d\n", ms.Mallocs)
	fmt.Fprintf(w, "go_memstats_alloc_bytes_total %d\n", ms.TotalAlloc)
	fmt.Fprintf(w, "go_memstats_heap_inuse_bytes %d\n", ms.HeapInuse)
	fmt.Fprintf(w, "go_memstats_stack_inuse_bytes %d\n", ms.StackInuse)
	fmt.Fprintf(w, "go_goroutines %d\n", runtime.NumGoroutine())
}
