package redisstore_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"

	"softland/server/protocol"
	"softland/server/servertest"
)

// waitFor bounds how long a test waits for something that must happen. It
// guards against hanging and is never a speed assertion.
const waitFor = 15 * time.Second

// phone is a raw protocol client over a real WebSocket.
type phone struct {
	t      *testing.T
	ws     *websocket.Conn
	frames chan []byte
	done   chan struct{}
	err    error // read error, valid once done is closed
	seq    int

	room, device, epoch string
	seat                int

	// offset is the last event offset seen; gaps counts events that did
	// not follow it; kinds counts events by kind.
	offset uint64
	gaps   int
	kinds  map[string]int
	// pending holds frames read while looking for another one, oldest
	// first; until and answer look there first.
	pending []frame
}

func dial(t *testing.T, srv *servertest.Server) *phone {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, srv.WSURL(), nil)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	ws.SetReadLimit(1 << 20)
	p := &phone{t: t, ws: ws, frames: make(chan []byte, 1024), done: make(chan struct{}), kinds: map[string]int{}}
	go func() {
		defer close(p.done)
		for {
			_, b, err := ws.Read(context.Background())
			if err != nil {
				p.err = err
				return
			}
			p.frames <- b
		}
	}()
	t.Cleanup(func() { ws.CloseNow(); <-p.done })
	return p
}

// send writes v as a frame, with a fresh request id, and returns the id.
func (p *phone) send(v any) string {
	p.t.Helper()
	p.seq++
	id := strconv.Itoa(p.seq)
	if h, ok := v.(interface{ SetID(string) }); ok {
		h.SetID(id)
	}
	b, err := protocol.Marshal(v)
	if err != nil {
		p.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := p.ws.Write(ctx, websocket.MessageText, b); err != nil {
		p.t.Fatalf("write: %v", err)
	}
	return id
}

// frame is a decoded server frame with the fields the tests look at.
type frame struct {
	protocol.Event
	ID       string             `json:"id"`
	Code     string             `json:"code"`
	Room     string             `json:"room"`
	Device   string             `json:"device"`
	Snapshot *protocol.Snapshot `json:"snapshot"`
	raw      []byte
}

func (p *phone) next() frame {
	p.t.Helper()
	var b []byte
	select {
	case b = <-p.frames:
	case <-p.done:
		select {
		case b = <-p.frames:
		default:
			p.t.Fatalf("socket ended while waiting for a frame: %v", p.err)
		}
	case <-time.After(waitFor):
		p.t.Fatal("no frame arrived")
	}
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		p.t.Fatalf("bad frame %s: %v", b, err)
	}
	if f.Type == protocol.TypeWelcome {
		var w protocol.Welcome
		json.Unmarshal(b, &w)
		f.Seat, f.Offset, f.Epoch = w.Seat, w.Offset, w.Epoch
		p.offset = w.Offset
	}
	if f.Type == protocol.TypeEvent {
		if f.Offset != p.offset+1 {
			p.gaps++
		}
		p.offset = f.Offset
		p.kinds[f.Kind]++
	}
	f.raw = b
	return f
}

// find returns the first frame, pending or new, that match accepts; the
// frames it passes over stay pending.
func (p *phone) find(match func(frame) bool) frame {
	p.t.Helper()
	for i, f := range p.pending {
		if match(f) {
			p.pending = slices.Delete(p.pending, i, i+1)
			return f
		}
	}
	for {
		f := p.next()
		if match(f) {
			return f
		}
		p.pending = append(p.pending, f)
	}
}

// until returns the first frame of type (or event kind) typ.
func (p *phone) until(typ string) frame {
	p.t.Helper()
	return p.find(func(f frame) bool {
		return f.Type == typ || (f.Type == protocol.TypeEvent && f.Kind == typ)
	})
}

// answer returns the ack or error of request id.
func (p *phone) answer(id string) frame {
	p.t.Helper()
	return p.find(func(f frame) bool {
		return (f.Type == protocol.TypeAck || f.Type == protocol.TypeError) && f.ID == id
	})
}

// ok sends v and fails unless it is acknowledged.
func (p *phone) ok(v any) frame {
	p.t.Helper()
	f := p.answer(p.send(v))
	if f.Type != protocol.TypeAck {
		p.t.Fatalf("refused: %s", f.raw)
	}
	return f
}

// sync does a ping round trip: every frame queued for p before the pong has
// been read once it returns.
func (p *phone) sync() {
	p.t.Helper()
	id := p.send(&protocol.Ping{Header: protocol.Header{Type: protocol.TypePing}})
	p.find(func(f frame) bool { return f.Type == protocol.TypePong && f.ID == id })
}

// count returns how many events of kind p has seen.
func (p *phone) count(kind string) int { return p.kinds[kind] }

// closed waits for the socket to end and returns its close status.
func (p *phone) closed() websocket.StatusCode {
	p.t.Helper()
	for {
		select {
		case <-p.frames:
			continue
		case <-p.done:
		case <-time.After(waitFor):
			p.t.Fatal("socket did not close")
		}
		return websocket.CloseStatus(p.err)
	}
}

func newKey() (raw []byte, b64 string) {
	raw = make([]byte, 32)
	rand.Read(raw)
	return raw, base64.RawURLEncoding.EncodeToString(raw)
}

func hashB64(raw []byte) string {
	s := sha256.Sum256(raw)
	return base64.RawURLEncoding.EncodeToString(s[:])
}

// create opens a room and returns the join key for the partner.
func (p *phone) create() string {
	p.t.Helper()
	raw, joinKey := newKey()
	p.send(&protocol.Create{Header: protocol.Header{Type: protocol.TypeCreate}, JoinKeyHash: hashB64(raw)})
	w := p.until(protocol.TypeWelcome)
	p.room, p.device, p.seat, p.epoch = w.Room, w.Device, 1, w.Epoch
	return joinKey
}

// join asks for seat 2 and returns the answer (a welcome or an error).
func (p *phone) join(room, joinKey string) frame {
	p.t.Helper()
	p.send(&protocol.Join{Header: protocol.Header{Type: protocol.TypeJoin}, Room: room, JoinKey: joinKey})
	w := p.next()
	if w.Type == protocol.TypeWelcome {
		p.room, p.device, p.seat, p.epoch = w.Room, w.Device, 2, w.Epoch
	}
	return w
}

// resume comes back as old's seat on a new socket and returns the answer.
func resume(t *testing.T, srv *servertest.Server, old *phone, offset uint64) (*phone, frame) {
	t.Helper()
	p := dial(t, srv)
	p.room, p.device, p.seat, p.epoch = old.room, old.device, old.seat, old.epoch
	p.send(&protocol.Resume{Header: protocol.Header{Type: protocol.TypeResume}, Room: old.room, Device: old.device, Epoch: old.epoch, Offset: offset})
	return p, p.next()
}

// pair pairs a (on srvA) and b (on srvB) and reads the pairing frames. It
// returns the join key b presented.
func pair(t *testing.T, srvA, srvB *servertest.Server) (a, b *phone, joinKey string) {
	t.Helper()
	a, b = dial(t, srvA), dial(t, srvB)
	joinKey = a.create()
	if w := b.join(a.room, joinKey); w.Type != protocol.TypeWelcome {
		t.Fatalf("join refused: %s", w.raw)
	}
	a.until(protocol.KindPaired)
	return a, b, joinKey
}

// openRound opens a round from p and waits for round.opened on both.
func openRound(t *testing.T, p, other *phone) string {
	t.Helper()
	f := p.ok(&protocol.RoundOpen{Header: protocol.Header{Type: protocol.TypeRoundOpen}})
	other.until(protocol.KindRoundOpened)
	return f.Round
}

// tokens is a full submission: the given tokens at ranks 0, 1, ... then
// random decoys, which it also returns.
func tokens(real ...string) (ts []protocol.Token, decoys []string) {
	ts = make([]protocol.Token, 0, protocol.TokenSetSize)
	for i, t := range real {
		ts = append(ts, protocol.Token{T: t, R: i})
	}
	for len(ts) < protocol.TokenSetSize {
		_, d := newKey()
		ts = append(ts, protocol.Token{T: d, R: len(ts)})
		decoys = append(decoys, d)
	}
	return ts, decoys
}

// tok returns a fixed token for a name.
func tok(name string) string {
	s := sha256.Sum256([]byte("token " + name))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

func blob(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// getStatus returns the status of GET url.
func getStatus(t *testing.T, url string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// eventually polls cond until it holds, failing the test after waitFor.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
