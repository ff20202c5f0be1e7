package client

import (
	"bytes"
	"context"
	"crypto/subtle"
	"errors"
	"time"

	"softland/client/keys"
	"softland/server/protocol"
)

// ReplaceLink is a re-pair link for a partner's new phone; see
// keys.ReplaceLink.
type ReplaceLink = keys.ReplaceLink

// ParseReplaceLink parses a re-pair link; see keys.ParseReplaceLink.
func ParseReplaceLink(s string) (ReplaceLink, error) { return keys.ParseReplaceLink(s) }

// pendingReplace is this seat's pending re-pair link: the new secret it
// minted and the code the server gave for it.
type pendingReplace struct {
	secret  []byte
	code    string
	keyHash string // base64url SHA-256 of the new secret's join key
}

func newPendingReplace(secret []byte, code string) (*pendingReplace, error) {
	k, err := keys.Derive(secret)
	if err != nil {
		return nil, err
	}
	return &pendingReplace{secret: bytes.Clone(secret), code: code, keyHash: k.JoinKeyHash()}, nil
}

// ReplaceLink starts replacing the partner's lost phone (protocol §5.22):
// it mints a new room secret, asks the server for a one-time re-pair code
// for the partner's seat, and returns the link for the partner's new phone
// (origin "" for the server's own) and when it stops working. A new link
// replaces the earlier one of this seat. When the new phone takes the
// seat, this client hears protocol.KindReplaced, moves to the new secret
// (from then on it seals and matches with the new keys), and has the
// verification words ready (VerifyWords); the program should then call
// ResealSettings.
func (c *Client) ReplaceLink(ctx context.Context, origin string) (ReplaceLink, time.Time, error) {
	if origin == "" {
		var err error
		if origin, err = originOf(c.server); err != nil {
			return ReplaceLink{}, time.Time{}, err
		}
	}
	secret, err := keys.NewSecret()
	if err != nil {
		return ReplaceLink{}, time.Time{}, err
	}
	p, err := newPendingReplace(secret, "")
	if err != nil {
		return ReplaceLink{}, time.Time{}, err
	}
	req := &protocol.ReplaceCreate{JoinKeyHash: p.keyHash}
	r, err := c.call(ctx, protocol.TypeReplaceCreate, &req.Header, req)
	if err != nil {
		return ReplaceLink{}, time.Time{}, err
	}
	if !protocol.IsKey(r.Replace) || r.Expires <= 0 {
		return ReplaceLink{}, time.Time{}, errors.New("client: replace.create: the ack carries no re-pair code")
	}
	p.code = r.Replace
	c.mu.Lock()
	c.replace = p
	c.mu.Unlock()
	l := ReplaceLink{Origin: origin, Room: c.room, Code: r.Replace, Secret: bytes.Clone(secret)}
	return l, time.UnixMilli(r.Expires), nil
}

// CancelReplace revokes this seat's pending re-pair link, if any
// (protocol.ReplaceCancel).
func (c *Client) CancelReplace(ctx context.Context) error {
	req := &protocol.ReplaceCancel{}
	if _, err := c.call(ctx, protocol.TypeReplaceCancel, &req.Header, req); err != nil {
		return err
	}
	c.mu.Lock()
	c.replace = nil
	c.mu.Unlock()
	return nil
}

// Replace takes the lost seat a re-pair link names on this new phone
// (protocol.Replace). The phone starts with the new secret, a snapshot and
// no history; the shared settings arrive once the partner's phone re-seals
// them. VerifyWords then returns the words to compare with the partner's
// phone. The server is serverURL, not the link's origin. Like Join, it
// repeats itself with the same nonce when the connection drops before the
// welcome.
func Replace(ctx context.Context, serverURL string, link ReplaceLink) (*Client, error) {
	k, err := keys.Derive(link.Secret)
	if err != nil {
		return nil, err
	}
	if !protocol.IsRoomID(link.Room) || !protocol.IsKey(link.Code) {
		return nil, errors.New("client: replace: the link has no valid room and code")
	}
	nonce, err := keys.Decoy()
	if err != nil {
		return nil, err
	}
	words, err := keys.VerifyWords(link.Secret, link.Room, link.Code, nonce)
	if err != nil {
		return nil, err
	}
	joinKey := k.JoinKey()
	return connectRepeating(ctx, serverURL, seed{room: link.Room, secret: link.Secret, keys: k, verify: words}, func() (*protocol.Header, any) {
		req := &protocol.Replace{Room: link.Room, Code: link.Code, JoinKey: joinKey, Nonce: nonce}
		return &req.Header, req
	})
}

// VerifyWords returns the verification words of the latest replacement
// this client made (as the new phone) or saw (as the remaining phone, from
// the replaced event), or nil. Both phones show them; the partners compare
// them aloud before trusting the new phone (keys.VerifyWords).
func (c *Client) VerifyWords() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.verify...)
}

// KeyEpoch returns the room's key epoch this client's secret belongs to.
func (c *Client) KeyEpoch() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.keyEpoch
}

// ResealSettings seals the shared settings this client last read again,
// under the room's current key, and sends them (protocol §3.7): after a
// replacement the server holds none, and the new phone can read only what
// is sealed under the new secret. It does nothing when there are none.
func (c *Client) ResealSettings(ctx context.Context) error {
	c.mu.Lock()
	pt := bytes.Clone(c.settingsPT)
	c.mu.Unlock()
	if pt == nil {
		return nil
	}
	blob, err := c.roomKeys().Seal(c.room, keys.ContextSettings, pt)
	if err != nil {
		return err
	}
	req := &protocol.Settings{Blob: blob}
	_, err = c.call(ctx, protocol.TypeSettings, &req.Header, req)
	return err
}

// rekeyLocked moves to the pending new secret when the partner's seat was
// replaced with this seat's re-pair link, and works out the verification
// words. A replaced event of this seat is the old device's last: its
// connection is closing. c.mu is held.
func (c *Client) rekeyLocked(ev protocol.Event) {
	p := c.replace
	if ev.Seat == c.seat || p == nil || subtle.ConstantTimeCompare([]byte(p.keyHash), []byte(ev.KeyHash)) != 1 {
		return
	}
	k, err := keys.Derive(p.secret)
	if err != nil {
		return
	}
	c.secret, c.keys, c.keyEpoch, c.replace = p.secret, k, ev.KeyEpoch, nil
	c.verify, _ = keys.VerifyWords(p.secret, c.room, p.code, ev.Nonce)
	// Tokens of the old key are useless now.
	c.tokenMap = make(map[string]map[protocol.Token]string)
}

// roomKeys returns the room's current keys.
func (c *Client) roomKeys() *keys.Keys {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.keys
}

// roomSecret returns a copy of the room's current secret.
func (c *Client) roomSecret() []byte {
	c.mu.Lock()
	defer c.mu.Unlock()
	return bytes.Clone(c.secret)
}
