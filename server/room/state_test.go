package room

import (
	"crypto/sha256"
	"encoding/json"
	"strings"
	"testing"

	"softland/server/protocol"
)

// set returns a submission in wire form with the tokens named in pairs
// (name, rank) at their ranks and decoys of its own (marked side) at the
// others.
func set(side byte, pairs ...any) string {
	var ts [protocol.TokenSetSize]protocol.Token
	for i := range ts { // random-looking, as HMAC outputs and decoys are
		h := sha256.Sum256([]byte{side, byte(i)})
		ts[i] = protocol.Token(h[:])
	}
	for i := 0; i < len(pairs); i += 2 {
		ts[pairs[i+1].(int)] = name(pairs[i].(string))
	}
	return protocol.EncodeTokens(ts[:])
}

// name is the token spelled name, zero-padded.
func name(n string) protocol.Token {
	var t protocol.Token
	copy(t[:], n)
	return t
}

// names reads a reveal back as the names of its tokens.
func names(t *testing.T, reveal string) string {
	t.Helper()
	ts, err := protocol.DecodeTokens(reveal)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, tok := range ts {
		out = append(out, strings.TrimRight(string(tok[:]), "\x00"))
	}
	return strings.Join(out, " ")
}

func TestIntersect(t *testing.T) {
	tests := map[string]struct {
		a, b string
		k    int
		want string
	}{
		"nothing mutual":          {set(1, "x", 0), set(2, "y", 0), 3, ""},
		"one mutual":              {set(1, "x", 0, "m", 5), set(2, "m", 2, "y", 0), 3, "m"},
		"order by summed rank":    {set(1, "p", 0, "q", 1, "r", 2), set(2, "p", 5, "q", 0, "r", 1), 3, "q r p"},
		"capped at k":             {set(1, "p", 0, "q", 1, "r", 2), set(2, "p", 0, "q", 1, "r", 2), 2, "p q"},
		"ties broken by bytes":    {set(1, "zz", 1, "aa", 0), set(2, "zz", 0, "aa", 1), 3, "aa zz"},
		"byte order, not text":    {set(1, "\xff", 1, "-", 0), set(2, "\xff", 0, "-", 1), 3, "- \xff"},
		"decoys only":             {set(1), set(2), 3, ""},
		"all 64 mutual, k large":  {set(1), set(1), 100, ""},
		"k of one takes the best": {set(1, "p", 3, "q", 0), set(2, "p", 0, "q", 1), 1, "q"},
		"k of zero":               {set(1, "p", 0), set(2, "p", 0), 0, ""},
		"invalid set":             {"AAAA", set(2, "p", 0), 3, ""},
	}
	for n, tc := range tests {
		t.Run(n, func(t *testing.T) {
			reveal := Intersect(tc.a, tc.b, tc.k)
			if n == "all 64 mutual, k large" {
				if ts, _ := protocol.DecodeTokens(reveal); len(ts) != protocol.TokenSetSize {
					t.Fatalf("%d of 64 mutual tokens revealed", len(ts))
				}
				return
			}
			if got := names(t, reveal); got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			// Symmetric: which seat is which changes nothing.
			if back := Intersect(tc.b, tc.a, tc.k); back != reveal {
				t.Fatalf("not symmetric: %q vs %q", back, reveal)
			}
		})
	}
}

// BenchmarkIntersect: two full submissions with a few mutual tokens, as
// every submit after both seats answered computes.
func BenchmarkIntersect(b *testing.B) {
	a := set(1, "water", 0, "hold@1", 1, "walk", 2, "tea", 7)
	c := set(2, "tea", 0, "walk", 1, "music", 2, "water", 3)
	b.ReportAllocs()
	for b.Loop() {
		if Intersect(a, c, 3) == "" {
			b.Fatal("nothing mutual")
		}
	}
}

// TestSnapshotCarriesNoSecrets checks that what a phone is sent of the state
// holds no hash, no device data and no round tokens beyond the reveal.
func TestSnapshotCarriesNoSecrets(t *testing.T) {
	st := &State{ID: "r", Epoch: "e", JoinKeyHash: "JOINHASH"}
	st.Seats[0] = Seat{Taken: true, DeviceHash: "DEVHASH1", Presence: protocol.PresenceOnline}
	st.Seats[1] = Seat{Taken: true, DeviceHash: "DEVHASH2", Presence: protocol.PresenceAway,
		Push: &PushSub{Endpoint: "https://push.example/ENDPOINT", P256dh: "P256DH", Auth: "PUSHAUTH"}}
	a, b := set(1, "UNMATCHED1", 0, "MUTUAL", 1), set(2, "UNMATCHED2", 0, "MUTUAL", 0)
	st.Round = &Round{ID: "round", Tokens: [2]string{a, b}, Reveal: Intersect(a, b, 3), Rev: 1}
	st.Debriefs = []Debrief{{Round: "round", Until: 9, Blobs: [2]string{"DEBRIEF1", ""}}}
	st.Round.Tokens[1] = "" // seat 2 has not answered yet, as far as the snapshot goes
	js, err := json.Marshal(st.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"JOINHASH", "DEVHASH1", "DEVHASH2", a, b, "DEBRIEF1", "ENDPOINT", "P256DH", "PUSHAUTH"} {
		if strings.Contains(string(js), secret) {
			t.Errorf("snapshot leaks %.30s: %s", secret, js)
		}
	}
	if !strings.Contains(string(js), `"reveal":"`+protocol.EncodeTokens([]protocol.Token{name("MUTUAL")})+`"`) || !strings.Contains(string(js), `"submitted":[true,false]`) {
		t.Errorf("snapshot lacks what the phone needs: %s", js)
	}
}

func TestCloneIsDeep(t *testing.T) {
	st := &State{Round: &Round{Tokens: [2]string{"a", ""}, Reveal: "a", Reveals: []string{"a"}}, Settings: &protocol.Sealed{Blob: "s"}}
	st.Announce[0] = &protocol.Sealed{Blob: "x"}
	st.Debriefs = []Debrief{{Round: "r"}}
	st.Seats[1].Push = &PushSub{Endpoint: "e"}
	c := st.Clone()
	c.Seats[1].Push.Endpoint = "changed"
	if st.Seats[1].Push.Endpoint != "e" {
		t.Error("a clone shares the push subscription")
	}
	c.Round.Tokens[0] = "changed"
	c.Round.Reveals[0] = "changed"
	c.Settings.Blob = "changed"
	c.Announce[0].Blob = "changed"
	c.Debriefs[0].Round = "changed"
	if st.Round.Tokens[0] != "a" || st.Round.Reveals[0] != "a" || st.Settings.Blob != "s" || st.Announce[0].Blob != "x" || st.Debriefs[0].Round != "r" {
		t.Fatal("clone shares memory with the original")
	}
}
