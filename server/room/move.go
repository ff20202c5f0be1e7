package room

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"

	"softland/server/protocol"
)

// Moving a seat to another device (protocol.MoveCreate, protocol.Move) and
// revoking pending links (protocol.InviteCancel, protocol.MoveCancel).
//
// A move code is 32 random bytes the seat's device asks for and shows its
// other device in the move link, beside the room secret. The server keeps
// only its SHA-256, with the seat, inside the room's State: it expires and
// is erased with the room, and at most one is pending per seat. Taking the
// seat with it replaces the seat's device token, so the old device is out
// for good: its token is refused (ErrDeviceRevoked), its socket is replaced
// (Gen), and its push subscription is dropped so it is not woken any more.

// MoveCode is a pending move code as its seat's device gets it, once.
type MoveCode struct {
	Code      string // base64url, 43 chars: for the move link only
	ExpiresAt int64  // Unix ms
	Offset    uint64 // the room's offset, for the ack
}

// MoveCreate gives m's seat a new move code, replacing any pending one.
// Nothing is logged: the partner learns of a move only when it happens.
func (s *Service) MoveCreate(ctx context.Context, m Member) (*MoveCode, error) {
	return s.issueCode(ctx, m, func(t *tx, hash string, expires int64) error {
		se := &t.st.Seats[m.Seat-1]
		se.MoveHash, se.MoveExpiresAt, se.MoveProof = hash, expires, ""
		return nil
	})
}

// issueCode mints a one-time code (a move or re-pair code), lets keep store
// its hash and expiry in the room, and returns the code for the link. The
// code itself is never stored.
func (s *Service) issueCode(ctx context.Context, m Member, keep func(t *tx, hash string, expires int64) error) (*MoveCode, error) {
	code, hash, err := s.newToken()
	if err != nil {
		return nil, err
	}
	mc := &MoveCode{Code: code}
	off, err := s.change(ctx, m, func(t *tx) error {
		mc.ExpiresAt = t.now + s.opt.MoveTTL.Milliseconds()
		if err := keep(t, hash, mc.ExpiresAt); err != nil {
			return err
		}
		t.dirty = true
		return nil
	})
	if err != nil {
		return nil, err
	}
	mc.Offset = off
	return mc, nil
}

// MoveCancel revokes m's seat's pending move code. Cancelling none is not
// an error.
func (s *Service) MoveCancel(ctx context.Context, m Member) (uint64, error) {
	return s.change(ctx, m, func(t *tx) error {
		se := &t.st.Seats[m.Seat-1]
		if se.MoveHash == "" {
			return nil
		}
		se.MoveHash, se.MoveExpiresAt = "", 0
		t.dirty = true
		return nil
	})
}

// InviteCancel revokes the pairing link while seat 2 is free: the join
// key's hash is forgotten and every later join hears ErrInviteRevoked.
// Revoking twice is not an error; once seat 2 is taken there is no link
// left (ErrNoInvite).
func (s *Service) InviteCancel(ctx context.Context, m Member) (uint64, error) {
	return s.change(ctx, m, func(t *tx) error {
		switch {
		case t.st.Seats[1].Taken:
			return ErrNoInvite
		case t.st.InviteRevoked:
			return nil
		}
		t.st.JoinKeyHash = ""
		t.st.InviteRevoked = true
		t.dirty = true
		return nil
	})
}

// MoveTake moves the seat whose pending move code is code to the caller's
// new device: a new device token, the old one revoked, the code spent, a
// moved event for both seats. The same device repeating a move whose
// welcome it never got (the same code and nonce, before the seat acts and
// before the code's expiry) is admitted again with another new token and no
// second event. Two devices racing with one code: the store's commit lets
// exactly one of them find the code.
func (s *Service) MoveTake(ctx context.Context, roomID, code, nonce string) (*Admission, error) {
	device, deviceHash, err := s.newToken()
	if err != nil {
		return nil, err
	}
	presented := hashKey(code)
	proof := ""
	if nonce != "" {
		proof = moveProof(code, nonce)
	}
	var m Member
	st, _, err := s.update(ctx, roomID, nil, func(t *tx) error {
		seat, again := 0, false
		for i, se := range t.st.Seats {
			switch {
			case !se.Taken:
			case se.MoveHash != "" && subtle.ConstantTimeCompare([]byte(presented), []byte(se.MoveHash)) == 1:
				seat = i + 1
			case proof != "" && se.MoveProof != "" && subtle.ConstantTimeCompare([]byte(proof), []byte(se.MoveProof)) == 1:
				seat, again = i+1, true
			}
		}
		if seat == 0 {
			return ErrMoveInvalid
		}
		se := &t.st.Seats[seat-1]
		if t.now >= se.MoveExpiresAt {
			if again {
				return ErrMoveInvalid
			}
			return ErrMoveExpired
		}
		if !again {
			se.revoke()
			se.MoveHash = ""
			se.MoveProof = proof
			se.JoinProof = ""
			se.Push = nil // the old device must not be woken any more
			t.emit(protocol.Event{Kind: protocol.KindMoved, Seat: seat})
		}
		m = t.handOver(seat, deviceHash)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.admitNewDevice(ctx, st, m, device), nil
}

// revoke keeps the seat's current device token among the revoked ones (at
// most maxRevoked, the newest), so that device is told it lost the seat
// (CodeDeviceRevoked) rather than that it was never a member.
func (se *Seat) revoke() {
	se.Revoked = append(se.Revoked, se.DeviceHash)
	if n := len(se.Revoked); n > maxRevoked {
		se.Revoked = append([]string{}, se.Revoked[n-maxRevoked:]...)
	}
}

// handOver gives the seat to a new device, by a move or a replacement: its
// token, a new connection generation (so the old socket is replaced and
// closed as moved), and online presence.
func (t *tx) handOver(seat int, deviceHash string) Member {
	se := &t.st.Seats[seat-1]
	se.DeviceHash = deviceHash
	se.Gen++
	se.MovedGen = se.Gen
	t.dirty = true
	if se.Presence != protocol.PresenceOnline {
		se.Presence = protocol.PresenceOnline
		t.emit(protocol.Event{Kind: protocol.KindPresence, Seat: seat, Presence: protocol.PresenceOnline})
	}
	return Member{Room: t.st.ID, Seat: seat, Gen: se.Gen}
}

// admitNewDevice welcomes a device that took a seat with its new token and
// a snapshot: it has nothing of the room yet.
func (s *Service) admitNewDevice(ctx context.Context, st *State, m Member, device string) *Admission {
	w := s.welcome(st, m.Seat)
	w.Device = device
	w.Snapshot = st.Snapshot()
	return s.admit(ctx, m, w, st)
}

// revoked reports whether deviceHash is one a move took from a seat.
func revoked(st *State, deviceHash string) bool {
	found := false
	for _, se := range st.Seats {
		for _, h := range se.Revoked {
			if subtle.ConstantTimeCompare([]byte(deviceHash), []byte(h)) == 1 {
				found = true
			}
		}
	}
	return found
}

// moveProof binds a move code to the new device's nonce.
func moveProof(code, nonce string) string {
	c, _ := base64.RawURLEncoding.DecodeString(code)
	n, _ := base64.RawURLEncoding.DecodeString(nonce)
	sum := sha256.Sum256(append(append([]byte("softland move proof\x00"), c...), n...))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
