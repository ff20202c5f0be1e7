package keys

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"softland/server/protocol"
)

// MoveLink is a link that moves a seat to another device (protocol §3.2):
//
//	<origin>/#m=<roomID>.<base64url(code)>.<base64url(secret)>
//
// The code is the one-time move code from the server (protocol.MoveCreate);
// the secret is the room secret, which the new device needs for every key
// and which, like the code, stays in the fragment, never sent to a server.
type MoveLink struct {
	Origin string // scheme and host; no trailing slash
	Room   string // lowercase UUID
	Code   string // the move code, 32 bytes in unpadded base64url
	Secret []byte // SecretSize bytes
}

// movePrefix starts a move link's fragment. A room id never starts so, so a
// phone that does not know moves refuses the link instead of joining.
const movePrefix = "m="

// String returns the link in its one canonical form.
func (l MoveLink) String() string {
	return l.Origin + "/#" + movePrefix + l.Room + "." + l.Code + "." + Encoding.EncodeToString(l.Secret)
}

// ParseMoveLink parses a move link with the rules of ParseLink. Errors never
// quote the code or the secret.
func ParseMoveLink(s string) (MoveLink, error) {
	s = strings.TrimSpace(s)
	before, frag, ok := strings.Cut(s, "#")
	if !ok {
		return MoveLink{}, errors.New("keys: move link has no #m=room.code.secret part")
	}
	u, err := url.Parse(before)
	switch {
	case err != nil:
		return MoveLink{}, errors.New("keys: move link does not start with a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return MoveLink{}, errors.New("keys: move link must start with http:// or https://")
	case u.Host == "" || u.User != nil || u.Opaque != "":
		return MoveLink{}, errors.New("keys: move link has no plain host")
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery:
		return MoveLink{}, errors.New("keys: move link has a path or query before #")
	}
	rest, ok := strings.CutPrefix(frag, movePrefix)
	if !ok {
		return MoveLink{}, errors.New("keys: not a move link (its #part does not start with m=)")
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 3 {
		return MoveLink{}, errors.New("keys: move link's #part is not m=room.code.secret")
	}
	if !protocol.IsRoomID(parts[0]) {
		return MoveLink{}, errors.New("keys: move link's room is not a lowercase UUID")
	}
	if !protocol.IsKey(parts[1]) {
		return MoveLink{}, errors.New("keys: move link's code is not 32 bytes in unpadded base64url")
	}
	secret, err := Encoding.DecodeString(parts[2])
	if err != nil || len(secret) != SecretSize {
		return MoveLink{}, fmt.Errorf("keys: move link's secret is not %d bytes in unpadded base64url", SecretSize)
	}
	return MoveLink{Origin: u.Scheme + "://" + u.Host, Room: parts[0], Code: parts[1], Secret: secret}, nil
}
