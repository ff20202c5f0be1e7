package room

import (
	"encoding/json"
	"strings"
	"testing"

	"softland/server/protocol"
)

func TestIntersect(t *testing.T) {
	tk := func(pairs ...any) []protocol.Token {
		var out []protocol.Token
		for i := 0; i < len(pairs); i += 2 {
			out = append(out, protocol.Token{T: pairs[i].(string), R: pairs[i+1].(int)})
		}
		return out
	}
	tests := map[string]struct {
		a, b []protocol.Token
		k    int
		want string
	}{
		"nothing mutual":          {tk("x", 0), tk("y", 0), 3, ""},
		"one mutual":              {tk("x", 0, "m", 5), tk("m", 2, "y", 0), 3, "m"},
		"order by summed rank":    {tk("p", 0, "q", 1, "r", 2), tk("p", 5, "q", 0, "r", 0), 3, "q r p"},
		"capped at k":             {tk("p", 0, "q", 1, "r", 2), tk("p", 0, "q", 1, "r", 2), 2, "p q"},
		"ties broken by token":    {tk("zz", 1, "aa", 0), tk("zz", 0, "aa", 1), 3, "aa zz"},
		"order of entries moot":   {tk("r", 2, "q", 1, "p", 0), tk("r", 2, "p", 0, "q", 1), 3, "p q r"},
		"empty submissions":       {nil, nil, 3, ""},
		"k of one takes the best": {tk("p", 3, "q", 0), tk("p", 0, "q", 1), 1, "q"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := strings.Join(Intersect(tc.a, tc.b, tc.k), " ")
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
			// Symmetric: which seat is which changes nothing.
			if back := strings.Join(Intersect(tc.b, tc.a, tc.k), " "); back != got {
				t.Fatalf("not symmetric: %q vs %q", back, got)
			}
		})
	}
}

// TestSnapshotCarriesNoSecrets checks that what a phone is sent of the state
// holds no hash, no device data and no round tokens beyond the reveal.
func TestSnapshotCarriesNoSecrets(t *testing.T) {
	st := &State{ID: "r", Epoch: "e", JoinKeyHash: "JOINHASH"}
	st.Seats[0] = Seat{Taken: true, DeviceHash: "DEVHASH1", Presence: protocol.PresenceOnline}
	st.Seats[1] = Seat{Taken: true, DeviceHash: "DEVHASH2", Presence: protocol.PresenceAway,
		Push: &PushSub{Endpoint: "https://push.example/ENDPOINT", P256dh: "P256DH", Auth: "PUSHAUTH"}}
	st.Round = &Round{ID: "round", Tokens: [2][]protocol.Token{{{T: "UNMATCHED1", R: 0}, {T: "MUTUAL", R: 1}}, {{T: "UNMATCHED2", R: 0}, {T: "MUTUAL", R: 0}}}, Reveal: []string{"MUTUAL"}, Rev: 1}
	st.Debriefs = []Debrief{{Round: "round", Until: 9, Blobs: [2]string{"DEBRIEF1", ""}}}
	b, err := json.Marshal(st.Snapshot())
	if err != nil {
		t.Fatal(err)
	}
	for _, secret := range []string{"JOINHASH", "DEVHASH1", "DEVHASH2", "UNMATCHED1", "UNMATCHED2", "DEBRIEF1", "ENDPOINT", "P256DH", "PUSHAUTH"} {
		if strings.Contains(string(b), secret) {
			t.Errorf("snapshot leaks %s: %s", secret, b)
		}
	}
	if !strings.Contains(string(b), "MUTUAL") || !strings.Contains(string(b), `"submitted":[true,false]`) {
		t.Errorf("snapshot lacks what the phone needs: %s", b)
	}
}

func TestCloneIsDeep(t *testing.T) {
	st := &State{Round: &Round{Tokens: [2][]protocol.Token{{{T: "a"}}, nil}, Reveal: []string{"a"}}, Settings: &protocol.Sealed{Blob: "s"}}
	st.Announce[0] = &protocol.Sealed{Blob: "x"}
	st.Debriefs = []Debrief{{Round: "r"}}
	st.Seats[1].Push = &PushSub{Endpoint: "e"}
	c := st.Clone()
	c.Seats[1].Push.Endpoint = "changed"
	if st.Seats[1].Push.Endpoint != "e" {
		t.Error("a clone shares the push subscription")
	}
	c.Round.Tokens[0][0].T = "changed"
	c.Round.Reveal[0] = "changed"
	c.Settings.Blob = "changed"
	c.Announce[0].Blob = "changed"
	c.Debriefs[0].Round = "changed"
	if st.Round.Tokens[0][0].T != "a" || st.Round.Reveal[0] != "a" || st.Settings.Blob != "s" || st.Announce[0].Blob != "x" || st.Debriefs[0].Round != "r" {
		t.Fatal("clone shares memory with the original")
	}
}
