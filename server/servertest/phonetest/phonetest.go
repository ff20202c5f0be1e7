// Package phonetest is the raw protocol phone of Softland's tests: it dials
// a server's /ws, sends frames exactly as given and keeps every frame it
// receives, raw, so tests check the wire itself, and every test package
// reads it the same way. It needs only the protocol and a socket, so it does
// not import servertest: it dials a servertest.Server or a server started
// any other way alike. Like servertest it is imported only by tests.
package phonetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"softland/server/protocol"
)

// WaitFor bounds how long a phone waits for what must happen: a dial, a
// write, a frame, a close. It guards against a hanging test and is never a
// speed assertion, so it is generous: tests share a busy machine.
const WaitFor = 15 * time.Second

// Server is what a phone dials: WSURL is the ws:// URL of its /ws. A
// *servertest.Server is one; BaseURL makes one of any other server.
type Server interface{ WSURL() string }

// BaseURL is the http(s) URL a server started outside servertest (a built
// binary, another instance) serves on, so a phone can dial it by that.
type BaseURL string

// WSURL returns the URL of /ws below u.
func (u BaseURL) WSURL() string {
	return "ws" + strings.TrimPrefix(strings.TrimSuffix(string(u), "/"), "http") + "/ws"
}

// Credentials are what a phone keeps to come back to its seat on a new
// socket. Tests copy and alter them to try resumes that must fail.
type Credentials struct {
	Room, Device, Epoch string
	Seat                int
}

// Phone is one raw protocol client over a real WebSocket. Its methods fail
// the test it was dialled in when the server does not answer as they
// require, so only the test's own goroutine may call them.
type Phone struct {
	Credentials        // set by Create, Join and Resume
	JoinKey     string // made by Create, for tests that look where it ends up
	// Offset is that of the last welcome or event read: where a resume
	// picks up.
	Offset uint64
	// Conn is the socket, for what Send cannot do: binary frames, writes
	// from other goroutines, a normal close.
	Conn *websocket.Conn

	t        testing.TB
	frames   chan []byte
	done     chan struct{} // closed when the reader has ended
	err      error         // the read error, valid once done is closed
	stop     chan struct{} // ends the reader even while frames is full
	stopOnce sync.Once
	seq      int
	pending  []Frame // read while looking for another, oldest first
	gaps     int
	kinds    map[string]int
}

// Dial opens a socket to srv, with opts when given (headers, an HTTP
// client, a ping handler). It is dropped when the test ends.
func Dial(t testing.TB, srv Server, opts ...*websocket.DialOptions) *Phone {
	t.Helper()
	var o *websocket.DialOptions
	if len(opts) > 0 {
		o = opts[0]
	}
	ctx, cancel := context.WithTimeout(context.Background(), WaitFor)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, srv.WSURL(), o)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	ws.SetReadLimit(1 << 20)
	p := &Phone{Conn: ws, t: t, frames: make(chan []byte, 1024), done: make(chan struct{}), stop: make(chan struct{}), kinds: map[string]int{}}
	go func() {
		defer close(p.done)
		for {
			_, b, err := ws.Read(context.Background())
			if err != nil {
				p.err = err
				return
			}
			select {
			case p.frames <- b:
			case <-p.stop:
				p.err = context.Canceled
				return
			}
		}
	}()
	t.Cleanup(p.Drop)
	return p
}

// Drop closes the socket without a close frame, as when a phone's network
// vanishes, and waits until the phone has stopped reading.
func (p *Phone) Drop() {
	p.Conn.CloseNow()
	p.stopOnce.Do(func() { close(p.stop) })
	<-p.done
}

// Send writes v as a frame with a fresh request id and returns the id.
func (p *Phone) Send(v any) string {
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
	p.SendRaw(b)
	return id
}

// SendRaw writes b as a text frame exactly as given, for frames the
// protocol package would not marshal.
func (p *Phone) SendRaw(b []byte) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), WaitFor)
	defer cancel()
	if err := p.Conn.Write(ctx, websocket.MessageText, b); err != nil {
		p.t.Fatalf("write: %v", err)
	}
}

// Frame is a decoded server frame with the fields tests look at, and in Raw
// the frame itself, for comparing bytes.
type Frame struct {
	protocol.Event
	ID        string             `json:"id"`
	Code      string             `json:"code"`
	Message   string             `json:"message"`
	Room      string             `json:"room"`
	Device    string             `json:"device"`
	Snapshot  *protocol.Snapshot `json:"snapshot"`
	Replay    []protocol.Event   `json:"replay"`
	Move      string             `json:"move"`      // on the ack of move.create
	ExpiresAt int64              `json:"expiresAt"` // likewise
	Replace   string             `json:"replace"`   // on the ack of replace.create
	Raw       []byte             `json:"-"`
}

// is reports whether f is of type typ, or an event of kind typ.
func (f Frame) is(typ string) bool {
	return f.Type == typ || (f.Type == protocol.TypeEvent && f.Kind == typ)
}

// read returns the next frame from the socket, past the pending ones, and
// keeps the offset and the gap and kind counts.
func (p *Phone) read() Frame {
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
	case <-time.After(WaitFor):
		p.t.Fatal("no frame arrived")
	}
	var f Frame
	if err := json.Unmarshal(b, &f); err != nil {
		p.t.Fatalf("bad frame %s: %v", b, err)
	}
	switch f.Type {
	case protocol.TypeWelcome:
		var w protocol.Welcome
		json.Unmarshal(b, &w)
		f.Seat, f.Offset, f.Epoch = w.Seat, w.Offset, w.Epoch
		p.Offset = w.Offset
	case protocol.TypeEvent:
		if f.Offset != p.Offset+1 {
			p.gaps++
		}
		p.Offset = f.Offset
		p.kinds[f.Kind]++
	}
	f.Raw = b
	return f
}

// Next returns the next frame not yet returned: the oldest pending one, or
// else the next from the socket.
func (p *Phone) Next() Frame {
	p.t.Helper()
	if len(p.pending) > 0 {
		f := p.pending[0]
		p.pending = p.pending[1:]
		return f
	}
	return p.read()
}

// find returns the first frame, pending or new, that match accepts; the
// frames it passes over stay pending.
func (p *Phone) find(match func(Frame) bool) Frame {
	p.t.Helper()
	for i, f := range p.pending {
		if match(f) {
			p.pending = slices.Delete(p.pending, i, i+1)
			return f
		}
	}
	for {
		f := p.read()
		if match(f) {
			return f
		}
		p.pending = append(p.pending, f)
	}
}

// Expect returns the next frame, which must be of type typ (for events, of
// kind typ): for tests where nothing may come before it.
func (p *Phone) Expect(typ string) Frame {
	p.t.Helper()
	f := p.Next()
	if !f.is(typ) {
		p.t.Fatalf("want %s, got %s", typ, f.Raw)
	}
	return f
}

// ExpectError returns the next frame, which must be an error with code.
func (p *Phone) ExpectError(code string) Frame {
	p.t.Helper()
	f := p.Expect(protocol.TypeError)
	if f.Code != code {
		p.t.Fatalf("want error %s, got %s", code, f.Raw)
	}
	return f
}

// Until returns the first frame of type (or event kind) typ, for tests where
// the order of the others does not matter; those stay pending.
func (p *Phone) Until(typ string) Frame {
	p.t.Helper()
	return p.find(func(f Frame) bool { return f.is(typ) })
}

// Answer returns the ack or error of request id; the frames it passes over
// stay pending.
func (p *Phone) Answer(id string) Frame {
	p.t.Helper()
	return p.find(func(f Frame) bool {
		return (f.Type == protocol.TypeAck || f.Type == protocol.TypeError) && f.ID == id
	})
}

// OK sends v and returns its ack; the server must not refuse it.
func (p *Phone) OK(v any) Frame {
	p.t.Helper()
	f := p.Answer(p.Send(v))
	if f.Type != protocol.TypeAck {
		p.t.Fatalf("refused: %s", f.Raw)
	}
	return f
}

// Sync does a ping round trip and returns the frames not yet read that came
// before the pong, pending ones first: once it returns, the phone has read
// everything the server sent it before the ping, and nothing is pending.
func (p *Phone) Sync() []Frame {
	p.t.Helper()
	id := p.Send(&protocol.Ping{Header: protocol.Header{Type: protocol.TypePing}})
	got := p.pending
	p.pending = nil
	for {
		f := p.read()
		if f.Type == protocol.TypePong && f.ID == id {
			return got
		}
		got = append(got, f)
	}
}

// Quiet fails if a frame is pending or waiting now. It can only catch a
// frame that has arrived, so tests call it after a round trip the frame
// would have come before.
func (p *Phone) Quiet() {
	p.t.Helper()
	if len(p.pending) > 0 {
		p.t.Fatalf("unexpected frame %s", p.pending[0].Raw)
	}
	select {
	case b := <-p.frames:
		p.t.Fatalf("unexpected frame %s", b)
	default:
	}
}

// Closed waits for the socket to end and returns its close status. Frames
// not yet read are logged and dropped.
func (p *Phone) Closed() websocket.StatusCode {
	p.t.Helper()
	for _, f := range p.pending {
		p.t.Logf("frame before close: %s", f.Raw)
	}
	p.pending = nil
	for {
		select {
		case b := <-p.frames:
			p.t.Logf("frame before close: %s", b)
			continue
		case <-p.done:
		case <-time.After(WaitFor):
			p.t.Fatal("socket did not close")
		}
		return websocket.CloseStatus(p.err)
	}
}

// ExpectClose waits for the socket to end, which the server must do with
// code.
func (p *Phone) ExpectClose(code websocket.StatusCode) {
	p.t.Helper()
	if got := p.Closed(); got != code {
		p.t.Fatalf("want close %d, got %d (%v)", code, got, p.err)
	}
}

// Count returns how many events of kind the phone has read, so a test can
// tell that one arrived exactly once.
func (p *Phone) Count(kind string) int { return p.kinds[kind] }

// Gaps returns how many events the phone read whose offset did not follow
// the one before: a stream without loss or repetition has none.
func (p *Phone) Gaps() int { return p.gaps }

// NewKey returns a fresh random 32-byte value, raw and as it travels
// (base64url): the shape of a join key, a device token, a nonce or a token.
func NewKey() (raw []byte, b64 string) {
	raw = make([]byte, 32)
	rand.Read(raw)
	return raw, base64.RawURLEncoding.EncodeToString(raw)
}

// KeyHash returns the hash of a raw join key as its creator sends it: the
// server checks join keys against it and never sees the key itself.
func KeyHash(raw []byte) string {
	s := sha256.Sum256(raw)
	return base64.RawURLEncoding.EncodeToString(s[:])
}

// Create opens a room as seat 1 and returns the join key for the partner
// (kept in JoinKey too). The welcome must be the first answer.
func (p *Phone) Create() string {
	p.t.Helper()
	raw, joinKey := NewKey()
	p.Send(&protocol.Create{Header: protocol.Header{Type: protocol.TypeCreate}, JoinKeyHash: KeyHash(raw)})
	w := p.Expect(protocol.TypeWelcome)
	p.Credentials = Credentials{Room: w.Room, Device: w.Device, Epoch: w.Epoch, Seat: 1}
	p.JoinKey = joinKey
	return joinKey
}

// Join asks for seat 2 of room and returns the answer, a welcome or an
// error; a welcomed phone takes the seat.
func (p *Phone) Join(room, joinKey string) Frame {
	p.t.Helper()
	p.Send(&protocol.Join{Header: protocol.Header{Type: protocol.TypeJoin}, Room: room, JoinKey: joinKey})
	w := p.Next()
	if w.Type == protocol.TypeWelcome {
		p.Credentials = Credentials{Room: w.Room, Device: w.Device, Epoch: w.Epoch, Seat: 2}
	}
	return w
}

// Resume takes c as the phone's credentials, asks for c's seat with the
// events after offset, and returns the answer, a welcome or an error.
func (p *Phone) Resume(c Credentials, offset uint64) Frame {
	p.t.Helper()
	p.Credentials = c
	p.Send(&protocol.Resume{Header: protocol.Header{Type: protocol.TypeResume}, Room: c.Room, Device: c.Device, Epoch: c.Epoch, Offset: offset})
	return p.Next()
}

// Reconnect comes back to c's seat on a new socket to srv, as a phone does
// after its connection dropped, and returns the phone and the welcome, which
// must be the answer.
func Reconnect(t testing.TB, srv Server, c Credentials, offset uint64) (*Phone, Frame) {
	t.Helper()
	p := Dial(t, srv)
	w := p.Resume(c, offset)
	if w.Type != protocol.TypeWelcome {
		t.Fatalf("want %s, got %s", protocol.TypeWelcome, w.Raw)
	}
	return p, w
}

// Pair returns two phones paired in a new room, the pairing frames read: a
// creates it on srv, and b joins on other when given (another instance
// sharing the store), else on srv.
func Pair(t testing.TB, srv Server, other ...Server) (a, b *Phone) {
	t.Helper()
	srvB := srv
	if len(other) > 0 {
		srvB = other[0]
	}
	a, b = Dial(t, srv), Dial(t, srvB)
	joinKey := a.Create()
	if w := b.Join(a.Room, joinKey); w.Type != protocol.TypeWelcome {
		t.Fatalf("join refused: %s", w.Raw)
	}
	a.Expect(protocol.KindPaired)
	return a, b
}

// OpenRound opens a round from p, reads round.opened on both phones and
// returns the round. The partner must hear round.opened next.
func OpenRound(t testing.TB, p, other *Phone) string {
	t.Helper()
	f := p.OK(&protocol.RoundOpen{Header: protocol.Header{Type: protocol.TypeRoundOpen}})
	p.Until(protocol.KindRoundOpened)
	other.Expect(protocol.KindRoundOpened)
	return f.Round
}

// Tokens builds a full submission in wire form: the given tokens (each
// spelled as Tok spells them) at ranks 0, 1, ... followed by random decoys.
func Tokens(real ...string) string {
	return protocol.EncodeTokens(TokenSet(real...))
}

// TokenSet is Tokens before encoding: real at ranks 0, 1, ..., then random
// decoys.
func TokenSet(real ...string) []protocol.Token {
	ts := make([]protocol.Token, protocol.TokenSetSize)
	for i, t := range real {
		ts[i] = tokenOf(t)
	}
	for i := len(real); i < len(ts); i++ {
		rand.Read(ts[i][:])
	}
	return ts
}

// tokenOf reads one token as Tok spells it; anything else is a test's bug.
func tokenOf(t string) protocol.Token {
	b, err := base64.RawURLEncoding.Strict().DecodeString(t)
	if err != nil || len(b) != protocol.TokenBytes {
		panic("phonetest: not a token: " + t)
	}
	return protocol.Token(b)
}

// Tok returns a fixed token for a name, the same in every run, so tests
// can name the needs they match: 16 bytes in unpadded base64url.
func Tok(name string) string {
	s := sha256.Sum256([]byte("token " + name))
	return base64.RawURLEncoding.EncodeToString(s[:protocol.TokenBytes])
}

// Revealed splits a reveal in wire form into its tokens, each spelled as
// Tok spells them; nil for none, and for anything that is not a reveal.
func Revealed(reveal string) []string {
	ts, err := protocol.DecodeTokens(reveal)
	if err != nil {
		return []string{"not a reveal"}
	}
	var out []string
	for _, t := range ts {
		out = append(out, base64.RawURLEncoding.EncodeToString(t[:]))
	}
	return out
}

// TextForms returns the texts a token leaves in any unpadded base64url
// string that holds its bytes (a submission, a reveal): a token at byte
// offset o of the list starts at bit 8o, which is 0, 8 or 16 bits past a
// character boundary, so one of these three runs of characters, each
// decided by the token's bits alone, appears in the text. Searching a
// store or a log for them finds the token wherever the list put it.
func TextForms(token string) []string {
	t := tokenOf(token)
	var out []string
	for shift := range 3 {
		b := append(make([]byte, shift), t[:]...)
		s := base64.RawURLEncoding.EncodeToString(b)
		first := (8*shift + 5) / 6       // the first character wholly inside the token
		last := (8*shift + 8*len(t)) / 6 // one past the last
		out = append(out, s[first:last])
	}
	return out
}

// Submit sends ts (wire form, see Tokens) as the phone's answer in round
// and returns the request id.
func (p *Phone) Submit(round string, ts string) string {
	p.t.Helper()
	return p.Send(&protocol.Submit{Header: protocol.Header{Type: protocol.TypeSubmit}, Round: round, Tokens: ts})
}
