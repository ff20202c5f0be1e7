package room

import (
	"sort"

	"softland/server/protocol"
)

// State is everything the server keeps about one room. It is plain data so a
// store can serialise it whole (the Redis store keeps it as one JSON value and
// commits it with a compare-and-set on Version). It holds no secret in the
// clear: the join key and device tokens only as hashes, everything personal
// only as sealed blobs, and round tokens only while the round is open.
type State struct {
	ID      string `json:"id"`
	Epoch   string `json:"epoch"`
	Version uint64 `json:"version"` // bumped by the store on every save
	Offset  uint64 `json:"offset"`  // offset of the last logged event

	CreatedAt int64 `json:"createdAt"` // Unix ms
	// JoinKeyHash is SHA-256 of the join key, kept only until seat 2 is taken.
	JoinKeyHash     string `json:"joinKeyHash,omitempty"`
	InviteExpiresAt int64  `json:"inviteExpiresAt"`
	// InviteRevoked is set by seat 1's invite.cancel while seat 2 was free:
	// the join key's hash is gone, and a join hears why.
	InviteRevoked bool `json:"inviteRevoked,omitempty"`

	Seats    [2]Seat             `json:"seats"`
	Paused   [2]bool             `json:"paused"`
	Round    *Round              `json:"round,omitempty"`
	Settings *protocol.Sealed    `json:"settings,omitempty"`
	Announce [2]*protocol.Sealed `json:"announce"`
	Debriefs []Debrief           `json:"debriefs,omitempty"`
	// Erased is set by the erase commit, just before the room is deleted, so
	// nothing acts in it in between.
	Erased bool `json:"erased,omitempty"`
}

// Seat is one partner's device.
type Seat struct {
	Taken bool `json:"taken"`
	// DeviceHash is SHA-256 of the device token; the token itself is only on
	// the phone.
	DeviceHash string `json:"deviceHash,omitempty"`
	Presence   string `json:"presence"`
	// JoinProof is SHA-256 of seat 2's join key and join nonce, kept until
	// seat 2 first acts, so a join whose welcome was lost can be repeated by
	// the same phone (protocol.Join).
	JoinProof string `json:"joinProof,omitempty"`
	// Gen counts the seat's connections. A connection remembers the Gen it got,
	// so a stale socket that closes late cannot mark a reconnected seat away,
	// and cannot act for it.
	Gen uint64 `json:"gen"`
	// Seen is the highest offset the seat's phone confirmed it applied
	// (protocol.Seen); it only grows.
	Seen uint64 `json:"seen,omitempty"`
	// Worthy is the offset of the newest event worth this seat's receipt:
	// one that is neither a receipt (KindDelivered) nor about the seat
	// itself. A Seen that passes none of them logs nothing, so receipts
	// cannot answer receipts and a phone repeating itself adds nothing.
	Worthy uint64 `json:"worthy,omitempty"`
	// MoveHash is SHA-256 of the seat's pending move code (protocol.MoveCreate),
	// "" when it has none; the code itself is only on the phones. It works
	// once, until MoveExpiresAt.
	MoveHash      string `json:"moveHash,omitempty"`
	MoveExpiresAt int64  `json:"moveExpiresAt,omitempty"`
	// MoveProof is SHA-256 of the taken move code and the new device's
	// nonce, kept until the seat next acts, so a move whose welcome was lost
	// can be repeated by the same device (protocol.Move), like JoinProof.
	MoveProof string `json:"moveProof,omitempty"`
	// Revoked holds the hashes of the seat's last device tokens that a move
	// replaced (at most maxRevoked), so an old device is told it was moved
	// away from (CodeDeviceRevoked) rather than that it was never a member.
	Revoked []string `json:"revoked,omitempty"`
	// MovedGen is the Gen the seat's latest move gave the new device: a
	// connection with an older Gen belongs to a device moved away from,
	// which is told so (ErrMovedAway) rather than that it was replaced.
	MovedGen uint64 `json:"movedGen,omitempty"`
	// Push is the seat's Web Push subscription, nil when it has none. It is
	// kept here, with the room, so it expires and is erased with the room
	// and lives under no other key; no snapshot, event or log line carries it.
	Push *PushSub `json:"push,omitempty"`
}

// PushSub is a seat's Web Push subscription (protocol.PushSubscribe): where
// to send, the keys to encrypt to, and which kinds the phone wants.
type PushSub struct {
	Endpoint string             `json:"endpoint"`
	P256dh   string             `json:"p256dh"`
	Auth     string             `json:"auth"`
	Kinds    protocol.PushKinds `json:"kinds"`
}

// Wants reports whether the subscription asks for pushes of kind (one of
// the protocol.Push* kinds).
func (p *PushSub) Wants(kind string) bool {
	if p == nil {
		return false
	}
	switch kind {
	case protocol.PushPause:
		return p.Kinds.Pause
	case protocol.PushCheckin:
		return p.Kinds.Checkin
	case protocol.PushDebrief:
		return p.Kinds.Debrief
	case protocol.PushSpace:
		return p.Kinds.Space
	}
	return false
}

// Round is an open check-in round.
type Round struct {
	ID       string `json:"id"`
	By       int    `json:"by"`
	OpenedAt int64  `json:"openedAt"`
	ClosesAt int64  `json:"closesAt"`
	// Tokens are each seat's latest submission; nil until the seat answers.
	Tokens  [2][]protocol.Token `json:"tokens"`
	Submits [2]int              `json:"submits"`
	Reveal  []string            `json:"reveal,omitempty"`
	Rev     int                 `json:"rev"`
	// Reveals are every reveal of this round, by Rev-1, so a replay can
	// restore them: the log keeps none (ForLog).
	Reveals [][]string `json:"reveals,omitempty"`
}

// Debrief is one round's pair of sealed debriefs, held until both are in.
type Debrief struct {
	Round    string    `json:"round"`
	Until    int64     `json:"until"`
	Blobs    [2]string `json:"blobs"`
	Released bool      `json:"released"`
}

// Paired reports whether both seats are taken.
func (st *State) Paired() bool { return st.Seats[0].Taken && st.Seats[1].Taken }

// Snapshot is the state a phone sees: no hashes, no tokens, only the reveal.
func (st *State) Snapshot() *protocol.Snapshot {
	s := &protocol.Snapshot{
		Paired:   st.Paired(),
		Presence: [2]string{st.Seats[0].Presence, st.Seats[1].Presence},
		Paused:   st.Paused,
		Settings: st.Settings,
		Announce: st.Announce,
		Debriefs: []protocol.DebriefState{},
		Seen:     [2]uint64{st.Seats[0].Seen, st.Seats[1].Seen},
	}
	if r := st.Round; r != nil {
		s.Round = &protocol.RoundState{
			Round:     r.ID,
			By:        r.By,
			ClosesAt:  r.ClosesAt,
			Submitted: [2]bool{r.Tokens[0] != nil, r.Tokens[1] != nil},
			Reveal:    append([]string{}, r.Reveal...),
			Rev:       r.Rev,
		}
	}
	for _, d := range st.Debriefs {
		ds := protocol.DebriefState{
			Round:     d.Round,
			Until:     d.Until,
			Submitted: [2]bool{d.Blobs[0] != "", d.Blobs[1] != ""},
		}
		if d.Released {
			ds.Released = []string{d.Blobs[0], d.Blobs[1]}
		}
		s.Debriefs = append(s.Debriefs, ds)
	}
	return s
}

// Intersect returns the tokens both seats submitted, ordered by the sum of
// their two ranks, at most k of them. Ties are broken by the tokens' bytes:
// tokens are HMAC outputs, so that order is effectively random to the server
// and carries nothing about unmatched wishes or submission order.
func Intersect(a, b []protocol.Token, k int) []string {
	rankA := make(map[string]int, len(a))
	for _, t := range a {
		rankA[t.T] = t.R
	}
	type match struct {
		t     string
		score int
	}
	var ms []match
	for _, t := range b {
		if r, ok := rankA[t.T]; ok {
			ms = append(ms, match{t.T, r + t.R})
		}
	}
	sort.Slice(ms, func(i, j int) bool {
		if ms[i].score != ms[j].score {
			return ms[i].score < ms[j].score
		}
		return ms[i].t < ms[j].t
	})
	if len(ms) > k {
		ms = ms[:k]
	}
	out := make([]string, len(ms))
	for i, m := range ms {
		out[i] = m.t
	}
	return out
}

func (st *State) debrief(round string) *Debrief {
	for i := range st.Debriefs {
		if st.Debriefs[i].Round == round {
			return &st.Debriefs[i]
		}
	}
	return nil
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// RestoreReveals puts the open round's revealed tokens back into logged
// round.revealed events (the log keeps none, see ForLog). A closed round's
// reveals stay empty: its tokens are gone for good.
func (st *State) RestoreReveals(evs []protocol.Event) {
	r := st.Round
	if r == nil {
		return
	}
	for i := range evs {
		ev := &evs[i]
		if ev.Kind == protocol.KindRoundRevealed && ev.Round == r.ID && ev.Rev >= 1 && ev.Rev <= len(r.Reveals) {
			ev.Reveal = r.Reveals[ev.Rev-1]
		}
	}
}
