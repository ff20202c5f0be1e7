package keys

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"softland/server/protocol"
)

// Link is a pairing link:
//
//	<origin>/#<roomID>.<base64url(secret)>
//
// for example "https://softland.example/#" + a 36-character room id + "." + a
// 43-character secret. The origin is where the web app is served; the room id is the canonical
// lowercase UUID; the secret is the room secret in unpadded base64url. All of
// the room's keys come from the part after "#", the fragment, which browsers
// never send to a server: whoever holds the whole link holds the room.
type Link struct {
	Origin string // scheme and host, for example "https://softland.example"; no trailing slash
	Room   string // lowercase UUID
	Secret []byte // SecretSize bytes
}

// String returns the link in its one canonical form.
func (l Link) String() string {
	return l.Origin + "/#" + l.Room + "." + Encoding.EncodeToString(l.Secret)
}

// ParseLink parses a pairing link. The origin must be http or https with a
// host and nothing after it but "/"; the fragment must be a lowercase UUID, a
// dot and a SecretSize-byte secret in unpadded base64url. Surrounding spaces
// are ignored, since links are pasted. Errors never quote the secret.
func ParseLink(s string) (Link, error) {
	s = strings.TrimSpace(s)
	before, frag, ok := strings.Cut(s, "#")
	if !ok {
		return Link{}, errors.New("keys: pairing link has no #room.secret part")
	}
	u, err := url.Parse(before)
	if err != nil {
		return Link{}, errors.New("keys: pairing link does not start with a valid URL")
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return Link{}, errors.New("keys: pairing link must start with http:// or https://")
	}
	if u.Host == "" || u.User != nil || u.Opaque != "" {
		return Link{}, errors.New("keys: pairing link has no plain host")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery {
		return Link{}, errors.New("keys: pairing link has a path or query before #; expected <origin>/#room.secret")
	}
	room, enc, ok := strings.Cut(frag, ".")
	if !ok {
		return Link{}, errors.New("keys: pairing link's #part is not room.secret")
	}
	if !protocol.IsRoomID(room) {
		return Link{}, errors.New("keys: pairing link's room is not a lowercase UUID")
	}
	secret, err := Encoding.DecodeString(enc)
	if err != nil || len(secret) != SecretSize {
		return Link{}, fmt.Errorf("keys: pairing link's secret is not %d bytes in unpadded base64url", SecretSize)
	}
	return Link{Origin: u.Scheme + "://" + u.Host, Room: room, Secret: secret}, nil
}
