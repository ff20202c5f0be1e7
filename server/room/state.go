package room

import (
	"bytes"
	"encoding/base64"

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
	// KeyEpoch counts the room secrets since the first: each replacement
	// (protocol.Replace) moves the room to a new secret and adds one.
	KeyEpoch uint64 `json:"keyEpoch,omitempty"`

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
	// ReplaceHash is SHA-256 of a pending re-pair code for this seat, made
	// by the OTHER seat (protocol.ReplaceCreate); ReplaceKeyHash is the new
	// secret's join key hash the taker must match, and ReplaceExpiresAt when
	// the code stops working. "" when there is none.
	ReplaceHash      string `json:"replaceHash,omitempty"`
	ReplaceKeyHash   string `json:"replaceKeyHash,omitempty"`
	ReplaceExpiresAt int64  `json:"replaceExpiresAt,omitempty"`
	// ReplaceProof is SHA-256 of the taken re-pair code, join key and the
	// new device's nonce, kept until the seat next acts, like MoveProof.
	ReplaceProof string `json:"replaceProof,omitempty"`
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
	// Tokens are each seat's latest submission as the phone sent it (the
	// wire form protocol.DecodeTokenSet checked), "" until the seat answers.
	// Strings never change, so a Clone shares them: a state copy per update
	// copies no token.
	Tokens  [2]string `json:"tokens"`
	Submits [2]int    `json:"submits"`
	// Reveal is the current reveal in wire form (protocol.EncodeTokens).
	Reveal string `json:"reveal,omitempty"`
	Rev    int    `json:"rev"`
	// Reveals are every reveal of this round, by Rev-1, so a replay can
	// restore them: the log keeps none (ForLog).
	Reveals []string `json:"reveals,omitempty"`
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
		KeyEpoch: st.KeyEpoch,
	}
	if r := st.Round; r != nil {
		s.Round = &protocol.RoundState{
			Round:     r.ID,
			By:        r.By,
			ClosesAt:  r.ClosesAt,
			Submitted: [2]bool{r.Tokens[0] != "", r.Tokens[1] != ""},
			Reveal:    r.Reveal,
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

// Intersect returns the tokens both seats submitted (two submissions in
// wire form, position = rank), ordered by the sum of their two ranks, at
// most k of them, in wire form. Ties are broken by the tokens' bytes:
// tokens are HMAC outputs, so that order is effectively random to the
// server and carries nothing about unmatched wishes or submission order.
//
// It runs on every submit once both seats have answered, so it works on
// arrays on the stack and allocates only the string it returns. A
// submission that is not a valid set (the decoder refuses those) matches
// nothing.
func Intersect(a, b string, k int) string {
	var sa, sb protocol.TokenSet
	if protocol.DecodeTokenSet(a, &sa) != "" || protocol.DecodeTokenSet(b, &sb) != "" {
		return ""
	}
	x, _ := sa.Index()
	type match struct {
		score int
		t     *protocol.Token
	}
	var ms [protocol.TokenSetSize]match
	n := 0
	for j := range sb {
		if i := x.Rank(&sb[j]); i >= 0 {
			// Insertion sort: at most 64 matches, usually a handful.
			m := match{i + j, &sb[j]}
			p := n
			for p > 0 && (ms[p-1].score > m.score || ms[p-1].score == m.score && bytes.Compare(ms[p-1].t[:], m.t[:]) > 0) {
				ms[p] = ms[p-1]
				p--
			}
			ms[p] = m
			n++
		}
	}
	n = min(n, max(k, 0))
	var raw [protocol.TokenSetSize * protocol.TokenBytes]byte
	for i := range n {
		copy(raw[i*protocol.TokenBytes:], ms[i].t[:])
	}
	var text [protocol.TokenSetLen]byte
	enc := base64.RawURLEncoding
	enc.Encode(text[:], raw[:n*protocol.TokenBytes])
	return string(text[:enc.EncodedLen(n*protocol.TokenBytes)])
}

func (st *State) debrief(round string) *Debrief {
	for i := range st.Debriefs {
		if st.Debriefs[i].Round == round {
			return &st.Debriefs[i]
		}
	}
	return nil
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
