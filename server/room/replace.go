package room

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"

	"softland/server/protocol"
)

// Replacing a partner's lost phone (protocol.ReplaceCreate, protocol.Replace)
// and rotating the room secret with it.
//
// The remaining phone mints a new room secret and asks, with its own device
// token (the socket's seat), for a re-pair code for the OTHER seat. The
// server keeps the code's SHA-256 and the new secret's join key hash on that
// seat, at most one pending per seat, expiring like a move code. Only the
// partner can make one, so the owner of a lost phone cannot get their seat
// back alone, and a stranger cannot at all.
//
// Taking the seat with the code is a move of that seat plus a key rotation:
// a new device token, the old one revoked and its socket closed, its push
// subscription dropped; every pending move or re-pair code of the room
// spent (their links carry the old secret); the key epoch up by one; and
// everything sealed under the old secret (settings, announcements,
// debriefs) and the open round (tokens under the old match key) dropped,
// since the new phone cannot read them and they must not outlive the old
// secret. The remaining phone re-seals the settings under the new key.

// ReplaceCreate gives the other seat a new re-pair code bound to the new
// secret's join key hash, replacing any pending one m made. The room must
// be paired: an unpaired seat 2 has the pairing link instead. Nothing is
// logged: the partner's old phone must not learn of it.
func (s *Service) ReplaceCreate(ctx context.Context, m Member, joinKeyHash string) (*MoveCode, error) {
	return s.issueCode(ctx, m, func(t *tx, hash string, expires int64) error {
		if !t.st.Paired() {
			return ErrNotPaired
		}
		se := &t.st.Seats[2-m.Seat] // the other seat
		se.ReplaceHash, se.ReplaceKeyHash, se.ReplaceExpiresAt, se.ReplaceProof = hash, joinKeyHash, expires, ""
		return nil
	})
}

// ReplaceCancel revokes the re-pair code m made for the other seat.
// Cancelling none is not an error.
func (s *Service) ReplaceCancel(ctx context.Context, m Member) (uint64, error) {
	return s.change(ctx, m, func(t *tx) error {
		se := &t.st.Seats[2-m.Seat]
		if se.ReplaceHash == "" {
			return nil
		}
		clearReplace(se)
		t.dirty = true
		return nil
	})
}

func clearReplace(se *Seat) {
	se.ReplaceHash, se.ReplaceKeyHash, se.ReplaceExpiresAt = "", "", 0
}

// ReplaceTake gives the seat whose pending re-pair code is code to the
// caller's new device, which proves it holds the new secret with its join
// key. See the package comment above for everything it changes. The same
// device repeating a replacement whose welcome it never got (the same code,
// join key and nonce, before the seat acts and before the code's expiry) is
// admitted again with another new token and no second event. Two devices
// racing with one code: the store's commit lets exactly one find it.
func (s *Service) ReplaceTake(ctx context.Context, roomID, code, joinKey, nonce string) (*Admission, error) {
	device, deviceHash, err := s.newToken()
	if err != nil {
		return nil, err
	}
	presented, keyHash := hashKey(code), hashKey(joinKey)
	proof := replaceProof(code, joinKey, nonce)
	var m Member
	st, _, err := s.update(ctx, roomID, nil, func(t *tx) error {
		seat, again := 0, false
		for i, se := range t.st.Seats {
			switch {
			case !se.Taken:
			case se.ReplaceHash != "" && subtle.ConstantTimeCompare([]byte(presented), []byte(se.ReplaceHash)) == 1 &&
				subtle.ConstantTimeCompare([]byte(keyHash), []byte(se.ReplaceKeyHash)) == 1:
				seat = i + 1
			case se.ReplaceProof != "" && subtle.ConstantTimeCompare([]byte(proof), []byte(se.ReplaceProof)) == 1:
				seat, again = i+1, true
			}
		}
		if seat == 0 {
			return ErrReplaceInvalid
		}
		se := &t.st.Seats[seat-1]
		if t.now >= se.ReplaceExpiresAt {
			if again {
				return ErrReplaceInvalid
			}
			return ErrReplaceExpired
		}
		if !again {
			se.revoke()
			se.ReplaceProof = proof
			se.JoinProof, se.MoveProof = "", ""
			se.Push = nil // the lost phone must not be woken any more
			// Every pending link of the room carries the old secret, or
			// was made by a phone that may be the lost one: all are spent.
			for i := range t.st.Seats {
				t.st.Seats[i].MoveHash, t.st.Seats[i].MoveExpiresAt = "", 0
				expires := t.st.Seats[i].ReplaceExpiresAt
				clearReplace(&t.st.Seats[i])
				if i == seat-1 {
					// kept only so a repeat (again) can check the expiry
					t.st.Seats[i].ReplaceExpiresAt = expires
				}
			}
			t.st.KeyEpoch++
			if t.st.Round != nil {
				t.closeRound(protocol.ReasonRekeyed, 0)
			}
			// Sealed under the old secret: unreadable for the new phone,
			// and nothing of the old secret's may outlive it here.
			t.st.Settings = nil
			t.st.Announce = [2]*protocol.Sealed{}
			t.st.Debriefs = nil
			t.emit(protocol.Event{Kind: protocol.KindReplaced, Seat: seat, KeyEpoch: t.st.KeyEpoch, Nonce: nonce, KeyHash: keyHash})
		}
		m = t.handOver(seat, deviceHash)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return s.admitNewDevice(ctx, st, m, device), nil
}

// replaceProof binds a re-pair code and join key to the new device's nonce.
func replaceProof(code, joinKey, nonce string) string {
	h := sha256.New()
	h.Write([]byte("softland replace proof\x00"))
	for _, v := range []string{code, joinKey, nonce} {
		b, _ := base64.RawURLEncoding.DecodeString(v)
		h.Write(b)
	}
	return base64.RawURLEncoding.EncodeToString(h.Sum(nil))
}
