package protocol_test

import (
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/uuid"

	"softland/server/protocol"
)

func TestDecodeIsStrictAboutKeys(t *testing.T) {
	key := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	room := "6f1c2f55-6f5a-4c5e-9a55-3b1f0e6f9d10"
	tests := map[string]struct {
		frame string
		ok    bool
	}{
		"exact":                 {`{"v":1,"type":"resume","room":"` + room + `","device":"` + key + `","offset":0}`, true},
		"optional id and epoch": {`{"v":1,"type":"resume","id":"9","epoch":"e","room":"` + room + `","device":"` + key + `","offset":0}`, true},
		"upper-case key":        {`{"V":1,"type":"ping"}`, false},
		"mixed-case key":        {`{"v":1,"Type":"ping"}`, false},
		"repeated key":          {`{"v":1,"type":"ping","type":"ping"}`, false},
		"missing offset":        {`{"v":1,"type":"resume","room":"` + room + `","device":"` + key + `"}`, false},
		"missing join key":      {`{"v":1,"type":"join","room":"` + room + `"}`, false},
		"lenient blob":          {`{"v":1,"type":"announce","blob":"AB"}`, false},
		"strict blob":           {`{"v":1,"type":"announce","blob":"AA"}`, true},
		"token missing rank":    {`{"v":1,"type":"round.submit","round":"` + room + `","tokens":[{"t":"` + key + `"}]}`, false},
		"token upper-case key":  {`{"v":1,"type":"round.submit","round":"` + room + `","tokens":[{"T":"` + key + `","r":0}]}`, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := protocol.DecodeRequest([]byte(tc.frame))
			var de *protocol.DecodeError
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && (!errors.As(err, &de) || de.Code != protocol.CodeBadRequest) {
				t.Fatalf("want bad_request, got %v", err)
			}
		})
	}
}

// TestIsKeyAndIsRoomID compare the allocation-free checks with the plain
// library calls they stand for.
func TestIsKeyAndIsRoomID(t *testing.T) {
	isKey := func(s string) bool {
		b, err := base64.RawURLEncoding.Strict().DecodeString(s)
		return len(s) == protocol.TokenLen && err == nil && len(b) == 32
	}
	isRoomID := func(s string) bool {
		u, err := uuid.Parse(s)
		return len(s) == 36 && err == nil && u.String() == s
	}
	rng := rand.New(rand.NewPCG(3, 4))
	const chars = "AEIMQUYcgkosw048Bbz9-_=+/ \n\r{}0123456789abcdefABCDEF"
	mutate := func(s string) string {
		b := []byte(s)
		for range 1 + rng.IntN(2) {
			b[rng.IntN(len(b))] = chars[rng.IntN(len(chars))]
		}
		return string(b)
	}
	keys := []string{"", "AA", tokenN(0), tokenN(0) + "A", tokenN(0)[:42], tokenN(0)[:41] + "\nA", strings.Repeat("_", 42) + "8"}
	rooms := []string{"", "6f1c2f55-6f5a-4c5e-9a55-3b1f0e6f9d10", "6F1C2F55-6F5A-4C5E-9A55-3B1F0E6F9D10",
		"{6f1c2f55-6f5a-4c5e-9a55-3b1f0e6f9d10}", "6f1c2f556f5a4c5e9a553b1f0e6f9d10", "urn:uuid:6f1c2f55-6f5a-4c5e-9a55-3b1f0e6f9d10"}
	for range 20000 {
		keys = append(keys, mutate(tokenN(rng.IntN(64*16))))
		rooms = append(rooms, mutate(uuid.NewString()))
	}
	for _, k := range keys {
		if protocol.IsKey(k) != isKey(k) {
			t.Fatalf("IsKey(%q) = %v", k, protocol.IsKey(k))
		}
	}
	for _, r := range rooms {
		if protocol.IsRoomID(r) != isRoomID(r) {
			t.Fatalf("IsRoomID(%q) = %v", r, protocol.IsRoomID(r))
		}
	}
}

// tokenN returns a distinct well-formed key for each i < 64*16.
func tokenN(i int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	return strings.Repeat("A", protocol.TokenLen-2) + string(alphabet[i/16]) + string("AEIMQUYcgkosw048"[i%16])
}
