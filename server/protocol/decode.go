package protocol

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
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

// DecodeRequest parses one client frame strictly: the version must match, the
// type must be known, no field may be unknown or missing, and every size is
// checked. It returns a pointer to the type's struct (*Create, *Submit, ...).
func DecodeRequest(data []byte) (any, error) {
	var h Header
	if err := json.Unmarshal(data, &h); err != nil {
		return nil, &DecodeError{Code: CodeBadRequest, Message: "frame is not a JSON object with v, type and id"}
	}
	id := h.ID
	if len(id) > MaxIDLen {
		return nil, &DecodeError{Code: CodeBadRequest, Message: fmt.Sprintf("id is longer than %d characters", MaxIDLen)}
	}
	fail := func(code, msg string) error { return &DecodeError{ID: id, Code: code, Message: msg} }
	if h.V != Version {
		return nil, fail(CodeVersion, fmt.Sprintf("this server speaks protocol version %d", Version))
	}
	var m any
	switch h.Type {
	case TypeCreate:
		m = new(Create)
	case TypeJoin:
		m = new(Join)
	case TypeResume:
		m = new(Resume)
	case TypeRoundOpen:
		m = new(RoundOpen)
	case TypeSubmit:
		m = new(Submit)
	case TypeRoundClose:
		m = new(RoundClose)
	case TypePause:
		m = new(Pause)
	case TypeUnpause:
		m = new(Unpause)
	case TypeAnnounce:
		m = new(Announce)
	case TypeSettings:
		m = new(Settings)
	case TypeDebrief:
		m = new(Debrief)
	case TypeErase:
		m = new(Erase)
	case TypePing:
		m = new(Ping)
	case TypeBye:
		m = new(Bye)
	default:
		return nil, fail(CodeUnknownType, "unknown message type")
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(m); err != nil {
		return nil, fail(CodeBadRequest, "fields do not match the message type")
	}
	if err := checkKeys(data, fieldsOf(reflect.TypeOf(m).Elem())); err != nil {
		return nil, fail(CodeBadRequest, "field names must match exactly, once each, with every required field present")
	}
	if dec.More() {
		return nil, fail(CodeBadRequest, "trailing data after the JSON object")
	}
	if err := validate(m); err != "" {
		return nil, fail(CodeBadRequest, err)
	}
	return m, nil
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
	case *Submit:
		if !IsRoomID(m.Round) {
			return "round must be a lowercase UUID"
		}
		if len(m.Tokens) != TokenSetSize {
			return fmt.Sprintf("tokens must hold exactly %d entries (pad with random decoys)", TokenSetSize)
		}
		// Distinct tokens: sorted on the stack, equal neighbours are repeats.
		var sorted [TokenSetSize]string
		var ranks [TokenSetSize]bool
		for i, t := range m.Tokens {
			if !IsKey(t.T) {
				return "every token must be 32 bytes in unpadded base64url"
			}
			if t.R < 0 || t.R >= TokenSetSize || ranks[t.R] {
				return fmt.Sprintf("ranks must be a permutation of 0 to %d (decoys take the ranks real tokens do not)", TokenSetSize-1)
			}
			ranks[t.R] = true
			sorted[i] = t.T
		}
		slices.Sort(sorted[:])
		for i := 1; i < len(sorted); i++ {
			if sorted[i] == sorted[i-1] {
				return "tokens must be distinct"
			}
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
// keys, their hashes, device tokens and match tokens. It decodes between
// arrays on the stack: a submit checks 64 keys, and a string's conversion to
// a slice of more than 32 bytes would be a heap allocation each.
func IsKey(s string) bool {
	if len(s) != TokenLen {
		return false
	}
	var src [TokenLen]byte
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
