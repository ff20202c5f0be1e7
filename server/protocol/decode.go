package protocol

import (
	"bytes"
	"crypto/ecdh"
	"encoding/base64"
	"fmt"
	"net/url"
	"reflect"
	"strings"

	"github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"
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
// It returns a pointer to the type's struct (*Create, *Submit, ...) or a
// *DecodeError, which carries the id whenever it could be read.
//
// Every client frame passes here, so it reads the frame only twice, and
// without copying it: one jsontext walk (strict.go) for the header and the
// rules json cannot express, then one json v2 unmarshal into the struct. It
// allocates the struct, its strings and its token list, little else.
func DecodeRequest(data []byte) (any, error) {
	s := scanFrame(data)
	switch {
	case s.broken:
		return nil, refuse(s.id, CodeBadRequest, msgNotObject)
	case s.trailing:
		return nil, refuse(s.id, CodeBadRequest, "trailing data after the JSON object")
	case s.idLong:
		return nil, refuse("", CodeBadRequest, fmt.Sprintf("id is longer than %d characters", MaxIDLen))
	case !s.header:
		return nil, refuse(s.id, CodeBadRequest, msgNotObject)
	case s.version != Version:
		return nil, refuse(s.id, CodeVersion, fmt.Sprintf("this server speaks protocol version %d", Version))
	case s.req == nil:
		return nil, refuse(s.id, CodeUnknownType, "unknown message type")
	case s.problem != "":
		return nil, refuse(s.id, CodeBadRequest, s.problem)
	case s.seen&^s.req.allowed != 0:
		return nil, refuse(s.id, CodeBadRequest, msgFields)
	case s.req.required&^s.seen != 0:
		return nil, refuse(s.id, CodeBadRequest, msgNames)
	}
	m := reflect.New(s.req.typ).Interface()
	if err := json.Unmarshal(data, m, unmarshalOptions); err != nil {
		return nil, refuse(s.id, CodeBadRequest, msgFields)
	}
	if msg := validate(m); msg != "" {
		return nil, refuse(s.id, CodeBadRequest, msg)
	}
	return m, nil
}

// RequestID returns the id an error to the frame data would echo: the
// request's id when it can be read (see DecodeRequest), else "". The edge
// answers a message it drops for flooding with it, without decoding the
// rest, so the phone knows which request to send again.
func RequestID(data []byte) string {
	s := scanFrame(data)
	if s.idLong {
		return ""
	}
	return s.id
}

const msgNotObject = "frame is not a JSON object with v, type and id"

// unmarshalOptions: json v2 (github.com/go-json-experiment/json, the code
// of Go's encoding/json/v2) matches names case-sensitively and refuses
// repeated names, invalid UTF-8 and values of the wrong JSON type by
// default; unknown names are refused as well, though the walk finds them
// first.
var unmarshalOptions = json.JoinOptions(
	json.RejectUnknownMembers(true),
	json.WithUnmarshalers(json.UnmarshalFromFunc(unmarshalString)),
)

// unmarshalString fills a string field. json v2's own string decoding keeps
// the strings it made in a cache inside its pooled decoders (256 of them, so
// that a repeated value costs no allocation). In requests those strings are
// join keys, device tokens and match tokens: a pool would keep them reachable
// after the room has let them go (a round's tokens are gone when it closes).
// Here each string is its own copy, held by the struct alone. Anything but a
// JSON string goes to v2's default, which refuses it (or, for null, which the
// walk has already refused, zeroes it).
func unmarshalString(dec *jsontext.Decoder, s *string) error {
	if dec.PeekKind() != '"' {
		return json.SkipFunc
	}
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	if bytes.IndexByte(v, '\\') < 0 {
		*s = string(v[1 : len(v)-1])
		return nil
	}
	b, err := jsontext.AppendUnquote(nil, v)
	*s = string(b)
	return err
}

func refuse(id, code, msg string) error {
	return &DecodeError{ID: id, Code: code, Message: msg}
}

// validate checks what JSON typing cannot. It returns a message for people, or "".
func validate(m any) string {
	switch m := m.(type) {
	case *Create:
		if !IsKey(m.JoinKeyHash) {
			return "joinKeyHash must be 32 bytes in unpadded base64url"
		}
	case *Join:
		if !IsRoomID(m.Room) {
			return "room must be a lowercase UUID"
		}
		if !IsKey(m.JoinKey) {
			return "joinKey must be 32 bytes in unpadded base64url"
		}
		if m.Nonce != "" && !IsKey(m.Nonce) {
			return "nonce must be 32 bytes in unpadded base64url"
		}
	case *Resume:
		if !IsRoomID(m.Room) {
			return "room must be a lowercase UUID"
		}
		if !IsKey(m.Device) {
			return "device must be 32 bytes in unpadded base64url"
		}
		if len(m.Epoch) > 64 {
			return "epoch is too long"
		}
	case *Move:
		if !IsRoomID(m.Room) {
			return "room must be a lowercase UUID"
		}
		if !IsKey(m.Code) {
			return "code must be 32 bytes in unpadded base64url"
		}
		if m.Nonce != "" && !IsKey(m.Nonce) {
			return "nonce must be 32 bytes in unpadded base64url"
		}
	case *ReplaceCreate:
		if !IsKey(m.JoinKeyHash) {
			return "joinKeyHash must be 32 bytes in unpadded base64url"
		}
	case *Replace:
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
	case *Submit:
		if !IsRoomID(m.Round) {
			return "round must be a lowercase UUID"
		}
		var set TokenSet
		if msg := DecodeTokenSet(m.Tokens, &set); msg != "" {
			return msg
		}
	case *RoundClose:
		if !IsRoomID(m.Round) {
			return "round must be a lowercase UUID"
		}
	case *Announce:
		return checkBlob(m.Blob)
	case *Settings:
		return checkBlob(m.Blob)
	case *Debrief:
		if !IsRoomID(m.Round) {
			return "round must be a lowercase UUID"
		}
		return checkBlob(m.Blob)
	case *PushSubscribe:
		return checkPush(m)
	}
	return ""
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
