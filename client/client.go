// Package client is Softland's Go client: one phone's side of a room. It
// creates, joins or resumes a room over the server's WebSocket, turns the
// partner's and its own taps into tokens with client/keys and client/rules,
// and turns what the server relays back into plain suggestions and opened
// notes. The server never sees a key, a need, a suggestion id or a plaintext;
// see client/keys for the cryptography.
//
// A Client is one connection. When it ends (the network dropped, the server
// restarted, the event stream had a gap) the Client is done: Err says why, and
// the caller comes back with Resume(ctx, server, c.State()) if ShouldResume
// says so. State is plain JSON-serialisable data, so a program can persist it
// and resume after a restart without losing an event.
//
// All methods are safe for concurrent use. Every request carries an id and
// waits for its own answer; a refusal comes back as *Error with the protocol
// code.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"path"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"softland/client/keys"
	"softland/client/rules"
	"softland/server/protocol"
)

// Link is a pairing link; see keys.Link.
type Link = keys.Link

// ParseLink parses a pairing link; see keys.ParseLink.
func ParseLink(s string) (Link, error) { return keys.ParseLink(s) }

// MoveLink is a link that moves a seat to another device; see keys.MoveLink.
type MoveLink = keys.MoveLink

// ParseMoveLink parses a move link; see keys.ParseMoveLink.
func ParseMoveLink(s string) (MoveLink, error) { return keys.ParseMoveLink(s) }

const (
	// writeTimeout bounds one frame's write. A write is never cut short by a
	// caller's context: the WebSocket library closes the whole connection
	// when a write's context ends, and one impatient caller must not cost
	// everyone the connection.
	writeTimeout = 10 * time.Second
	// maxQueuedEvents bounds events read but not yet taken from Events. A
	// program that stops reading Events loses the connection (it resumes
	// where it stopped reading) rather than growing memory without end.
	maxQueuedEvents = 4096
)

// Errors a Client ends with (see Err) and calls return once it has ended.
var (
	// ErrClosed: Close was called.
	ErrClosed = errors.New("client: closed")
	// ErrErased: the room was erased (by either partner). Forget the state.
	ErrErased = errors.New("client: the room was erased")
	// ErrReplaced: the same seat connected again elsewhere. Resuming here
	// would only take the seat back from the newer connection.
	ErrReplaced = errors.New("client: this seat connected again elsewhere")
	// ErrMoved: the seat moved to another device (Move). This device's
	// token no longer works: forget the state, secret included.
	ErrMoved = errors.New("client: this seat moved to another device")
	// ErrLost: the partner gave this seat to a new phone (Replace), as for
	// a lost one. It wraps ErrMoved: errors.Is(err, ErrMoved) holds, and
	// the state is to be forgotten the same way.
	ErrLost = fmt.Errorf("%w: the partner gave it to a new phone", ErrMoved)
	// ErrBrokenStream: the server's events skipped an offset or changed
	// epoch. Nothing was applied past the gap; resume to catch up.
	ErrBrokenStream = errors.New("client: the event stream broke; resume to catch up")
	// ErrSlowReader: Events was not read and too many events piled up.
	ErrSlowReader = errors.New("client: events were not read in time; resume to catch up")
)

// Error is a request the server refused: Code is one of the protocol's Code
// constants (protocol.CodeNotPaired, ...), Message a sentence for people.
type Error struct {
	Op      string // the request type, for example "round.open"
	Code    string
	Message string
}

func (e *Error) Error() string {
	return "client: " + e.Op + ": " + e.Code + ": " + e.Message
}

// ShouldResume reports whether a Client that ended with err (see Err) should
// be resumed from its State: true for a lost connection, a server restart or a
// broken stream; false after Close, an erase, a replacement by another
// connection, a move to another device, or a refusal of the room or device
// (*Error, such as protocol.CodeDeviceRevoked).
func ShouldResume(err error) bool {
	var e *Error
	switch {
	case err == nil, errors.Is(err, ErrClosed), errors.Is(err, ErrErased), errors.Is(err, ErrReplaced), errors.Is(err, ErrMoved):
		return false
	case errors.As(err, &e):
		switch e.Code {
		case protocol.CodeUnavailable, protocol.CodeRateLimited, protocol.CodeInternal:
			return true
		}
		return false
	}
	return true
}

// State is what a program keeps to come back to its seat: where the server
// is, the room and its secret, the seat's device token, and how far the
// program has read the room's events. Offset counts only events that were
// taken from Events, so persisting State after handling each event loses
// nothing across a crash. State holds the room secret: store it like a
// password.
type State struct {
	Server string `json:"server"` // http(s) base URL
	Room   string `json:"room"`
	Secret string `json:"secret"` // base64url room secret
	Seat   int    `json:"seat"`
	Device string `json:"device"` // base64url device token
	Epoch  string `json:"epoch"`
	Offset uint64 `json:"offset"`
	// Round is the check-in round open as of Offset, if any. The server
	// does not repeat it when a resume replays only newer events.
	Round string `json:"round,omitempty"`
	// DecoyRound and Decoys are the decoys of the latest round this seat
	// answered in (each 16 bytes in unpadded base64url), in the order they
	// fill a submission, while that round is open. An answer sent again in that round after Resume reuses them
	// (protocol §3.4): with fresh decoys, the server could compare the two
	// submissions and tell the real tokens, the only ones in both.
	DecoyRound string   `json:"decoyRound,omitempty"`
	Decoys     []string `json:"decoys,omitempty"`
	// KeyEpoch is the room's key epoch Secret belongs to (protocol §3.7).
	KeyEpoch uint64 `json:"keyEpoch,omitempty"`
	// ReplaceSecret and ReplaceCode are the new secret and the code of this
	// seat's pending re-pair link (ReplaceLink), kept so the switch to the
	// new secret survives a restart before the partner's new phone uses it.
	ReplaceSecret string `json:"replaceSecret,omitempty"`
	ReplaceCode   string `json:"replaceCode,omitempty"`
}

// Client is one device's connection to its room.
type Client struct {
	server string
	room   string
	// secret and keys change when a replacement rotates the room secret:
	// after the handshake, read them under mu (roomKeys, roomSecret).
	secret []byte
	keys   *keys.Keys
	cat    *rules.Catalog
	ws     *websocket.Conn

	// Set during the handshake, read-only afterwards.
	seat            int
	device          string
	snapshot        *Snapshot
	inviteExpiresAt int64

	ctx    context.Context // ends with the connection
	cancel context.CancelFunc
	nextID atomic.Uint64

	mu       sync.Mutex
	err      error // why the connection ended; nil while it is up
	pending  map[string]chan reply
	epoch    string
	received uint64 // the last offset accepted from the server
	round    string // the open round as of received
	roundCh  chan struct{}
	queue    []Event // accepted, not yet taken from events
	offset   uint64  // the last offset taken from events
	stRound  string  // the open round as of offset
	tokenMap map[string]map[protocol.Token]string
	decoys   map[string][]protocol.Token
	// decoyRound is the round whose decoys were made or restored last.
	decoyRound string
	// Receipts (protocol.Seen): confirm is the offset to confirm next, the
	// last event taken from Events that is worth a receipt (or a snapshot's
	// offset); confirmed is the last one the server acknowledged. tend
	// sends them.
	confirm, confirmed uint64
	// partnerSeen is the highest offset the partner's phone confirmed.
	partnerSeen uint64
	// keyEpoch is the key epoch of secret and keys; replace is this
	// seat's pending re-pair link, if any; verify are the verification
	// words of the latest replacement this client saw or made (both under mu,
	// like secret and keys, which a replacement changes).
	keyEpoch uint64
	replace  *pendingReplace
	verify   []string
	// settingsPT is the shared settings this client last opened, for
	// ResealSettings.
	settingsPT []byte
	// lost: the last replaced event was about this seat, so the close
	// that follows it means ErrLost.
	lost bool
	// lastSent is when the last request was written (Unix ns), for the
	// heartbeat.
	lastSent atomic.Int64

	events     chan Event
	wake       chan struct{} // the queue grew or the reader ended
	tendWake   chan struct{} // a receipt is due
	stop       chan struct{} // Close was called
	closeOnce  sync.Once
	readerDone chan struct{}
	pumpDone   chan struct{}
	tendDone   chan struct{}
}

// Create makes a new room secret, opens a room on the server with the hash
// of its join key and returns the Client in seat 1 and the pairing link for
// the partner. The link's origin is serverURL's scheme and host.
func Create(ctx context.Context, serverURL string) (*Client, Link, error) {
	secret, err := keys.NewSecret()
	if err != nil {
		return nil, Link{}, err
	}
	k, err := keys.Derive(secret)
	if err != nil {
		return nil, Link{}, err
	}
	origin, err := originOf(serverURL)
	if err != nil {
		return nil, Link{}, err
	}
	req := &protocol.Create{JoinKeyHash: k.JoinKeyHash()}
	c, err := connect(ctx, serverURL, seed{secret: secret, keys: k}, &req.Header, req)
	if err != nil {
		return nil, Link{}, err
	}
	return c, Link{Origin: origin, Room: c.room, Secret: bytes.Clone(secret)}, nil
}

// Join takes the second seat of the link's room. The server is serverURL, not
// the link's origin, so a link made for phones can be used from anywhere.
func Join(ctx context.Context, serverURL string, link Link) (*Client, error) {
	k, err := keys.Derive(link.Secret)
	if err != nil {
		return nil, err
	}
	if !protocol.IsRoomID(link.Room) {
		return nil, errors.New("client: join: the link's room is not a lowercase UUID")
	}
	// The nonce lets this phone repeat the join if the connection drops
	// before the welcome arrives (protocol.Join); nobody else knows it. So
	// does unavailable: the store may have taken the join although the
	// server could not tell.
	nonce, err := keys.Decoy()
	if err != nil {
		return nil, err
	}
	return connectRepeating(ctx, serverURL, seed{room: link.Room, secret: link.Secret, keys: k}, func() (*protocol.Header, any) {
		req := &protocol.Join{Room: link.Room, JoinKey: k.JoinKey(), Nonce: nonce}
		return &req.Header, req
	})
}

// connectRepeating connects with the hello that hello builds (a join, move
// or replace carrying a nonce), and repeats it, up to joinAttempts times,
// when the connection dropped or the server answered unavailable before a
// welcome: the store may have taken the request although the phone never
// heard, and the same nonce lets it be admitted again.
func connectRepeating(ctx context.Context, serverURL string, sd seed, hello func() (*protocol.Header, any)) (*Client, error) {
	for attempt := 1; ; attempt++ {
		h, req := hello()
		c, err := connect(ctx, serverURL, sd, h, req)
		var refused *Error
		final := errors.As(err, &refused) && refused.Code != protocol.CodeUnavailable
		if err == nil || final || attempt == joinAttempts || ctx.Err() != nil {
			return c, err
		}
		select {
		case <-time.After(time.Duration(attempt) * 200 * time.Millisecond):
		case <-ctx.Done():
			return nil, err
		}
	}
}

// joinAttempts bounds how often Join (and Move) repeats itself after a lost
// connection.
const joinAttempts = 3

// Move takes the seat a move link names on this device (protocol.Move): the
// device that showed the link is moved away from, its token revoked. The
// server is serverURL, not the link's origin. Like Join, it repeats itself
// with the same nonce when the connection drops before the welcome.
func Move(ctx context.Context, serverURL string, link MoveLink) (*Client, error) {
	k, err := keys.Derive(link.Secret)
	if err != nil {
		return nil, err
	}
	if !protocol.IsRoomID(link.Room) || !protocol.IsKey(link.Code) {
		return nil, errors.New("client: move: the link has no valid room and code")
	}
	nonce, err := keys.Decoy()
	if err != nil {
		return nil, err
	}
	return connectRepeating(ctx, serverURL, seed{room: link.Room, secret: link.Secret, keys: k}, func() (*protocol.Header, any) {
		req := &protocol.Move{Room: link.Room, Code: link.Code, Nonce: nonce}
		return &req.Header, req
	})
}

// Resume comes back to the seat st describes, catching up on every event
// after st.Offset (or from a snapshot, when the server no longer has them or
// st.Offset is 0). serverURL may be "" to use st.Server.
func Resume(ctx context.Context, serverURL string, st State) (*Client, error) {
	if serverURL == "" {
		serverURL = st.Server
	}
	secret, err := keys.Encoding.DecodeString(st.Secret)
	if err != nil {
		return nil, errors.New("client: resume: the state's secret is not base64url")
	}
	k, err := keys.Derive(secret)
	if err != nil {
		return nil, err
	}
	if !protocol.IsRoomID(st.Room) || !protocol.IsKey(st.Device) {
		return nil, errors.New("client: resume: the state has no valid room and device")
	}
	req := &protocol.Resume{Room: st.Room, Device: st.Device, Epoch: st.Epoch, Offset: st.Offset}
	sd := seed{room: st.Room, secret: secret, keys: k, device: st.Device, epoch: st.Epoch, offset: st.Offset, round: st.Round}
	if st.Epoch == "" {
		req.Offset, sd.offset, sd.round = 0, 0, ""
	}
	sd.decoyRound, sd.decoys = restoreDecoys(st)
	sd.keyEpoch = st.KeyEpoch
	if st.ReplaceSecret != "" {
		if s, err := keys.Encoding.DecodeString(st.ReplaceSecret); err == nil && protocol.IsKey(st.ReplaceCode) {
			sd.replace, _ = newPendingReplace(s, st.ReplaceCode)
		}
	}
	return connect(ctx, serverURL, sd, &req.Header, req)
}

// restoreDecoys returns the decoys a State carries, when they are a whole
// well-formed pool; otherwise none, and the round gets new ones.
func restoreDecoys(st State) (string, []protocol.Token) {
	if !protocol.IsRoomID(st.DecoyRound) || len(st.Decoys) != protocol.TokenSetSize {
		return "", nil
	}
	pool := make([]protocol.Token, len(st.Decoys))
	for i, d := range st.Decoys {
		b, err := keys.Encoding.Strict().DecodeString(d)
		if err != nil || len(b) != protocol.TokenBytes {
			return "", nil // a pool from before protocol v2, say
		}
		pool[i] = protocol.Token(b)
	}
	return st.DecoyRound, pool
}

// seed is what a client knows before the welcome.
type seed struct {
	room   string // "" when creating
	secret []byte
	keys   *keys.Keys
	device string // "" when creating or joining
	epoch  string
	offset uint64 // the last event already seen
	round  string // the round open as of offset
	// decoyRound's decoys, from the State resumed from.
	decoyRound string
	decoys     []protocol.Token
	// keyEpoch and replace: the State's key epoch and pending re-pair link;
	// verify: the new phone's verification words (Replace).
	keyEpoch uint64
	replace  *pendingReplace
	verify   []string
}

// connect dials, sends the create, join or resume request and applies the
// welcome.
func connect(ctx context.Context, serverURL string, sd seed, h *protocol.Header, req any) (*Client, error) {
	cat, err := catalog()
	if err != nil {
		return nil, err
	}
	wsURL, err := socketURL(serverURL)
	if err != nil {
		return nil, err
	}
	ws, _, err := websocket.Dial(ctx, wsURL, &websocket.DialOptions{CompressionMode: websocket.CompressionDisabled})
	if err != nil {
		return nil, fmt.Errorf("client: connect to %s: %w", wsURL, err)
	}
	ws.SetReadLimit(protocol.MaxServerFrameBytes)
	cctx, cancel := context.WithCancel(context.Background())
	c := &Client{
		server:     serverURL,
		room:       sd.room,
		secret:     bytes.Clone(sd.secret),
		keys:       sd.keys,
		cat:        cat,
		ws:         ws,
		device:     sd.device,
		ctx:        cctx,
		cancel:     cancel,
		pending:    make(map[string]chan reply),
		epoch:      sd.epoch,
		received:   sd.offset,
		offset:     sd.offset,
		round:      sd.round,
		stRound:    sd.round,
		roundCh:    make(chan struct{}),
		tokenMap:   make(map[string]map[protocol.Token]string),
		decoys:     make(map[string][]protocol.Token),
		events:     make(chan Event),
		wake:       make(chan struct{}, 1),
		tendWake:   make(chan struct{}, 1),
		stop:       make(chan struct{}),
		readerDone: make(chan struct{}),
		pumpDone:   make(chan struct{}),
		tendDone:   make(chan struct{}),
		keyEpoch:   sd.keyEpoch,
		replace:    sd.replace,
		verify:     sd.verify,
	}
	c.lastSent.Store(time.Now().UnixNano()) // the create, join or resume
	if sd.decoys != nil {
		c.decoys[sd.decoyRound], c.decoyRound = sd.decoys, sd.decoyRound
	}
	if err := c.handshake(ctx, h, req); err != nil {
		ws.CloseNow()
		cancel()
		return nil, err
	}
	go c.read()
	go c.pump()
	go c.tend()
	return c, nil
}

// handshake sends the first request and reads frames until its welcome or
// error. The reader goroutine is not running yet.
func (c *Client) handshake(ctx context.Context, h *protocol.Header, req any) error {
	op := ""
	switch req.(type) {
	case *protocol.Create:
		op = protocol.TypeCreate
	case *protocol.Join:
		op = protocol.TypeJoin
	case *protocol.Resume:
		op = protocol.TypeResume
	case *protocol.Move:
		op = protocol.TypeMove
	case *protocol.Replace:
		op = protocol.TypeReplace
	}
	h.Type, h.ID = op, c.newID()
	b, err := protocol.Marshal(req)
	if err != nil {
		return err
	}
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		return fmt.Errorf("client: %s: %w", op, err)
	}
	for {
		_, data, err := c.ws.Read(ctx)
		if err != nil {
			return fmt.Errorf("client: %s: no welcome: %w", op, err)
		}
		var hd protocol.Header
		if err := json.Unmarshal(data, &hd); err != nil {
			return fmt.Errorf("client: %s: the server sent a frame that is not JSON", op)
		}
		switch hd.Type {
		case protocol.TypeError:
			var e protocol.Error
			if err := json.Unmarshal(data, &e); err != nil {
				return fmt.Errorf("client: %s: malformed error frame", op)
			}
			return &Error{Op: op, Code: e.Code, Message: e.Message}
		case protocol.TypeWelcome:
			var w protocol.Welcome
			if err := json.Unmarshal(data, &w); err != nil {
				return fmt.Errorf("client: %s: malformed welcome", op)
			}
			return c.welcome(op, &w)
		}
		// Anything else before the welcome (there should be nothing) is not
		// for us yet: the welcome's snapshot or replay covers it.
	}
}

// welcome applies a Welcome: a snapshot replaces what the client knew; a
// replay is applied event by event, and must bring it exactly to w.Offset.
func (c *Client) welcome(op string, w *protocol.Welcome) error {
	bad := func(msg string) error { return fmt.Errorf("client: %s: %s", op, msg) }
	switch {
	case c.room != "" && w.Room != c.room:
		return bad("the welcome is for another room")
	case !protocol.IsRoomID(w.Room):
		return bad("the welcome's room is not a lowercase UUID")
	case w.Seat != 1 && w.Seat != 2:
		return bad("the welcome's seat is not 1 or 2")
	case c.device == "" && !protocol.IsKey(w.Device):
		return bad("the welcome has no device token")
	}
	c.room, c.seat, c.inviteExpiresAt = w.Room, w.Seat, w.InviteExpiresAt
	if w.Device != "" {
		c.device = w.Device
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	defer func() { c.keyEpoch = max(c.keyEpoch, w.KeyEpoch) }()
	if w.Snapshot != nil {
		if w.KeyEpoch > c.keyEpoch && c.replace != nil {
			// The partner's seat was replaced while this phone was away
			// for longer than the log reaches: the only secret it can be
			// is this seat's pending one. (Without the replaced event
			// there is no nonce, so no verification words.)
			if k, err := keys.Derive(c.replace.secret); err == nil {
				c.secret, c.keys, c.replace = c.replace.secret, k, nil
			}
		}
		c.epoch, c.received, c.offset = w.Epoch, w.Offset, w.Offset
		c.snapshot = c.decodeSnapshotLocked(w.Snapshot)
		c.partnerSeen = w.Snapshot.Seen[2-w.Seat]
		if w.Snapshot.Seen[w.Seat-1] < w.Offset {
			// The snapshot may hold what the partner did while this seat
			// was away (or before it joined): confirm it.
			c.confirm = w.Offset
		}
		c.round, c.stRound = "", ""
		if r := w.Snapshot.Round; r != nil {
			c.round, c.stRound = r.Round, r.Round
		}
		return nil
	}
	if w.Epoch != c.epoch {
		return fmt.Errorf("%w (the welcome replays another epoch)", ErrBrokenStream)
	}
	for _, ev := range w.Replay {
		if err := c.applyLocked(ev); err != nil {
			return err
		}
	}
	if c.received != w.Offset {
		return fmt.Errorf("%w (the replay ends at %d, the room is at %d)", ErrBrokenStream, c.received, w.Offset)
	}
	return nil
}

// Room returns the room id.
func (c *Client) Room() string { return c.room }

// Seat returns this device's seat: 1 for the creator, 2 for the partner.
func (c *Client) Seat() int { return c.seat }

// InviteExpiresAt is when the pairing link stops working (Unix ms), if the
// second seat was free when this connection began; otherwise 0.
func (c *Client) InviteExpiresAt() int64 { return c.inviteExpiresAt }

// Snapshot returns the room as the welcome described it, when the server
// sent a snapshot (on create and join, after a long absence, or when resuming
// from offset 0), and nil when it replayed events instead.
func (c *Client) Snapshot() *Snapshot { return c.snapshot }

// Round returns the check-in round open as far as the client has heard, or
// "". It may run ahead of the events taken from Events.
func (c *Client) Round() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.round
}

// State returns what Resume needs to come back to this seat, as of the last
// event taken from Events (or being handed over right now).
func (c *Client) State() State {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := State{
		Server:   c.server,
		Room:     c.room,
		Secret:   keys.Encoding.EncodeToString(c.secret),
		Seat:     c.seat,
		KeyEpoch: c.keyEpoch,
		Device:   c.device,
		Epoch:    c.epoch,
		Offset:   c.offset,
		Round:    c.stRound,
	}
	if p := c.replace; p != nil {
		st.ReplaceSecret, st.ReplaceCode = keys.Encoding.EncodeToString(p.secret), p.code
	}
	if pool := c.decoys[c.decoyRound]; pool != nil {
		st.DecoyRound = c.decoyRound
		for _, d := range pool {
			st.Decoys = append(st.Decoys, keys.Encoding.EncodeToString(d[:]))
		}
	}
	return st
}

// Link returns the room's pairing link for origin ("" for the server's own).
// It only works while the second seat is free and the invite has not expired.
func (c *Client) Link(origin string) (Link, error) {
	if origin == "" {
		var err error
		if origin, err = originOf(c.server); err != nil {
			return Link{}, err
		}
	}
	return Link{Origin: origin, Room: c.room, Secret: c.roomSecret()}, nil
}

// Events delivers, in offset order and each once, every room event: first
// those a resume replayed, then live ones. It is closed after the connection
// ends and every event read before that was delivered, or at once by Close.
// Read it steadily: a reader that falls far behind ends the connection with
// ErrSlowReader.
func (c *Client) Events() <-chan Event { return c.events }

// Done is closed when the connection has ended; Err then says why.
func (c *Client) Done() <-chan struct{} { return c.ctx.Done() }

// Err returns why the connection ended, or nil while it is up.
func (c *Client) Err() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.err
}

// Close ends the connection (the partner sees this seat "away") and waits
// for the client's goroutines. Events is closed at once, even if events were
// still waiting in it. Close is idempotent.
func (c *Client) Close() error {
	c.closeOnce.Do(func() {
		c.mu.Lock()
		if c.err == nil {
			c.err = ErrClosed
		}
		c.mu.Unlock()
		close(c.stop)
		c.ws.Close(websocket.StatusNormalClosure, "")
		c.cancel()
	})
	<-c.readerDone
	<-c.pumpDone
	<-c.tendDone
	return nil
}

// fail ends the connection for err, once; the first reason wins. It does not
// wait for the goroutines.
func (c *Client) fail(err error) {
	c.mu.Lock()
	if c.err == nil {
		c.err = err
	}
	c.mu.Unlock()
	c.cancel()
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// read is the connection's one reader.
func (c *Client) read() {
	defer close(c.readerDone)
	for {
		typ, data, err := c.ws.Read(c.ctx)
		if err != nil {
			err = closeReason(err)
			c.mu.Lock()
			lost := c.lost
			c.mu.Unlock()
			if err == ErrMoved && lost {
				err = ErrLost
			}
			c.fail(err)
			c.ws.CloseNow()
			return
		}
		if typ != websocket.MessageText {
			continue
		}
		if err := c.frame(data); err != nil {
			c.fail(err)
			// Not a normal closure: the partner should see "reconnecting",
			// since the caller is expected to resume.
			c.ws.CloseNow()
			return
		}
	}
}

// closeReason maps how the socket ended to the error the Client ends with.
func closeReason(err error) error {
	switch websocket.CloseStatus(err) {
	case protocol.CloseErased:
		return ErrErased
	case protocol.CloseReplaced:
		return ErrReplaced
	case protocol.CloseMoved:
		return ErrMoved
	}
	return fmt.Errorf("client: connection lost: %w", err)
}

// reply is the answer to a request: an ack, an error or a pong.
type reply struct {
	Type    string `json:"type"`
	ID      string `json:"id"`
	Round   string `json:"round"`
	Move    string `json:"move"`
	Replace string `json:"replace"`
	Expires int64  `json:"expiresAt"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

// frame handles one server frame. An error ends the connection.
func (c *Client) frame(data []byte) error {
	var hd protocol.Header
	if err := json.Unmarshal(data, &hd); err != nil {
		return fmt.Errorf("%w (a frame is not JSON)", ErrBrokenStream)
	}
	switch hd.Type {
	case protocol.TypeEvent:
		var ev protocol.Event
		if err := json.Unmarshal(data, &ev); err != nil {
			return fmt.Errorf("%w (a malformed event)", ErrBrokenStream)
		}
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.applyLocked(ev)
	case protocol.TypeAck, protocol.TypeError, protocol.TypePong:
		var r reply
		if err := json.Unmarshal(data, &r); err != nil {
			return fmt.Errorf("%w (a malformed %s)", ErrBrokenStream, hd.Type)
		}
		c.mu.Lock()
		ch := c.pending[r.ID]
		delete(c.pending, r.ID)
		c.mu.Unlock()
		if ch != nil {
			ch <- r // buffered; each id is answered once
		}
	}
	// Frame types this version does not know are ignored, so a newer
	// server can add some without breaking older clients.
	return nil
}

// applyLocked accepts one event from the server: it drops what was already
// applied, refuses a gap or another epoch, decodes the event and queues it
// for Events. c.mu is held.
func (c *Client) applyLocked(ev protocol.Event) error {
	if ev.Epoch != c.epoch {
		return fmt.Errorf("%w (an event of another epoch)", ErrBrokenStream)
	}
	if ev.Offset <= c.received {
		return nil // a duplicate
	}
	if ev.Offset != c.received+1 {
		return fmt.Errorf("%w (offset %d after %d)", ErrBrokenStream, ev.Offset, c.received)
	}
	if len(c.queue) >= maxQueuedEvents {
		return ErrSlowReader
	}
	c.received = ev.Offset
	if ev.Kind == protocol.KindReplaced {
		c.rekeyLocked(ev)
		c.lost = ev.Seat == c.seat // this phone's own seat: it was replaced
	}
	if ev.Kind == protocol.KindDelivered && ev.Seat != c.seat && ev.Seen > c.partnerSeen {
		c.partnerSeen = ev.Seen
	}
	if r := roundAfter(c.round, ev); r != c.round {
		c.round = r
		close(c.roundCh)
		c.roundCh = make(chan struct{})
	}
	c.queue = append(c.queue, c.decodeLocked(ev))
	select {
	case c.wake <- struct{}{}:
	default:
	}
	return nil
}

// roundAfter returns the open round after ev, given the open round before.
func roundAfter(round string, ev protocol.Event) string {
	switch ev.Kind {
	case protocol.KindRoundOpened:
		return ev.Round
	case protocol.KindRoundClosed:
		if ev.Round == round {
			return ""
		}
	case protocol.KindErased:
		return ""
	}
	return round
}

// pump hands queued events to Events one at a time, so State's offset counts
// exactly the events the program has taken.
func (c *Client) pump() {
	defer close(c.pumpDone)
	defer close(c.events)
	for {
		c.mu.Lock()
		if len(c.queue) == 0 {
			ended := c.err != nil
			c.mu.Unlock()
			if ended {
				return
			}
			select {
			case <-c.wake:
			case <-c.stop:
				return
			}
			continue
		}
		// The event counts as taken from the moment it is offered, so that
		// State, called by the program right after receiving it, includes it.
		// If it is never taken (Close), the count is put back.
		e := c.queue[0]
		prevOffset, prevRound := c.offset, c.stRound
		c.offset, c.stRound = e.Offset, roundAfter(c.stRound, e.Event)
		c.mu.Unlock()
		select {
		case c.events <- e:
		case <-c.stop:
			c.mu.Lock()
			c.offset, c.stRound = prevOffset, prevRound
			c.mu.Unlock()
			return
		}
		c.mu.Lock()
		c.queue[0] = Event{}
		c.queue = c.queue[1:]
		due := worthReceipt(e.Event, c.seat)
		if due {
			c.confirm = e.Offset
		}
		c.mu.Unlock()
		if due {
			c.kickTend()
		}
	}
}

// worthReceipt reports whether a phone in seat confirms ev (protocol.Seen):
// not a receipt itself, or the two phones would confirm each other's
// receipts for ever, and not about its own seat, which tells the partner
// nothing. The server applies the same rule (room.Seat.Worthy).
func worthReceipt(ev protocol.Event, seat int) bool {
	return ev.Kind != protocol.KindDelivered && ev.Seat != seat
}

// kickTend wakes tend.
func (c *Client) kickTend() {
	select {
	case c.tendWake <- struct{}{}:
	default:
	}
}

// tend sends receipts: once the program has taken an event worth one from
// Events, seen with the offset of the newest such event. One is in flight at
// a time; events taken meanwhile are confirmed together by the next. A
// receipt that fails (the store was unavailable) is sent again with the
// next one due. It also sends the heartbeat: a ping whenever nothing was
// sent for heartbeatEvery, since the server shows a seat whose socket stays
// silent unreachable to its partner (protocol §8).
func (c *Client) tend() {
	defer close(c.tendDone)
	if c.receiptDue() {
		c.kickTend()
	}
	hb := time.NewTimer(heartbeatEvery)
	defer hb.Stop()
	for {
		select {
		case <-c.tendWake:
		case <-hb.C:
			if idle := time.Since(time.Unix(0, c.lastSent.Load())); idle < heartbeatEvery {
				hb.Reset(heartbeatEvery - idle)
				continue
			}
			req := &protocol.Ping{}
			ctx, cancel := context.WithTimeout(c.ctx, answerTimeout)
			c.call(ctx, protocol.TypePing, &req.Header, req) // a dead socket is the reader's to report
			cancel()
			hb.Reset(heartbeatEvery)
			continue
		case <-c.stop:
			return
		case <-c.ctx.Done():
			return
		}
		for c.receiptDue() {
			c.mu.Lock()
			off := c.confirm
			c.mu.Unlock()
			req := &protocol.Seen{Offset: off}
			ctx, cancel := context.WithTimeout(c.ctx, answerTimeout)
			_, err := c.call(ctx, protocol.TypeSeen, &req.Header, req)
			cancel()
			if err != nil {
				break
			}
			c.mu.Lock()
			c.confirmed = max(c.confirmed, off)
			c.mu.Unlock()
		}
	}
}

func (c *Client) receiptDue() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.confirm > c.confirmed
}

// heartbeatEvery is how long the client stays silent before it pings: the
// server's liveness window is 25 s, and 10 s survives one lost ping, as the
// web app does.
var heartbeatEvery = 10 * time.Second // a variable for tests

// answerTimeout bounds the wait for the answer to a request the client
// sends on its own (receipts, heartbeats): a server that does not answer
// must not hold them up for ever.
const answerTimeout = 30 * time.Second

// PartnerSeen returns the highest offset the partner's phone has confirmed
// it applied (protocol.Seen): from the welcome's snapshot, then from every
// delivered event of the partner's seat received since. An event at or below
// it has reached the partner's phone — "Sam's phone has it".
func (c *Client) PartnerSeen() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.partnerSeen
}

func (c *Client) newID() string {
	return fmt.Sprint(c.nextID.Add(1))
}

// call sends a request and waits for its answer. h is req's embedded header.
func (c *Client) call(ctx context.Context, typ string, h *protocol.Header, req any) (reply, error) {
	if err := ctx.Err(); err != nil {
		return reply{}, err
	}
	h.Type, h.ID = typ, c.newID()
	b, err := protocol.Marshal(req)
	if err != nil {
		return reply{}, err
	}
	ch := make(chan reply, 1)
	c.mu.Lock()
	if c.err != nil {
		err := c.err
		c.mu.Unlock()
		return reply{}, err
	}
	c.pending[h.ID] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, h.ID)
		c.mu.Unlock()
	}()

	wctx, cancel := context.WithTimeout(c.ctx, writeTimeout)
	err = c.ws.Write(wctx, websocket.MessageText, b)
	cancel()
	if err != nil {
		// The socket is broken, and the reader is about to learn why (a
		// close frame says erased or replaced): its reason wins, since
		// another request (a receipt, a heartbeat) may be the one whose
		// write finds the socket closed.
		select {
		case <-c.readerDone:
		case <-time.After(writeTimeout):
		}
		c.fail(fmt.Errorf("client: connection lost: %w", err))
		return reply{}, c.Err()
	}
	c.lastSent.Store(time.Now().UnixNano())
	select {
	case r := <-ch:
		if r.Type == protocol.TypeError {
			return r, &Error{Op: typ, Code: r.Code, Message: r.Message}
		}
		return r, nil
	case <-ctx.Done():
		return reply{}, ctx.Err()
	case <-c.ctx.Done():
		// The answer may have arrived just before the end.
		select {
		case r := <-ch:
			if r.Type == protocol.TypeError {
				return r, &Error{Op: typ, Code: r.Code, Message: r.Message}
			}
			return r, nil
		default:
		}
		return reply{}, c.Err()
	}
}

// socketURL turns a server's http(s) (or ws(s)) base URL into its /ws URL.
func socketURL(server string) (string, error) {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("client: server %q is not an http(s) URL", server)
	}
	switch u.Scheme {
	case "http", "ws":
		u.Scheme = "ws"
	case "https", "wss":
		u.Scheme = "wss"
	default:
		return "", fmt.Errorf("client: server %q is not an http(s) URL", server)
	}
	u.Path = path.Join("/", u.Path, "ws")
	u.RawPath, u.RawQuery, u.Fragment = "", "", ""
	return u.String(), nil
}

// originOf returns the http(s) origin of a server URL, for pairing links.
func originOf(server string) (string, error) {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("client: server %q is not an http(s) URL", server)
	}
	switch strings.ToLower(u.Scheme) {
	case "http", "ws":
		return "http://" + u.Host, nil
	case "https", "wss":
		return "https://" + u.Host, nil
	}
	return "", fmt.Errorf("client: server %q is not an http(s) URL", server)
}
