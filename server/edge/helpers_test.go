package edge_test

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/coder/websocket"

	"softland/server/protocol"
	"softland/server/servertest"
)

// waitFor bounds how long a test waits for a frame that must come. It is a
// guard against hanging, never a speed assertion.
const waitFor = 10 * time.Second

// phone is a raw protocol client: it sends frames exactly as given and keeps
// every frame it receives, raw, so tests can compare bytes.
type phone struct {
	t      *testing.T
	ws     *websocket.Conn
	frames chan []byte
	done   chan struct{}
	err    error // read error, valid after done is closed
	seq    int

	room, device, epoch string
	seat                int
	offset              uint64
}

func dial(t *testing.T, srv *servertest.Server) *phone {
	t.Helper()
	return dialHeader(t, srv, nil)
}

func dialHeader(t *testing.T, srv *servertest.Server, h http.Header) *phone {
	t.Helper()
	return dialOptions(t, srv, &websocket.DialOptions{HTTPHeader: h})
}

func dialOptions(t *testing.T, srv *servertest.Server, opts *websocket.DialOptions) *phone {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, srv.WSURL(), opts)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	ws.SetReadLimit(1 << 20)
	p := &phone{t: t, ws: ws, frames: make(chan []byte, 1024), done: make(chan struct{})}
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

// send marshals v (filling v and an id) and writes it.
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
	p.raw(b)
	return id
}

func (p *phone) raw(b []byte) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := p.ws.Write(ctx, websocket.MessageText, b); err != nil {
		p.t.Fatalf("write: %v", err)
	}
}

// next returns the next frame, raw.
func (p *phone) next() []byte {
	p.t.Helper()
	select {
	case b := <-p.frames:
		return b
	case <-p.done:
		select {
		case b := <-p.frames:
			return b
		default:
		}
		p.t.Fatalf("socket ended while waiting for a frame: %v", p.err)
	case <-time.After(waitFor):
		p.t.Fatal("no frame arrived")
	}
	return nil
}

// frame is a decoded server frame with the fields tests look at.
type frame struct {
	protocol.Event
	ID       string             `json:"id"`
	Code     string             `json:"code"`
	Message  string             `json:"message"`
	Room     string             `json:"room"`
	Device   string             `json:"device"`
	Snapshot *protocol.Snapshot `json:"snapshot"`
	Replay   []protocol.Event   `json:"replay"`
	raw      []byte
}

func (p *phone) nextFrame() frame {
	p.t.Helper()
	b := p.next()
	var f frame
	if err := json.Unmarshal(b, &f); err != nil {
		p.t.Fatalf("bad frame %s: %v", b, err)
	}
	var w protocol.Welcome
	if f.Type == protocol.TypeWelcome {
		json.Unmarshal(b, &w)
		f.Seat = w.Seat
		f.Offset = w.Offset
		f.Epoch = w.Epoch
	}
	f.raw = b
	if f.Type == protocol.TypeEvent {
		p.offset = f.Offset
	}
	return f
}

// expect returns the next frame and fails unless it is of type typ (for
// events, typ is the event kind).
func (p *phone) expect(typ string) frame {
	p.t.Helper()
	f := p.nextFrame()
	got := f.Type
	if got == protocol.TypeEvent {
		got = f.Kind
	}
	if got != typ {
		p.t.Fatalf("want %s, got %s", typ, f.raw)
	}
	return f
}

// expectError returns the next frame, which must be an error with code.
func (p *phone) expectError(code string) frame {
	p.t.Helper()
	f := p.expect(protocol.TypeError)
	if f.Code != code {
		p.t.Fatalf("want error %s, got %s", code, f.raw)
	}
	return f
}

// expectClose waits for the socket to end and checks the close code.
func (p *phone) expectClose(code websocket.StatusCode) {
	p.t.Helper()
	for {
		select {
		case b := <-p.frames:
			p.t.Logf("frame before close: %s", b)
			continue
		case <-p.done:
		case <-time.After(waitFor):
			p.t.Fatal("socket did not close")
		}
		break
	}
	if got := websocket.CloseStatus(p.err); got != code {
		p.t.Fatalf("want close %d, got %d (%v)", code, got, p.err)
	}
}

// quiet checks that no frame is waiting now. It can only catch a frame that
// has already arrived; tests call it after a round trip that orders after it.
func (p *phone) quiet() {
	p.t.Helper()
	select {
	case b := <-p.frames:
		p.t.Fatalf("unexpected frame %s", b)
	default:
	}
}

// sync does a ping round trip: every frame the server queued for this phone
// before the pong has arrived once it returns.
func (p *phone) sync() []frame {
	p.t.Helper()
	id := p.send(&protocol.Ping{Header: protocol.Header{Type: protocol.TypePing}})
	var got []frame
	for {
		f := p.nextFrame()
		if f.Type == protocol.TypePong && f.ID == id {
			return got
		}
		got = append(got, f)
	}
}

func key() (raw []byte, b64 string) {
	raw = make([]byte, 32)
	rand.Read(raw)
	return raw, base64.RawURLEncoding.EncodeToString(raw)
}

func hashB64(raw []byte) string {
	s := sha256.Sum256(raw)
	return base64.RawURLEncoding.EncodeToString(s[:])
}

// create opens a room; it returns the join key for the partner.
func (p *phone) create() string {
	p.t.Helper()
	raw, joinKey := key()
	p.send(&protocol.Create{Header: protocol.Header{Type: protocol.TypeCreate}, JoinKeyHash: hashB64(raw)})
	w := p.expect(protocol.TypeWelcome)
	p.room, p.device, p.seat, p.epoch, p.offset = w.Room, w.Device, 1, w.Epoch, w.Offset
	return joinKey
}

func (p *phone) join(room, joinKey string) frame {
	p.t.Helper()
	p.send(&protocol.Join{Header: protocol.Header{Type: protocol.TypeJoin}, Room: room, JoinKey: joinKey})
	w := p.nextFrame()
	if w.Type == protocol.TypeWelcome {
		p.room, p.device, p.seat, p.epoch, p.offset = w.Room, w.Device, 2, w.Epoch, w.Offset
	}
	return w
}

// resume reconnects as the seat of old on a new socket.
func resume(t *testing.T, srv *servertest.Server, old *phone, offset uint64) (*phone, frame) {
	t.Helper()
	p := dial(t, srv)
	p.room, p.device, p.seat, p.epoch = old.room, old.device, old.seat, old.epoch
	p.send(&protocol.Resume{Header: protocol.Header{Type: protocol.TypeResume}, Room: old.room, Device: old.device, Epoch: old.epoch, Offset: offset})
	w := p.expect(protocol.TypeWelcome)
	p.offset = w.Offset
	return p, w
}

// pair returns two phones paired in a new room, with all pairing frames read.
func pair(t *testing.T, srv *servertest.Server) (a, b *phone) {
	t.Helper()
	a, b = dial(t, srv), dial(t, srv)
	joinKey := a.create()
	if w := b.join(a.room, joinKey); w.Type != protocol.TypeWelcome {
		t.Fatalf("join refused: %s", w.raw)
	}
	a.expect(protocol.KindPaired)
	return a, b
}

// openRound opens a round from p and reads the round.opened event on both.
func openRound(t *testing.T, p, other *phone) string {
	t.Helper()
	p.send(&protocol.RoundOpen{Header: protocol.Header{Type: protocol.TypeRoundOpen}})
	var round string
	for round == "" {
		f := p.nextFrame()
		if f.Type == protocol.TypeAck {
			round = f.Round
		} else if f.Kind != protocol.KindRoundOpened {
			t.Fatalf("unexpected %s", f.raw)
		}
	}
	p.sync()
	other.expect(protocol.KindRoundOpened)
	return round
}

// tokens builds a full submission: the given tokens at ranks 0, 1, ...
// followed by random decoys.
func tokens(real ...string) []protocol.Token {
	out := make([]protocol.Token, 0, protocol.TokenSetSize)
	for i, t := range real {
		out = append(out, protocol.Token{T: t, R: i})
	}
	for len(out) < protocol.TokenSetSize {
		_, d := key()
		out = append(out, protocol.Token{T: d, R: len(out)})
	}
	return out
}

// tok returns a fixed token for a name, the same in every run.
func tok(name string) string {
	s := sha256.Sum256([]byte("token " + name))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

func submit(p *phone, round string, ts []protocol.Token) string {
	return p.send(&protocol.Submit{Header: protocol.Header{Type: protocol.TypeSubmit}, Round: round, Tokens: ts})
}

func base64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

// until reads frames until one of type (or event kind) typ and returns it.
func (p *phone) until(typ string) frame {
	p.t.Helper()
	for {
		f := p.nextFrame()
		if f.Type == typ || (f.Type == protocol.TypeEvent && f.Kind == typ) {
			return f
		}
	}
}
