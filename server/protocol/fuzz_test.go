package protocol_test

import (
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"testing"

	"softland/server/protocol"
)

// FuzzDecodeRequest feeds arbitrary frames to the strict decoder. It must
// never panic; what it accepts must survive a round trip unchanged; and what
// it refuses must be refused with a known code and a message that does not
// echo the frame (a refusal may be logged, and a frame may carry tokens).
func FuzzDecodeRequest(f *testing.F) {
	tok := strings.Repeat("A", protocol.KeyLen)
	room := "6f1c2f55-6f5a-4c5e-9a55-3b1f0e6f9d10"
	set := tokenSet(nil)
	seeds := []string{
		`{"v":2,"type":"ping","id":"1"}`,
		`{"v":2,"type":"create","id":"1","joinKeyHash":"` + tok + `"}`,
		`{"v":2,"type":"join","room":"` + room + `","joinKey":"` + tok + `"}`,
		`{"v":2,"type":"resume","room":"` + room + `","device":"` + tok + `","epoch":"e","offset":3}`,
		`{"v":2,"type":"round.submit","round":"` + room + `","tokens":"` + set + `"}`,
		`{"v":2,"type":"round.submit","round":"` + room + `","tokens":"` + set[:len(set)-1] + `B"}`,
		`{"v":2,"type":"round.submit","round":"` + room + `","tokens":"` + tokenSet(func(b []byte) { b[32] = 1 }) + `"}`,
		`{"v":2,"type":"debrief","round":"` + room + `","blob":"AAAA"}`,
		`{"v":2,"type":"announce","blob":"AAAA"}`,
		`{"v":2,"type":"seen","id":"7","offset":12}`,
		`{"v":2,"type":"move","id":"8","room":"` + room + `","code":"` + tok + `","nonce":"` + tok + `"}`,
		`{"v":2,"type":"move","room":"` + room + `","code":"` + tok[:42] + `B"}`,
		`{"v":2,"type":"move.create","id":"9"}`, `{"v":2,"type":"move.cancel"}`, `{"v":2,"type":"invite.cancel","id":"a"}`,
		`{"v":2,"type":"seen","offset":-1}`,
		`{"v":1,"type":"ping"}`,
		`{"v":1,"type":"round.submit","round":"` + room + `","tokens":[{"t":"` + tok + `","r":0}]}`,
		`{"v":2,"type":"nope"}`,
		`[]`, `null`, `{"v":2,"type":"ping"}{}`, "\xff\xfe",
		`{"type":"round.submit","round":"` + room + `","tokens":"` + set + `","v":2,"id":"2"}`,
		`{"v":2,"type":"resume","room":"` + room + `","device":"` + tok + `","epoch":null,"offset":1.0}`,
		`{"v":2,"type":"round.submit","round":"` + room + `","tokens":"` + set + `","tokens":null,"x":[{}]}`,
		`{"\u0076":2,"typ\u0065":"p\u0069ng","id":"\u00e9"}`,
		`{"id":"9","V":1,"type":"ping"}`, `{"v":2,"type":"ping","id":"9"} x`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	codes := map[string]bool{
		protocol.CodeBadRequest: true, protocol.CodeUnknownType: true, protocol.CodeVersion: true,
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := protocol.DecodeRequest(data)
		if err != nil {
			var de *protocol.DecodeError
			if !errors.As(err, &de) || !codes[de.Code] || de.Message == "" {
				t.Fatalf("refusal %#v", err)
			}
			if len(data) >= 12 && strings.Contains(de.Message, string(data)) {
				t.Fatalf("refusal echoes the frame")
			}
			if len(de.ID) > protocol.MaxIDLen {
				t.Fatalf("over-long id kept")
			}
			return
		}
		b, err := json.Marshal(m)
		if err != nil {
			t.Fatalf("accepted frame does not encode: %v", err)
		}
		m2, err := protocol.DecodeRequest(b)
		if err != nil {
			t.Fatalf("re-encoded frame refused: %v\n%s", err, b)
		}
		if !reflect.DeepEqual(m, m2) {
			t.Fatalf("round trip changed the frame:\n%#v\n%#v", m, m2)
		}
	})
}
