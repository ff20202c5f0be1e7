package protocol

import (
	"crypto/ecdh"
	"encoding/base64"
	"fmt"
	"net/url"
	"strings"

	"github.com/google/uuid"
)

// DecodeError is why a client frame was refused. Code is one of the Code
// constants; Message never quotes the frame, so nothing a phone sent (tokens,
// blobs) can reach a log through an error.
type DecodeError struct {
	ID      string // the request id, when it could be read
	Code    string
	Message string
}

func (e *DecodeError) Error() string { return e.Code + ": " + e.Message }

// DecodeRequest parses one client frame strictly, in the order
// docs/protocol.md (§2.3) documents: the frame must be one JSON object, with
// nothing after it, an integer v, a string type and, if present, a string id
// of at most MaxIDLen bytes; the version must match; the type must be known;
// field names must match exactly (case matters), once each, at every depth,
// with every required field present and no unknown one, no field null and
// every value of its field's JSON type; then sizes and formats are checked.
// It returns the type's struct (*Create, *Submit, ...) or a *DecodeError,
// which carries the id whenever it could be read.
//
// Every client frame passes here, so a well-formed one is read once, without
// copying it (strict.go); it allocates the struct, its strings and its token
// list, little else. Only a refused frame, or one whose type comes after its
// fields, is read a second time.
func DecodeRequest(data []byte) (Request, error) {
	w := getWalker(data)
	m, err := w.decode(nil)
	w.put()
	if err == nil {
		if msg := m.check(); msg != "" {
			return nil, refuse(m.RequestID(), CodeBadRequest, msg)
		}
		return m, nil
	}
	h := readHeader(data)
	switch {
	case h.broken:
		return nil, refuse(h.id, CodeBadRequest, msgNotObject)
	case h.trailing:
		return nil, refuse(h.id, CodeBadRequest, "trailing data after the JSON object")
	case h.idLong:
		return nil, refuse("", CodeBadRequest, fmt.Sprintf("id is longer than %d characters", MaxIDLen))
	case !h.ok:
		return nil, refuse(h.id, CodeBadRequest, msgNotObject)
	case h.version != Version:
		return nil, refuse(h.id, CodeVersion, fmt.Sprintf("this server speaks protocol version %d", Version))
	case h.req == nil:
		return nil, refuse(h.id, CodeUnknownType, "unknown message type")
	case err == errLate:
		// The type came after some fields: walk again, knowing it.
		w := getWalker(data)
		m, err = w.decode(h.req)
		w.put()
		if err == nil {
			if msg := m.check(); msg != "" {
				return nil, refuse(h.id, CodeBadRequest, msg)
			}
			return m, nil
		}
	}
	p, ok := err.(problem)
	if !ok {
		p = msgNotObject // unreachable: readHeader saw the same syntax
	}
	return nil, refuse(h.id, CodeBadRequest, string(p))
}

// RequestID returns the id an error to the frame data would echo: the
// request's id when it can be read (see DecodeRequest), else "". The edge
// answers a message it drops for flooding with it, without decoding the
// rest, so the phone knows which request to send again.
func RequestID(data []byte) string {
	h := readHeader(data)
	if h.idLong {
		return ""
	}
	return h.id
}

const msgNotObject = "frame is not a JSON object with v, type and id"

func refuse(id, code, msg string) error {
	return &DecodeError{ID: id, Code: code, Message: msg}
}

// check is what a request has to check beyond JSON typing: nothing, unless
// its type has a check method of its own.
func (h *Header) check() string { return "" }

func (m *Create) check() string {
	if !IsKey(m.JoinKeyHash) {
		return "joinKeyHash must be 32 bytes in unpadded base64url"
	}
	return ""
}

func (m *Join) check() string {
	if !IsRoomID(m.Room) {
		return "room must be a lowercase UUID"
	}
	if !IsKey(m.JoinKey) {
		return "joinKey must be 32 bytes in unpadded base64url"
	}
	if m.Nonce != "" && !IsKey(m.Nonce) {
		return "nonce must be 32 bytes in unpadded base64url"
	}
	return ""
}

func (m *Resume) check() string {
	if !IsRoomID(m.Room) {
		return "room must be a lowercase UUID"
	}
	if !IsKey(m.Device) {
		return "device must be 32 bytes in unpadded base64url"
	}
	if len(m.Epoch) > 64 {
		return "epoch is too long"
	}
	return ""
}

func (m *Move) check() string {
	if !IsRoomID(m.Room) {
		return "room must be a lowercase UUID"
	}
	if !IsKey(m.Code) {
		return "code must be 32 bytes in unpadded base64url"
	}
	if m.Nonce != "" && !IsKey(m.Nonce) {
		return "nonce must be 32 bytes in unpadded base64url"
	}
	return ""
}

func (m *ReplaceCreate) check() string {
	if !IsKey(m.JoinKeyHash) {
		return "joinKeyHash must be 32 bytes in unpadded base64url"
	}
	return ""
}

func (m *Replace) check() string {
	if !IsRoomID(m.Room) {
		return "room must be a lowercase UUID"
	}
	if !IsKey(m.Code) {
		return "code must be 32 bytes in unpadded base64url"
	}
	if !IsKey(m.JoinKey) {
		return "joinKey must be 32 bytes in unpadded base64url"
	}
	if !IsKey(m.Nonce) {
		return "nonce must be 32 bytes in unpadded base64url"
	}
	return ""
}

func (m *Submit) check() string {
	if !IsRoomID(m.Round) {
		return "round must be a lowercase UUID"
	}
	var set TokenSet
	return DecodeTokenSet(m.Tokens, &set)
}

func (m *RoundClose) check() string {
	if !IsRoomID(m.Round) {
		return "round must be a lowercase UUID"
	}
	return ""
}

func (m *Announce) check() string {
	return checkBlob(m.Blob)
}

func (m *Settings) check() string {
	return checkBlob(m.Blob)
}

func (m *Debrief) check() string {
	if !IsRoomID(m.Round) {
		return "round must be a lowercase UUID"
	}
	return checkBlob(m.Blob)
}

func (m *PushSubscribe) check() string {
	return checkPush(m)
}

// checkPush checks a subscription's form. Whether its endpoint is a push
// service the server will call is the room's question (CodePushEndpoint),
// because the list is the server's configuration, not the protocol's.
func checkPush(m *PushSubscribe) string {
	if len(m.Endpoint) > MaxEndpointLen {
		return fmt.Sprintf("endpoint must be at most %d characters", MaxEndpointLen)
	}
	u, err := url.Parse(m.Endpoint)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.User != nil || u.Fragment != "" || u.Opaque != "" {
		return "endpoint must be an https URL"
	}
	var p [65]byte
	if n, err := base64.RawURLEncoding.Strict().Decode(p[:], []byte(m.Keys.P256dh)); err != nil || n != 65 || len(m.Keys.P256dh) != 87 {
		return "keys.p256dh must be 65 bytes in unpadded base64url"
	}
	if _, err := ecdh.P256().NewPublicKey(p[:]); err != nil {
		return "keys.p256dh must be an uncompressed P-256 public key"
	}
	var a [16]byte
	if n, err := base64.RawURLEncoding.Strict().Decode(a[:], []byte(m.Keys.Auth)); err != nil || n != 16 || len(m.Keys.Auth) != 22 {
		return "keys.auth must be 16 bytes in unpadded base64url"
	}
	return ""
}

func checkBlob(b string) string {
	if b == "" || len(b) > MaxBlobLen {
		return fmt.Sprintf("blob must be 1 to %d characters", MaxBlobLen)
	}
	if _, err := base64.RawURLEncoding.Strict().DecodeString(b); err != nil {
		return "blob must be unpadded base64url"
	}
	return ""
}

// IsKey reports whether s is 32 bytes in unpadded base64url, the form of join
// keys, their hashes, device tokens, codes and nonces. It decodes between
// arrays on the stack: a submit checks 64 keys, and a string's conversion to
// a slice of more than 32 bytes would be a heap allocation each.
func IsKey(s string) bool {
	if len(s) != KeyLen {
		return false
	}
	var src [KeyLen]byte
	var dst [32]byte
	copy(src[:], s)
	n, err := base64.RawURLEncoding.Strict().Decode(dst[:], src[:])
	return err == nil && n == 32
}

// IsRoomID reports whether s is a UUID in canonical lowercase form, the form
// of room and round ids. uuid.Parse takes upper-case hex as well; comparing
// its String() would allocate, so upper case is looked for instead.
func IsRoomID(s string) bool {
	if len(s) != 36 {
		return false
	}
	_, err := uuid.Parse(s)
	return err == nil && !strings.ContainsAny(s, "ABCDEF")
}
