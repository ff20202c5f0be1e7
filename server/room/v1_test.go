package room

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"softland/server/protocol"
)

// TestStateFromV1: an answered round saved by a version 1 server carries on
// after the upgrade: its sets and reveals become the version 2 ones of the
// same HMACs, so the next intersection is the old reveal, cut to 16 bytes.
func TestStateFromV1(t *testing.T) {
	tok := func(name string) string { // a version 1 token: 32 bytes
		s := sha256.Sum256([]byte(name))
		return base64.RawURLEncoding.EncodeToString(s[:])
	}
	set := func(seat string, real ...string) string {
		var entries []string
		for r := range protocol.TokenSetSize {
			name := fmt.Sprint("decoy ", seat, r)
			if r < len(real) {
				name = real[r]
			}
			entries = append(entries, fmt.Sprintf(`{"t":%q,"r":%d}`, tok(name), r))
		}
		return "[" + strings.Join(entries, ",") + "]"
	}
	v1 := `{"id":"room","epoch":"e","version":4,"offset":6,"createdAt":1,"inviteExpiresAt":2,` +
		`"seats":[{"taken":true,"presence":"online","gen":1},{"taken":true,"presence":"away","gen":1}],"paused":[false,false],` +
		`"round":{"id":"round","by":1,"openedAt":3,"closesAt":4,"tokens":[` + set("a", "water", "tea") + `,` + set("b", "tea", "walk", "water") + `],` +
		`"submits":[1,2],"reveal":[` + fmt.Sprintf("%q,%q", tok("tea"), tok("water")) + `],"rev":1,"reveals":[[` + fmt.Sprintf("%q,%q", tok("tea"), tok("water")) + `]]},` +
		`"announce":[null,null]}`
	var probe State
	if json.Unmarshal([]byte(v1), &probe) == nil {
		t.Fatal("a version 1 state decodes as it is: this test tests nothing")
	}
	st, err := StateFromV1([]byte(v1))
	if err != nil {
		t.Fatal(err)
	}
	r := st.Round
	if st.ID != "room" || st.Offset != 6 || !st.Paired() || r == nil || r.ID != "round" || r.Submits != [2]int{1, 2} || r.Rev != 1 || r.Tokens[0] == "" || r.Tokens[1] == "" {
		t.Fatalf("converted %+v, round %+v", st, r)
	}
	if again := Intersect(r.Tokens[0], r.Tokens[1], 3); again != r.Reveal || len(r.Reveals) != 1 || r.Reveals[0] != r.Reveal {
		t.Fatalf("reveal %q, recomputed %q", r.Reveal, again)
	}
	want := func(name string) protocol.Token { s := sha256.Sum256([]byte(name)); return protocol.Token(s[:]) }
	if r.Reveal != protocol.EncodeTokens([]protocol.Token{want("tea"), want("water")}) {
		t.Fatalf("reveal %q is not the old one cut to 16 bytes", r.Reveal)
	}
	// A broken set is dropped, not guessed at.
	broken := strings.Replace(v1, `"r":63}`, `"r":0}`, 1)
	if st, err := StateFromV1([]byte(broken)); err != nil || st.Round.Tokens[0] != "" || st.Round.Tokens[1] == "" {
		t.Fatalf("broken set: %v, %+v", err, st.Round)
	}
}
