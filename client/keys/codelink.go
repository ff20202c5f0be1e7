package keys

import (
	"errors"
	"fmt"
	"net/url"
	"strings"

	"softland/server/protocol"
)

// codeLink is the shape the move and re-pair links share:
// <origin>/#<prefix><roomID>.<base64url(code)>.<base64url(secret)>.
type codeLink struct {
	Origin string
	Room   string
	Code   string
	Secret []byte
}

// parseCodeLink parses a link of that shape with the rules of ParseLink;
// name ("move link") and prefix ("m=") say which. Errors never quote the
// code or the secret.
func parseCodeLink(s, name, prefix string) (codeLink, error) {
	s = strings.TrimSpace(s)
	fail := func(format string, args ...any) (codeLink, error) {
		return codeLink{}, errors.New("keys: " + name + fmt.Sprintf(format, args...))
	}
	before, frag, ok := strings.Cut(s, "#")
	if !ok {
		return fail(" has no #%sroom.code.secret part", prefix)
	}
	u, err := url.Parse(before)
	switch {
	case err != nil:
		return fail(" does not start with a valid URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return fail(" must start with http:// or https://")
	case u.Host == "" || u.User != nil || u.Opaque != "":
		return fail(" has no plain host")
	case (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.ForceQuery:
		return fail(" has a path or query before #")
	}
	rest, ok := strings.CutPrefix(frag, prefix)
	if !ok {
		return codeLink{}, fmt.Errorf("keys: not a %s (its #part does not start with %s)", name, prefix)
	}
	parts := strings.Split(rest, ".")
	if len(parts) != 3 {
		return fail("'s #part is not %sroom.code.secret", prefix)
	}
	if !protocol.IsRoomID(parts[0]) {
		return fail("'s room is not a lowercase UUID")
	}
	if !protocol.IsKey(parts[1]) {
		return fail("'s code is not 32 bytes in unpadded base64url")
	}
	secret, err := Encoding.DecodeString(parts[2])
	if err != nil || len(secret) != SecretSize {
		return fail("'s secret is not %d bytes in unpadded base64url", SecretSize)
	}
	return codeLink{Origin: u.Scheme + "://" + u.Host, Room: parts[0], Code: parts[1], Secret: secret}, nil
}
