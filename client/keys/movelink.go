package keys

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
	l, err := parseCodeLink(s, "move link", movePrefix)
	return MoveLink(l), err
}
