// Package room is Softland's room logic: seats, check-in rounds, the blind
// intersection of token sets, pause, the sealed relay and debrief release, and
// the bookkeeping that lets a phone resume without losing an event. It knows
// nothing of sockets or of where rooms are kept: the edge calls a Service, and
// a Service keeps rooms in a Store.
package room

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/google/uuid"

	"softland/server/protocol"
)

// Defaults for Options. They are named so the command-line help, the docs and
// the tests can all point at one value.
const (
	DefaultRevealSize    = 3
	DefaultInviteTTL     = time.Hour
	DefaultIdleTTL       = 30 * 24 * time.Hour
	DefaultRoundWindow   = 2 * time.Hour
	DefaultDebriefWindow = 18 * time.Hour // from the round's start: "until the next morning"
	DefaultMaxSubmits    = 20
	DefaultMoveTTL       = 10 * time.Minute
	maxRevoked           = 4
	maxDebriefs          = 4
	eraseTimeout         = 10 * time.Second
)

// Options configure a Service. Zero values take the defaults above.
type Options struct {
	Store Store
	// Seats, when set, is told which seats' connections this instance holds
	// (a store several instances share has one: redisstore.Leases). The
	// command wires its callbacks to Orphaned and Revived.
	Seats SeatHolder
	// RevealSize is K: at most this many mutual suggestions are revealed.
	RevealSize int
	// InviteTTL is how long the pairing link works while seat 2 is free.
	InviteTTL time.Duration
	// RoundWindow is how long a check-in round stays open.
	RoundWindow time.Duration
	// DebriefWindow is how long after a round opens its debriefs are accepted.
	DebriefWindow time.Duration
	// MaxSubmits bounds submissions per seat per round, which bounds how far a
	// phone can probe the partner's wishes by trying sets.
	MaxSubmits int
	// MoveTTL is how long a move code works.
	MoveTTL time.Duration
	// Now and Rand are the clock and the randomness; tests replace them to get
	// byte-for-byte reproducible runs.
	Now  func() time.Time
	Rand io.Reader
	// Push sends Web Push to sleeping phones; nil sends none, and refuses
	// subscriptions with CodePushDisabled.
	Push Pusher
}

// Service runs rooms. It is safe for concurrent use; all coordination between
// connections, processes and instances goes through the Store.
type Service struct {
	store  Store
	holder SeatHolder // Options.Seats; nil for a single instance
	opt    Options
}

// New returns a Service over opts.Store.
func New(opts Options) *Service {
	if opts.RevealSize <= 0 {
		opts.RevealSize = DefaultRevealSize
	}
	if opts.InviteTTL <= 0 {
		opts.InviteTTL = DefaultInviteTTL
	}
	if opts.RoundWindow <= 0 {
		opts.RoundWindow = DefaultRoundWindow
	}
	if opts.DebriefWindow <= 0 {
		opts.DebriefWindow = DefaultDebriefWindow
	}
	if opts.MaxSubmits <= 0 {
		opts.MaxSubmits = DefaultMaxSubmits
	}
	if opts.MoveTTL <= 0 {
		opts.MoveTTL = DefaultMoveTTL
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Rand == nil {
		opts.Rand = rand.Reader
	}
	return &Service{store: opts.Store, holder: opts.Seats, opt: opts}
}

// Admission is what a phone gets for creating, joining or resuming: who it
// is now, the welcome to send it, and when the open round (if any) ends.
type Admission struct {
	Member        Member
	Welcome       *protocol.Welcome
	RoundClosesAt int64
}

// admit records that this instance now holds m's connection (SeatHolder)
// and makes the Admission.
func (s *Service) admit(ctx context.Context, m Member, w *protocol.Welcome, st *State) *Admission {
	if s.holder != nil {
		s.holder.Hold(ctx, m)
	}
	a := &Admission{Member: m, Welcome: w}
	if st.Round != nil {
		a.RoundClosesAt = st.Round.ClosesAt
	}
	return a
}

// Member is an authenticated connection: which room, which seat, and which of
// the seat's connections (Gen) it is.
type Member struct {
	Room string
	Seat int // 1 or 2
	Gen  uint64
}

// Create opens a room with seat 1 taken by the caller.
func (s *Service) Create(ctx context.Context, joinKeyHash string) (*Admission, error) {
	id, err := uuid.NewRandomFromReader(s.opt.Rand)
	if err != nil {
		return nil, err
	}
	var epoch [8]byte
	if _, err := io.ReadFull(s.opt.Rand, epoch[:]); err != nil {
		return nil, err
	}
	device, deviceHash, err := s.newToken()
	if err != nil {
		return nil, err
	}
	now := s.opt.Now()
	st := &State{
		ID:              id.String(),
		Epoch:           hex.EncodeToString(epoch[:]),
		CreatedAt:       now.UnixMilli(),
		JoinKeyHash:     joinKeyHash,
		InviteExpiresAt: now.Add(s.opt.InviteTTL).UnixMilli(),
	}
	st.Seats[0] = Seat{Taken: true, DeviceHash: deviceHash, Presence: protocol.PresenceOnline, Gen: 1}
	st.Seats[1] = Seat{Presence: protocol.PresenceAway}
	if err := s.store.Create(ctx, st); err != nil {
		return nil, err
	}
	w := s.welcome(st, 1)
	w.Device = device
	w.Snapshot = st.Snapshot()
	return s.admit(ctx, Member{Room: st.ID, Seat: 1, Gen: 1}, w, st), nil
}

// Join takes seat 2 with the join key from the link. After it succeeds the
// join key is forgotten, so the link can never seat anyone else; only the
// same phone, presenting the same nonce, may repeat a join whose welcome it
// never got, until seat 2 first acts or the invite expires.
func (s *Service) Join(ctx context.Context, roomID, joinKey, nonce string) (*Admission, error) {
	device, deviceHash, err := s.newToken()
	if err != nil {
		return nil, err
	}
	presented := hashKey(joinKey)
	proof := ""
	if nonce != "" {
		proof = joinProof(joinKey, nonce)
	}
	var m Member
	st, _, err := s.update(ctx, roomID, nil, func(t *tx) error {
		st := t.st
		se := &st.Seats[1]
		if se.Taken {
			if proof == "" || se.JoinProof == "" || subtle.ConstantTimeCompare([]byte(proof), []byte(se.JoinProof)) != 1 || t.now >= st.InviteExpiresAt {
				return ErrRoomFull
			}
			// The same phone again: a new device token replaces the one it
			// never received, and any socket holding the old one is replaced.
			se.DeviceHash = deviceHash
			se.Gen++
			m = Member{Room: st.ID, Seat: 2, Gen: se.Gen}
			t.dirty = true
			if se.Presence != protocol.PresenceOnline {
				se.Presence = protocol.PresenceOnline
				t.emit(protocol.Event{Kind: protocol.KindPresence, Seat: 2, Presence: protocol.PresenceOnline})
			}
			return nil
		}
		switch {
		case st.InviteRevoked:
			return ErrInviteRevoked
		case subtle.ConstantTimeCompare([]byte(presented), []byte(st.JoinKeyHash)) != 1:
			return ErrBadJoinKey
		case t.now >= st.InviteExpiresAt:
			return ErrInviteExpired
		}
		st.JoinKeyHash = ""
		// Worthy stays: what seat 1 did before the pairing (a pause, the
		// settings) is confirmed by seat 2's first receipt.
		*se = Seat{Taken: true, DeviceHash: deviceHash, Presence: protocol.PresenceOnline, Gen: 1, JoinProof: proof, Worthy: se.Worthy}
		m = Member{Room: st.ID, Seat: 2, Gen: 1}
		t.emit(protocol.Event{Kind: protocol.KindPaired, Seat: 2})
		return nil
	})
	if err != nil {
		return nil, err
	}
	w := s.welcome(st, 2)
	w.Device = device
	w.Snapshot = st.Snapshot()
	return s.admit(ctx, m, w, st), nil
}

// joinProof binds a join key to the joining phone's nonce.
func joinProof(joinKey, nonce string) string {
	k, _ := base64.RawURLEncoding.DecodeString(joinKey)
	n, _ := base64.RawURLEncoding.DecodeString(nonce)
	sum := sha256.Sum256(append(append([]byte("softland join proof\x00"), k...), n...))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// Resume brings a seat back. The answer replays exactly the events after
// offset when the log still holds them all, and is a snapshot otherwise.
func (s *Service) Resume(ctx context.Context, roomID, device, epoch string, offset uint64) (*Admission, error) {
	presented := hashKey(device)
	var m Member
	st, _, err := s.update(ctx, roomID, nil, func(t *tx) error {
		seat := 0
		for i, se := range t.st.Seats {
			if se.Taken && subtle.ConstantTimeCompare([]byte(presented), []byte(se.DeviceHash)) == 1 {
				seat = i + 1
			}
		}
		if seat == 0 {
			if revoked(t.st, presented) {
				return ErrDeviceRevoked
			}
			return ErrForbidden
		}
		se := &t.st.Seats[seat-1]
		se.Gen++
		se.JoinProof = ""    // seat 2 has its token: a repeated join is no longer needed
		se.MoveProof = ""    // likewise a repeated move
		se.ReplaceProof = "" // and a repeated replacement
		t.dirty = true
		m = Member{Room: roomID, Seat: seat, Gen: se.Gen}
		if se.Presence != protocol.PresenceOnline {
			se.Presence = protocol.PresenceOnline
			t.emit(protocol.Event{Kind: protocol.KindPresence, Seat: seat, Presence: protocol.PresenceOnline})
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	w := s.welcome(st, m.Seat)
	if epoch == st.Epoch && offset > 0 && offset <= st.Offset {
		evs, complete, err := s.Since(ctx, roomID, epoch, offset)
		if err != nil {
			return nil, err
		}
		if complete && replaySize(evs) <= maxReplayBytes {
			w.Replay = evs
			if n := len(evs); n > 0 && evs[n-1].Offset > w.Offset {
				w.Offset = evs[n-1].Offset
			}
			return s.admit(ctx, m, w, st), nil
		}
	}
	w.Snapshot = st.Snapshot()
	return s.admit(ctx, m, w, st), nil
}

// maxReplayBytes keeps a welcome with a replay well inside the largest frame
// a client reads; a longer replay is sent as a snapshot, which is bounded.
const maxReplayBytes = protocol.MaxServerFrameBytes * 3 / 4

func replaySize(evs []protocol.Event) int {
	n := 0
	for i := range evs {
		b, _ := json.Marshal(&evs[i])
		n += len(b) + 1
	}
	return n
}

func (s *Service) welcome(st *State, seat int) *protocol.Welcome {
	w := &protocol.Welcome{
		Header:   protocol.Header{Type: protocol.TypeWelcome},
		Room:     st.ID,
		Seat:     seat,
		Epoch:    st.Epoch,
		Offset:   st.Offset,
		KeyEpoch: st.KeyEpoch,
	}
	if !st.Seats[1].Taken {
		w.InviteExpiresAt = st.InviteExpiresAt
	}
	w.Push = s.pushInfo(st, seat)
	return w
}

// Since returns the logged events after offset, like Store.Since, with the
// revealed tokens of the open round put back (State.RestoreReveals).
func (s *Service) Since(ctx context.Context, roomID, epoch string, after uint64) ([]protocol.Event, bool, error) {
	evs, complete, err := s.store.Since(ctx, roomID, epoch, after)
	if err != nil || !complete {
		return evs, complete, err
	}
	for _, ev := range evs {
		if ev.Kind == protocol.KindRoundRevealed {
			st, err := s.store.Load(ctx, roomID)
			if err != nil {
				return nil, false, err
			}
			st.RestoreReveals(evs)
			break
		}
	}
	return evs, true, nil
}

// OpenRound starts a check-in round and returns its id.
func (s *Service) OpenRound(ctx context.Context, m Member) (string, uint64, error) {
	u, err := uuid.NewRandomFromReader(s.opt.Rand)
	if err != nil {
		return "", 0, err
	}
	id := u.String()
	off, err := s.change(ctx, m, func(t *tx) error {
		switch {
		case !t.st.Paired():
			return ErrNotPaired
		case t.st.Round != nil:
			return ErrRoundOpen
		}
		t.st.Round = &Round{ID: id, By: m.Seat, OpenedAt: t.now, ClosesAt: t.now + s.opt.RoundWindow.Milliseconds()}
		until := t.now + s.opt.DebriefWindow.Milliseconds()
		t.st.Debriefs = append(t.st.Debriefs, Debrief{Round: id, Until: until})
		if n := len(t.st.Debriefs); n > maxDebriefs {
			t.st.Debriefs = append([]Debrief{}, t.st.Debriefs[n-maxDebriefs:]...)
		}
		t.emit(protocol.Event{Kind: protocol.KindRoundOpened, Seat: m.Seat, Round: id, ClosesAt: t.st.Round.ClosesAt, Until: until})
		return nil
	})
	return id, off, err
}

// Submit stores the seat's token set for the round (tokens in wire form, as
// protocol.DecodeTokenSet accepted it: kept as it came, never copied) and,
// once both seats have answered, reveals the mutual top K; revealed says
// whether it did. A partner hears that the seat answered
// (once) and sees the reveal only when it changes: a resubmission that changes
// nothing mutual sends the partner nothing at all.
func (s *Service) Submit(ctx context.Context, m Member, round string, tokens string) (offset uint64, revealed bool, err error) {
	offset, err = s.change(ctx, m, func(t *tx) error {
		revealed = false
		r, err := openRound(t.st, round)
		if err != nil {
			return err
		}
		i := m.Seat - 1
		if r.Submits[i] >= s.opt.MaxSubmits {
			return ErrLimit
		}
		first := r.Tokens[i] == ""
		r.Tokens[i] = tokens
		r.Submits[i]++
		t.dirty = true
		if first {
			t.emit(protocol.Event{Kind: protocol.KindRoundSubmitted, Seat: m.Seat, Round: r.ID})
		}
		if r.Tokens[0] == "" || r.Tokens[1] == "" {
			return nil
		}
		reveal := Intersect(r.Tokens[0], r.Tokens[1], s.opt.RevealSize)
		if r.Rev > 0 && reveal == r.Reveal {
			return nil
		}
		r.Reveal = reveal
		r.Reveals = append(r.Reveals, reveal)
		r.Rev++
		revealed = true
		t.emit(protocol.Event{Kind: protocol.KindRoundRevealed, Round: r.ID, Reveal: reveal, Rev: r.Rev})
		return nil
	})
	return offset, revealed, err
}

// CloseRound ends the open round. Its tokens are deleted with it.
func (s *Service) CloseRound(ctx context.Context, m Member, round string) (uint64, error) {
	return s.change(ctx, m, func(t *tx) error {
		if _, err := openRound(t.st, round); err != nil {
			return err
		}
		t.closeRound(protocol.ReasonClosed, m.Seat)
		return nil
	})
}

func openRound(st *State, round string) (*Round, error) {
	switch {
	case st.Round == nil:
		return nil, ErrNoRound
	case st.Round.ID != round:
		return nil, ErrStaleRound
	}
	return st.Round, nil
}

// Pause records this seat's pause and relays it at once. Pausing twice is one
// pause.
func (s *Service) Pause(ctx context.Context, m Member) (uint64, error) {
	return s.change(ctx, m, func(t *tx) error {
		if t.st.Paused[m.Seat-1] {
			return nil
		}
		t.st.Paused[m.Seat-1] = true
		t.emit(protocol.Event{Kind: protocol.KindPaused, Seat: m.Seat})
		return nil
	})
}

// Unpause lifts this seat's own pause; only the seat that paused can.
func (s *Service) Unpause(ctx context.Context, m Member) (uint64, error) {
	return s.change(ctx, m, func(t *tx) error {
		if !t.st.Paused[m.Seat-1] {
			return ErrNotPaused
		}
		t.st.Paused[m.Seat-1] = false
		t.emit(protocol.Event{Kind: protocol.KindUnpaused, Seat: m.Seat})
		return nil
	})
}

// Announce relays a sealed announcement and keeps it as the seat's latest.
func (s *Service) Announce(ctx context.Context, m Member, blob string) (uint64, error) {
	return s.change(ctx, m, func(t *tx) error {
		t.st.Announce[m.Seat-1] = &protocol.Sealed{Seat: m.Seat, Blob: blob}
		t.emit(protocol.Event{Kind: protocol.KindAnnounced, Seat: m.Seat, Blob: blob})
		return nil
	})
}

// SetSettings replaces the couple's sealed shared settings.
func (s *Service) SetSettings(ctx context.Context, m Member, blob string) (uint64, error) {
	return s.change(ctx, m, func(t *tx) error {
		t.st.Settings = &protocol.Sealed{Seat: m.Seat, Blob: blob}
		t.emit(protocol.Event{Kind: protocol.KindSettings, Seat: m.Seat, Blob: blob})
		return nil
	})
}

// Debrief hands in the seat's sealed debrief for a round. When both are in,
// both are released to both seats in one event, so they open together.
func (s *Service) Debrief(ctx context.Context, m Member, round, blob string) (uint64, error) {
	return s.change(ctx, m, func(t *tx) error {
		d := t.st.debrief(round)
		if d == nil || d.Released || t.now >= d.Until {
			return ErrDebriefClosed
		}
		i := m.Seat - 1
		first := d.Blobs[i] == ""
		d.Blobs[i] = blob
		t.dirty = true
		if first {
			t.emit(protocol.Event{Kind: protocol.KindDebriefSubmitted, Seat: m.Seat, Round: round})
		}
		if d.Blobs[0] != "" && d.Blobs[1] != "" {
			d.Released = true
			t.emit(protocol.Event{Kind: protocol.KindDebriefReleased, Round: round, Blobs: []string{d.Blobs[0], d.Blobs[1]}})
		}
		return nil
	})
}

// Seen records that the member's phone has applied every event up to
// offset (at most the room's offset; a lower one than before changes
// nothing) and, when that passes at least one event worth a receipt (see
// Seat.Worthy), logs KindDelivered so the partner knows. It returns the
// room's offset, like every change.
//
// Worthy is only the newest such event. A receipt that stops short of it
// may or may not pass an earlier one; only then is the log consulted (the
// phone's receipts normally end at an event worth one, or reach the
// newest). A log that no longer holds the span counts as worthy: a
// superfluous receipt is harmless, a missing one would leave the partner
// thinking a pause never arrived.
func (s *Service) Seen(ctx context.Context, m Member, offset uint64) (uint64, error) {
	var known *span // the verdict for a span read from the log
	for attempt := 0; ; attempt++ {
		var ask *span
		off, err := s.change(ctx, m, func(t *tx) error {
			ask = nil
			se := &t.st.Seats[m.Seat-1]
			to := min(offset, t.st.Offset)
			if to <= se.Seen {
				return nil
			}
			from := se.Seen
			var worthy bool
			switch {
			case se.Worthy <= from:
			case se.Worthy <= to:
				worthy = true
			case known != nil && known.from == from && known.to == to:
				worthy = known.worthy
			case attempt >= 3:
				worthy = true // the span keeps moving; err on the side of a receipt
			default:
				ask = &span{epoch: t.st.Epoch, from: from, to: to}
				return nil
			}
			se.Seen = to
			t.dirty = true
			if worthy {
				t.emit(protocol.Event{Kind: protocol.KindDelivered, Seat: m.Seat, Seen: to})
			}
			return nil
		})
		if ask == nil || err != nil {
			return off, err
		}
		evs, complete, err := s.store.Since(ctx, m.Room, ask.epoch, ask.from)
		if err != nil {
			return 0, err
		}
		ask.worthy = !complete
		for _, ev := range evs {
			if ev.Offset <= ask.to && worthyFor(ev, m.Seat) {
				ask.worthy = true
			}
		}
		known = ask
	}
}

// span is a run of offsets (from, to] and whether any event in it is worth a
// receipt.
type span struct {
	epoch    string
	from, to uint64
	worthy   bool
}

// worthyFor reports whether ev is worth seat's receipt: it is not a receipt
// and not about the seat itself (its own pause, its own presence), which
// its partner gains nothing from hearing confirmed.
func worthyFor(ev protocol.Event, seat int) bool {
	return ev.Kind != protocol.KindDelivered && ev.Seat != seat
}

// Erase tells both seats the room is gone, then deletes everything of it.
// The same commit marks the room erased, so nothing can join, resume or act
// in it between the event and the deletion; and the deletion does not stop
// when the caller's context ends (the erasing socket closes at the event).
func (s *Service) Erase(ctx context.Context, m Member) error {
	_, err := s.change(ctx, m, func(t *tx) error {
		t.st.Erased = true
		t.emit(protocol.Event{Kind: protocol.KindErased, Seat: m.Seat})
		return nil
	})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), eraseTimeout)
	defer cancel()
	return s.store.Delete(ctx, m.Room)
}

// Leave records that a connection ended. presence is PresenceReconnecting
// for a dropped socket and PresenceAway for a goodbye. A connection that was
// already replaced by a newer one changes nothing.
func (s *Service) Leave(ctx context.Context, m Member, presence string) error {
	_, _, err := s.update(ctx, m.Room, nil, func(t *tx) error {
		se := &t.st.Seats[m.Seat-1]
		if se.Gen != m.Gen || se.Presence == presence {
			return nil
		}
		se.Presence = presence
		t.emit(protocol.Event{Kind: protocol.KindPresence, Seat: m.Seat, Presence: presence})
		return nil
	})
	if s.holder != nil && (err == nil || IsRefusal(err)) {
		// Saved, or the room is gone: nothing is left to repair. When the
		// store failed, the seat stays held, so that should this instance
		// die before the store comes back, another one marks it.
		s.holder.Release(ctx, m)
	}
	return err
}

// Liveness records whether m's open socket is showing signs of life: alive
// false marks an online seat unreachable (the phone has sent nothing for
// the liveness window: a frozen page, a locked phone, a dead network the
// socket has not noticed yet), alive true marks an unreachable seat online
// again. Only the connection holding the socket calls it, so with several
// instances the one that can see the silence decides; a connection the seat
// has moved on from (Gen) changes nothing, nor does a seat that already
// left.
func (s *Service) Liveness(ctx context.Context, m Member, alive bool) error {
	from, to := protocol.PresenceOnline, protocol.PresenceUnreachable
	if alive {
		from, to = to, from
	}
	_, _, err := s.update(ctx, m.Room, nil, func(t *tx) error {
		se := &t.st.Seats[m.Seat-1]
		if se.Gen != m.Gen || se.Presence != from {
			return nil
		}
		se.Presence = to
		t.emit(protocol.Event{Kind: protocol.KindPresence, Seat: m.Seat, Presence: to})
		return nil
	})
	return err
}

// Forget ends this instance's hold on m's connection without a presence
// change: the connection ended because its room was erased.
func (s *Service) Forget(ctx context.Context, m Member) {
	if s.holder != nil {
		s.holder.Release(ctx, m)
	}
}

// Orphaned marks a seat whose connection was held by an instance that died
// without a word as reconnecting, unless the seat has moved on since (a
// newer connection, or it already left). The seat holder calls it (main
// wires redisstore.Leases.OnOrphaned to it);
// without it the partner would see the seat online until the phone came
// back, or for good if it never did.
func (s *Service) Orphaned(ctx context.Context, m Member) error {
	_, _, err := s.update(ctx, m.Room, nil, func(t *tx) error {
		se := &t.st.Seats[m.Seat-1]
		if se.Gen != m.Gen || (se.Presence != protocol.PresenceOnline && se.Presence != protocol.PresenceUnreachable) {
			return nil
		}
		se.Presence = protocol.PresenceReconnecting
		t.emit(protocol.Event{Kind: protocol.KindPresence, Seat: m.Seat, Presence: protocol.PresenceReconnecting})
		return nil
	})
	return err
}

// Revived undoes Orphaned for a seat whose connection is still open: the
// instance holding it was taken for dead during a stall and has come back.
// A seat that moved on (a newer connection, a goodbye) is left alone.
func (s *Service) Revived(ctx context.Context, m Member) error {
	_, _, err := s.update(ctx, m.Room, nil, func(t *tx) error {
		se := &t.st.Seats[m.Seat-1]
		if se.Gen != m.Gen || se.Presence != protocol.PresenceReconnecting {
			return nil
		}
		se.Presence = protocol.PresenceOnline
		t.emit(protocol.Event{Kind: protocol.KindPresence, Seat: m.Seat, Presence: protocol.PresenceOnline})
		return nil
	})
	return err
}

// Tick runs the room's timed housekeeping now: it closes a round whose
// window has ended. Connections call it when a round's window ends; it is
// also run before every other change, so a room nobody is connected to
// catches up the next time anyone acts.
func (s *Service) Tick(ctx context.Context, roomID string) error {
	_, _, err := s.update(ctx, roomID, nil, func(*tx) error { return nil })
	return err
}

// tx is one attempt at a change: the state being changed and the events it
// produced.
type tx struct {
	st    *State
	now   int64
	evs   []protocol.Event
	dirty bool
	opErr error // op's refusal, returned after the store's answer
}

// emit logs an event with the room's next offset.
func (t *tx) emit(ev protocol.Event) {
	t.st.Offset++
	ev.V, ev.Type = protocol.Version, protocol.TypeEvent
	ev.Epoch, ev.Offset, ev.At = t.st.Epoch, t.st.Offset, t.now
	for i := range t.st.Seats {
		if worthyFor(ev, i+1) {
			t.st.Seats[i].Worthy = ev.Offset
		}
	}
	t.evs = append(t.evs, ev)
}

func (t *tx) closeRound(reason string, seat int) {
	r := t.st.Round
	t.st.Round = nil // the round's tokens go with it
	ev := protocol.Event{Kind: protocol.KindRoundClosed, Round: r.ID, Reason: reason, Seat: seat}
	if d := t.st.debrief(r.ID); d != nil {
		ev.Until = d.Until
	}
	t.emit(ev)
}

// housekeep applies what time has made due.
func (t *tx) housekeep() {
	if r := t.st.Round; r != nil && t.now >= r.ClosesAt {
		t.closeRound(protocol.ReasonExpired, 0)
	}
	kept := t.st.Debriefs[:0]
	for _, d := range t.st.Debriefs {
		if t.now < d.Until {
			kept = append(kept, d)
		}
	}
	if len(kept) != len(t.st.Debriefs) {
		t.st.Debriefs = kept
		t.dirty = true
	}
}

// change runs a member's op and returns the room's offset after it, so the
// edge can send the answer only after every event up to it.
func (s *Service) change(ctx context.Context, m Member, op func(*tx) error) (uint64, error) {
	st, _, err := s.update(ctx, m.Room, &m, op)
	if st == nil {
		return 0, err
	}
	return st.Offset, err
}

// update runs op on the room inside one store transaction. Every operation
// first catches up on housekeeping. Operations validate before they change
// anything, so when op refuses, what housekeeping did is still saved and the
// refusal is returned. A member whose connection was replaced is refused
// (ErrReplaced, or ErrMovedAway when the seat has moved to another device).
func (s *Service) update(ctx context.Context, roomID string, m *Member, op func(*tx) error) (*State, []protocol.Event, error) {
	// One tx serves every attempt (a store calls fn again after losing a
	// race) and carries op's refusal out: with the closure, it is all an
	// update allocates here besides its events.
	t := new(tx)
	st, evs, err := s.store.Update(ctx, roomID, func(st *State) ([]protocol.Event, error) {
		if st.Erased {
			return nil, ErrNotFound
		}
		*t = tx{st: st, now: s.opt.Now().UnixMilli()}
		t.housekeep()
		if m != nil && st.Seats[m.Seat-1].Gen != m.Gen {
			t.opErr = ErrReplaced
			if m.Gen < st.Seats[m.Seat-1].MovedGen {
				t.opErr = ErrMovedAway // a device the seat moved away from
			}
		} else {
			if m != nil {
				if se := &st.Seats[m.Seat-1]; se.JoinProof != "" || se.MoveProof != "" || se.ReplaceProof != "" {
					// The seat acted, so it holds its device token: no
					// repeated join, move or replacement is needed any more.
					se.JoinProof, se.MoveProof, se.ReplaceProof = "", "", ""
					t.dirty = true
				}
			}
			t.opErr = op(t)
		}
		if t.opErr != nil && len(t.evs) == 0 && !t.dirty {
			return nil, t.opErr
		}
		if len(t.evs) == 0 && !t.dirty {
			return nil, ErrUnchanged
		}
		return t.evs, nil
	})
	if err != nil {
		return nil, nil, err
	}
	if len(evs) > 0 && s.opt.Push != nil {
		s.opt.Push.Committed(st, evs)
	}
	return st, evs, t.opErr
}

// newToken returns 32 random bytes in base64url and their hashKey: a device
// token, a move code or a re-pair code, of which the server keeps only the
// hash.
func (s *Service) newToken() (token, hash string, err error) {
	var b [32]byte
	if _, err := io.ReadFull(s.opt.Rand, b[:]); err != nil {
		return "", "", err
	}
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, hashKey(token), nil
}

// hashKey returns base64url(SHA-256(key bytes)) for a key given in base64url.
// The server stores keys only in this form.
func hashKey(key string) string {
	b, err := base64.RawURLEncoding.DecodeString(key)
	if err != nil {
		b = []byte(key) // cannot match any stored hash of a well-formed key
	}
	sum := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(sum[:])
}

// IsRefusal reports whether err is a refusal for the phone (an *Error) rather
// than a failure of the store.
func IsRefusal(err error) bool {
	var e *Error
	return errors.As(err, &e)
}
