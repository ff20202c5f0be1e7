package protocol

import (
	"encoding/json"
	"strconv"
)

// AppendEvent appends ev as a frame, byte for byte what Marshal writes, and
// returns the extended buffer. Every socket of a room encodes every event,
// the most frequent frames the server sends: encoding/json's reflection
// cost ~0.5 µs and an allocation each, this costs neither (with a buffer of
// room). TestAppendMatchesMarshal holds the two to the same bytes.
func AppendEvent(b []byte, ev *Event) []byte {
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, Version, 10)
	b = append(b, `,"type":"event","epoch":`...)
	b = appendString(b, ev.Epoch)
	b = append(b, `,"offset":`...)
	b = strconv.AppendUint(b, ev.Offset, 10)
	b = append(b, `,"kind":`...)
	b = appendString(b, ev.Kind)
	b = append(b, `,"at":`...)
	b = strconv.AppendInt(b, ev.At, 10)
	// The rest in the struct's order, each omitted when empty (omitempty).
	b = appendInt(b, `,"seat":`, int64(ev.Seat))
	b = appendStr(b, `,"presence":`, ev.Presence)
	b = appendStr(b, `,"round":`, ev.Round)
	b = appendInt(b, `,"closesAt":`, ev.ClosesAt)
	b = appendStr(b, `,"reveal":`, ev.Reveal)
	b = appendInt(b, `,"rev":`, int64(ev.Rev))
	b = appendStr(b, `,"reason":`, ev.Reason)
	b = appendStr(b, `,"blob":`, ev.Blob)
	if len(ev.Blobs) > 0 {
		b = append(b, `,"blobs":[`...)
		for i, s := range ev.Blobs {
			if i > 0 {
				b = append(b, ',')
			}
			b = appendString(b, s)
		}
		b = append(b, ']')
	}
	b = appendInt(b, `,"until":`, ev.Until)
	if ev.Seen != 0 {
		b = append(b, `,"seen":`...)
		b = strconv.AppendUint(b, ev.Seen, 10)
	}
	if ev.KeyEpoch != 0 {
		b = append(b, `,"keyEpoch":`...)
		b = strconv.AppendUint(b, ev.KeyEpoch, 10)
	}
	b = appendStr(b, `,"nonce":`, ev.Nonce)
	b = appendStr(b, `,"keyHash":`, ev.KeyHash)
	return append(b, '}')
}

// AppendAck appends a as a frame, byte for byte what Marshal writes: every
// request that succeeds gets one.
func AppendAck(b []byte, a *Ack) []byte {
	b = append(b, `{"v":`...)
	b = strconv.AppendInt(b, Version, 10)
	b = append(b, `,"type":"ack"`...)
	b = appendStr(b, `,"id":`, a.ID)
	if a.Offset != 0 {
		b = append(b, `,"offset":`...)
		b = strconv.AppendUint(b, a.Offset, 10)
	}
	b = appendStr(b, `,"round":`, a.Round)
	b = appendStr(b, `,"move":`, a.Move)
	b = appendInt(b, `,"expiresAt":`, a.ExpiresAt)
	b = appendStr(b, `,"replace":`, a.Replace)
	return append(b, '}')
}

// appendStr appends an omitempty string member.
func appendStr(b []byte, name, s string) []byte {
	if s == "" {
		return b
	}
	return appendString(append(b, name...), s)
}

// appendInt appends an omitempty integer member.
func appendInt(b []byte, name string, v int64) []byte {
	if v == 0 {
		return b
	}
	return strconv.AppendInt(append(b, name...), v, 10)
}

// appendString appends s as a JSON string. Server strings are ids, base64url
// and constants: printable ASCII that needs no escaping, copied as is.
// Anything else goes to encoding/json, so escapes (HTML characters,
// control characters, invalid UTF-8, U+2028) come out exactly as Marshal's.
func appendString(b []byte, s string) []byte {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			q, _ := json.Marshal(s) // a string always encodes
			return append(b, q...)
		}
	}
	b = append(b, '"')
	b = append(b, s...)
	return append(b, '"')
}
