package client

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"softland/client/keys"
	"softland/client/rules"
	"softland/server/protocol"
)

// These tests talk to a scripted stand-in for the server, to inject what a
// correct server never sends: gaps, duplicates, late answers.

const (
	fakeRoom   = "6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
	fakeRound  = "0a9b8c7d-6e5f-4a3b-9c2d-1e0f2a3b4c5d"
	fakeEpoch  = "e1"
	fakeDevice = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8"
)

func testCtx(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// peer is the scripted server's side of one connection.
type peer struct {
	t  *testing.T
	ws *websocket.Conn
}

// recv reads one request and returns its header and raw bytes.
func (p *peer) recv(ctx context.Context) (protocol.Header, []byte) {
	_, data, err := p.ws.Read(ctx)
	if err != nil {
		return protocol.Header{}, nil
	}
	var h protocol.Header
	if err := json.Unmarshal(data, &h); err != nil {
		p.t.Errorf("client sent a frame that is not JSON: %s", data)
	}
	if _, err := protocol.DecodeRequest(data); err != nil {
		p.t.Errorf("client sent an invalid %s: %v", h.Type, err)
	}
	return h, data
}

func (p *peer) send(ctx context.Context, v any) {
	b, err := protocol.Marshal(v)
	if err != nil {
		p.t.Error(err)
		return
	}
	p.ws.Write(ctx, websocket.MessageText, b)
}

func (p *peer) event(ctx context.Context, off uint64, kind string) {
	p.send(ctx, &protocol.Event{Epoch: fakeEpoch, Offset: off, Kind: kind, Seat: 2, Presence: protocol.PresenceOnline})
}

// fakeServer runs script for each connection and returns the server's URL.
func fakeServer(t *testing.T, script func(ctx context.Context, p *peer)) string {
	t.Helper()
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/ws" {
			t.Errorf("client dialled %s, want /ws", r.URL.Path)
		}
		ws, err := websocket.Accept(w, r, nil)
		if err != nil {
			return
		}
		defer ws.CloseNow()
		ctx, cancel := context.WithCancel(r.Context())
		defer cancel()
		go func() {
			select {
			case <-done:
				cancel()
			case <-ctx.Done():
			}
		}()
		script(ctx, &peer{t: t, ws: ws})
		// Keep the socket until the client or the test ends it.
		ws.Read(ctx)
	}))
	t.Cleanup(func() { close(done); srv.Close() })
	return srv.URL
}

// welcomeCreate answers a create with an empty room at offset 0.
func welcomeCreate(ctx context.Context, p *peer) {
	h, _ := p.recv(ctx)
	if h.Type != protocol.TypeCreate {
		p.t.Errorf("first frame %q, want create", h.Type)
	}
	p.send(ctx, &protocol.Welcome{
		Header: protocol.Header{ID: h.ID},
		Room:   fakeRoom, Seat: 1, Device: fakeDevice, Epoch: fakeEpoch,
		Snapshot: &protocol.Snapshot{Presence: [2]string{"online", "away"}},
	})
}

func TestGapBreaksStream(t *testing.T) {
	ctx := testCtx(t)
	url := fakeServer(t, func(ctx context.Context, p *peer) {
		welcomeCreate(ctx, p)
		p.event(ctx, 1, protocol.KindPaired)
		p.event(ctx, 1, protocol.KindPaired) // duplicate: dropped
		p.event(ctx, 2, protocol.KindPresence)
		p.event(ctx, 4, protocol.KindPaused) // gap: 3 is missing
		p.event(ctx, 5, protocol.KindUnpaused)
	})
	c, _, err := Create(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var got []uint64
	for e := range c.Events() {
		got = append(got, e.Offset)
	}
	if !slices.Equal(got, []uint64{1, 2}) {
		t.Fatalf("delivered offsets %v, want [1 2]", got)
	}
	if err := c.Err(); !errors.Is(err, ErrBrokenStream) || !ShouldResume(err) {
		t.Fatalf("Err = %v, want ErrBrokenStream", err)
	}
	if st := c.State(); st.Offset != 2 || st.Epoch != fakeEpoch || st.Device != fakeDevice {
		t.Fatalf("State = %+v", st)
	}
	if err := c.Ping(ctx); !errors.Is(err, ErrBrokenStream) {
		t.Fatalf("Ping on a broken stream: %v", err)
	}
	// The connection ended on its own and Events was drained: nothing of
	// the client may still run, even before Close.
	noClientGoroutines(t)
}

// noClientGoroutines fails if a goroutine of a Client (its reader, pump
// or tend) is still running once the stack settles.
func noClientGoroutines(t *testing.T) {
	t.Helper()
	ctx := testCtx(t)
	for {
		buf := make([]byte, 1<<20)
		stacks := string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(stacks, "softland/client.(*Client).read(") && !strings.Contains(stacks, "softland/client.(*Client).pump(") && !strings.Contains(stacks, "softland/client.(*Client).tend(") {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("client goroutines still running:\n%s", stacks)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestEpochChangeBreaksStream(t *testing.T) {
	ctx := testCtx(t)
	url := fakeServer(t, func(ctx context.Context, p *peer) {
		welcomeCreate(ctx, p)
		p.send(ctx, &protocol.Event{Epoch: "other", Offset: 1, Kind: protocol.KindPaired})
	})
	c, _, err := Create(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for range c.Events() {
		t.Fatal("an event of another epoch was delivered")
	}
	if !errors.Is(c.Err(), ErrBrokenStream) {
		t.Fatalf("Err = %v", c.Err())
	}
}

func TestResumeReplay(t *testing.T) {
	secret := make([]byte, keys.SecretSize)
	st := State{Room: fakeRoom, Secret: keys.Encoding.EncodeToString(secret), Seat: 2, Device: fakeDevice, Epoch: fakeEpoch, Offset: 4, Round: fakeRound}
	cases := map[string]struct {
		replay  []uint64
		offset  uint64
		wantErr bool
	}{
		"exact":         {replay: []uint64{5, 6}, offset: 6},
		"nothing new":   {offset: 4},
		"with overlap":  {replay: []uint64{4, 5}, offset: 5},
		"gap in replay": {replay: []uint64{5, 7}, offset: 7, wantErr: true},
		"short replay":  {replay: []uint64{5}, offset: 6, wantErr: true},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ctx := testCtx(t)
			url := fakeServer(t, func(ctx context.Context, p *peer) {
				h, data := p.recv(ctx)
				var r protocol.Resume
				json.Unmarshal(data, &r)
				if h.Type != protocol.TypeResume || r.Offset != 4 || r.Epoch != fakeEpoch || r.Device != fakeDevice {
					t.Errorf("resume = %s", data)
				}
				w := &protocol.Welcome{Header: protocol.Header{ID: h.ID}, Room: fakeRoom, Seat: 2, Epoch: fakeEpoch, Offset: tc.offset}
				for _, off := range tc.replay {
					w.Replay = append(w.Replay, protocol.Event{V: 1, Type: protocol.TypeEvent, Epoch: fakeEpoch, Offset: off, Kind: protocol.KindPaused, Seat: 1})
				}
				p.send(ctx, w)
			})
			c, err := Resume(ctx, url, st)
			if tc.wantErr {
				if !errors.Is(err, ErrBrokenStream) {
					t.Fatalf("Resume = %v, want ErrBrokenStream", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			if c.Snapshot() != nil || c.Round() != fakeRound || c.Seat() != 2 {
				t.Fatalf("after resume: snapshot %v, round %q, seat %d", c.Snapshot(), c.Round(), c.Seat())
			}
			want := st.Offset
			for want < tc.offset {
				e := <-c.Events()
				if e.Offset != want+1 {
					t.Fatalf("offset %d after %d", e.Offset, want)
				}
				want = e.Offset
			}
			if got := c.State().Offset; got != tc.offset {
				t.Fatalf("State().Offset = %d, want %d", got, tc.offset)
			}
		})
	}
}

func TestCallsAndAnswers(t *testing.T) {
	ctx := testCtx(t)
	released := make(chan struct{})
	url := fakeServer(t, func(ctx context.Context, p *peer) {
		welcomeCreate(ctx, p)
		// 1: a ping the server answers only after the caller gave up.
		late, _ := p.recv(ctx)
		<-released
		// 2: a refused round.open, answered after an unknown frame type and
		// an answer to nobody.
		h, _ := p.recv(ctx)
		p.ws.Write(ctx, websocket.MessageText, []byte(`{"v":2,"type":"future.thing","id":"`+h.ID+`"}`))
		p.send(ctx, &protocol.Ack{Header: protocol.Header{ID: "no-such-request"}})
		p.send(ctx, &protocol.Pong{Header: protocol.Header{ID: late.ID}})
		p.send(ctx, &protocol.Error{Header: protocol.Header{ID: h.ID}, Code: protocol.CodeRoundOpen, Message: "a check-in is already open"})
		// 3: an accepted round.open.
		h, _ = p.recv(ctx)
		p.send(ctx, &protocol.Ack{Header: protocol.Header{ID: h.ID}, Round: fakeRound})
		// 4: a ping answered in time.
		h, _ = p.recv(ctx)
		p.send(ctx, &protocol.Pong{Header: protocol.Header{ID: h.ID}})
	})
	c, _, err := Create(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()

	short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	err = c.Ping(short)
	cancel()
	close(released)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("unanswered Ping = %v, want DeadlineExceeded", err)
	}
	if c.Err() != nil {
		t.Fatalf("a caller's deadline ended the connection: %v", c.Err())
	}

	_, err = c.OpenRound(ctx)
	var e *Error
	if !errors.As(err, &e) || e.Code != protocol.CodeRoundOpen || e.Op != protocol.TypeRoundOpen || e.Message == "" {
		t.Fatalf("OpenRound = %v, want *Error %s", err, protocol.CodeRoundOpen)
	}
	if round, err := c.OpenRound(ctx); err != nil || round != fakeRound {
		t.Fatalf("OpenRound = %q, %v", round, err)
	}
	if err := c.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
	c.Close()
	if err := c.Ping(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Ping after Close = %v", err)
	}
}

func TestAuthRefused(t *testing.T) {
	ctx := testCtx(t)
	url := fakeServer(t, func(ctx context.Context, p *peer) {
		h, _ := p.recv(ctx)
		p.send(ctx, &protocol.Error{Header: protocol.Header{ID: h.ID}, Code: protocol.CodeInviteExpired, Message: "this pairing link has expired"})
		p.ws.Close(protocol.CloseAuthFailed, protocol.CodeInviteExpired)
	})
	secret := make([]byte, keys.SecretSize)
	_, err := Join(ctx, url, Link{Origin: "http://x", Room: fakeRoom, Secret: secret})
	var e *Error
	if !errors.As(err, &e) || e.Code != protocol.CodeInviteExpired || e.Op != protocol.TypeJoin || ShouldResume(err) {
		t.Fatalf("Join = %v, want *Error %s", err, protocol.CodeInviteExpired)
	}
}

// TestJoinRepeatedAfterUnavailable: unavailable to a join does not say
// whether the store took it (its commit may have landed after the answer
// timed out), so Join asks again with the same nonce, which the server
// admits again if the first did land; a new nonce would get room_full.
func TestJoinRepeatedAfterUnavailable(t *testing.T) {
	ctx := testCtx(t)
	var (
		mu     sync.Mutex
		nonces []string
	)
	url := fakeServer(t, func(ctx context.Context, p *peer) {
		h, data := p.recv(ctx)
		var j protocol.Join
		json.Unmarshal(data, &j)
		mu.Lock()
		nonces = append(nonces, j.Nonce)
		first := len(nonces) == 1
		mu.Unlock()
		if first {
			p.send(ctx, &protocol.Error{Header: protocol.Header{ID: h.ID}, Code: protocol.CodeUnavailable, Message: "the room could not be reached; try again"})
			return
		}
		p.send(ctx, &protocol.Welcome{
			Header: protocol.Header{ID: h.ID},
			Room:   fakeRoom, Seat: 2, Device: fakeDevice, Epoch: fakeEpoch, Offset: 1,
			Snapshot: &protocol.Snapshot{Paired: true, Presence: [2]string{"online", "online"}},
		})
	})
	secret := make([]byte, keys.SecretSize)
	c, err := Join(ctx, url, Link{Origin: "http://x", Room: fakeRoom, Secret: secret})
	if err != nil {
		t.Fatalf("Join = %v, want a welcome on the second attempt", err)
	}
	defer c.Close()
	mu.Lock()
	defer mu.Unlock()
	if len(nonces) != 2 || nonces[0] == "" || nonces[0] != nonces[1] {
		t.Fatalf("join nonces %q: want two attempts with the same nonce", nonces)
	}
}

func TestCloseWithUnreadEvents(t *testing.T) {
	ctx := testCtx(t)
	url := fakeServer(t, func(ctx context.Context, p *peer) {
		welcomeCreate(ctx, p)
		for off := uint64(1); off <= 10; off++ {
			p.event(ctx, off, protocol.KindPresence)
		}
		h, _ := p.recv(ctx)
		p.send(ctx, &protocol.Pong{Header: protocol.Header{ID: h.ID}})
	})
	c, _, err := Create(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Ping(ctx); err != nil { // the events were read before the pong
		t.Fatal(err)
	}
	e := <-c.Events()
	if e.Offset != 1 {
		t.Fatalf("first offset %d", e.Offset)
	}
	c.Close() // must not wait for anyone to read the other nine
	if _, ok := <-c.Events(); ok {
		t.Fatal("Events open after Close")
	}
	noClientGoroutines(t)
	if got := c.State().Offset; got != 1 {
		t.Fatalf("State().Offset = %d after taking one event, want 1", got)
	}
}

// newOffline returns a client with keys and the catalog but no connection,
// for the parts that need none.
func newOffline(t *testing.T, seat int) *Client {
	t.Helper()
	secret := make([]byte, keys.SecretSize)
	k, err := keys.Derive(secret)
	if err != nil {
		t.Fatal(err)
	}
	cat, err := catalog()
	if err != nil {
		t.Fatal(err)
	}
	return &Client{room: fakeRoom, keys: k, cat: cat, seat: seat, tokenMap: map[string]map[protocol.Token]string{}, decoys: map[string][]protocol.Token{}}
}

func TestTokenSet(t *testing.T) {
	c := newOffline(t, 1)
	ids, err := rules.Accept(c.cat, 1, []string{"be-held", "water"}, rules.Plan{})
	if err != nil || len(ids) < 3 {
		t.Fatalf("Accept = %v, %v", ids, err)
	}
	set, err := c.tokenSet(fakeRound, ids)
	if err != nil {
		t.Fatal(err)
	}
	sub := &protocol.Submit{Header: protocol.Header{Type: protocol.TypeSubmit}, Round: fakeRound, Tokens: protocol.EncodeTokens(set)}
	b, _ := protocol.Marshal(sub)
	if _, err := protocol.DecodeRequest(b); err != nil {
		t.Fatalf("the server would refuse the set: %v", err)
	}
	if len(set) != protocol.TokenSetSize {
		t.Fatalf("%d tokens", len(set))
	}
	// The position is the rank: real tokens first, by preference.
	for i, id := range ids {
		if set[i] != c.keys.MatchToken(fakeRound, id) {
			t.Fatalf("position %d does not hold the token of %s", i, id)
		}
	}

	// Resubmitting in the same round keeps the decoys: only the change
	// shows, and the decoys take the free positions in a new order.
	fewer, err := c.tokenSet(fakeRound, ids[:1])
	if err != nil {
		t.Fatal(err)
	}
	before := map[protocol.Token]bool{}
	for _, tok := range set {
		before[tok] = true
	}
	kept := 0
	for _, tok := range fewer {
		if before[tok] {
			kept++
		}
	}
	if kept != protocol.TokenSetSize-(len(ids)-1) {
		t.Fatalf("resubmission kept %d tokens, want %d", kept, protocol.TokenSetSize-(len(ids)-1))
	}
	same := 0
	for range 20 {
		s, _ := c.tokenSet(fakeRound, ids)
		if slices.Equal(s, set) {
			same++
		}
	}
	if same == 20 {
		t.Fatal("the decoys always take the same positions")
	}

	// Nothing accepted still sends a full set of decoys.
	none, err := c.tokenSet(fakeRound, nil)
	if err != nil || len(none) != protocol.TokenSetSize {
		t.Fatalf("empty set: %d tokens, %v", len(none), err)
	}
	// More than fit keeps the most wanted, in order.
	many := make([]string, 0, 100)
	for i := range 100 {
		many = append(many, "id-"+string(rune('a'+i%26))+string(rune('a'+i/26)))
	}
	full, err := c.tokenSet(fakeRound, many)
	if err != nil || len(full) != protocol.TokenSetSize {
		t.Fatalf("oversized set: %d tokens, %v", len(full), err)
	}
	if full[protocol.TokenSetSize-1] != c.keys.MatchToken(fakeRound, many[protocol.TokenSetSize-1]) {
		t.Fatal("the last position does not hold the 64th most wanted")
	}
}

func TestSuggestionsMapping(t *testing.T) {
	c := newOffline(t, 1)
	want := []string{"water", "hold@2", "soft-music"}
	var reveal []protocol.Token
	for _, id := range want {
		reveal = append(reveal, c.keys.MatchToken(fakeRound, id))
	}
	reveal = append(reveal, c.keys.MatchToken(fakeRound, "not-in-this-catalog"))
	got, unknown := c.suggestionsLocked(fakeRound, protocol.EncodeTokens(reveal))
	if !slices.Equal(got, want) || unknown != 1 {
		t.Fatalf("mapped %v (unknown %d), want %v (1)", got, unknown, want)
	}
	// A token of another round maps to nothing.
	if got, unknown := c.suggestionsLocked("f0e1d2c3-b4a5-4968-8776-655443322110", protocol.EncodeTokens(reveal[:1])); len(got) != 0 || unknown != 1 {
		t.Fatalf("token of another round mapped to %v", got)
	}
	if got, unknown := c.suggestionsLocked(fakeRound, ""); len(got) != 0 || unknown != 0 {
		t.Fatalf("an empty reveal mapped to %v, %d unknown", got, unknown)
	}
	if got, unknown := c.suggestionsLocked(fakeRound, "not a reveal"); len(got) != 0 || unknown != 1 {
		t.Fatalf("a broken reveal mapped to %v, %d unknown", got, unknown)
	}
}

func TestURLs(t *testing.T) {
	cases := map[string]struct{ ws, origin string }{
		"http://127.0.0.1:8080":        {"ws://127.0.0.1:8080/ws", "http://127.0.0.1:8080"},
		"http://127.0.0.1:8080/":       {"ws://127.0.0.1:8080/ws", "http://127.0.0.1:8080"},
		"https://softland.example":     {"wss://softland.example/ws", "https://softland.example"},
		"https://softland.example/app": {"wss://softland.example/app/ws", "https://softland.example"},
		"ws://localhost:9000":          {"ws://localhost:9000/ws", "http://localhost:9000"},
		"wss://softland.example/":      {"wss://softland.example/ws", "https://softland.example"},
		"ftp://softland.example":       {},
		"softland.example":             {},
		"":                             {},
	}
	for in, want := range cases {
		ws, err := socketURL(in)
		if (err != nil) != (want.ws == "") || ws != want.ws {
			t.Errorf("socketURL(%q) = %q, %v; want %q", in, ws, err, want.ws)
		}
		origin, err := originOf(in)
		if (err != nil) != (want.origin == "") || origin != want.origin {
			t.Errorf("originOf(%q) = %q, %v; want %q", in, origin, err, want.origin)
		}
	}
}
