package protocol_test

import (
	"encoding/base64"
	"math/rand/v2"
	"testing"

	"softland/server/protocol"
)

// TestDecodeTokenSet compares the stack-only decoder with the plain library
// calls it stands for, on valid sets and on mutations of them.
func TestDecodeTokenSet(t *testing.T) {
	plain := func(s string) bool {
		b, err := base64.RawURLEncoding.Strict().DecodeString(s)
		if err != nil || len(s) != protocol.TokenSetLen || len(b) != protocol.TokenSetSize*protocol.TokenBytes {
			return false
		}
		seen := map[string]bool{}
		for i := 0; i < len(b); i += protocol.TokenBytes {
			if seen[string(b[i:i+protocol.TokenBytes])] {
				return false
			}
			seen[string(b[i:i+protocol.TokenBytes])] = true
		}
		return true
	}
	rng := rand.New(rand.NewPCG(5, 6))
	const chars = "AEIMQUYcgkosw048Bbz9-_=+/ \n\r"
	for n := range 5000 {
		b := make([]byte, protocol.TokenSetSize*protocol.TokenBytes)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		if n%3 == 0 { // a repeated token
			i, j := rng.IntN(protocol.TokenSetSize), rng.IntN(protocol.TokenSetSize)
			copy(b[i*16:i*16+16], b[j*16:j*16+16])
		}
		if n%7 == 0 { // tokens alike in their first 8 bytes, which the table hashes
			for i := 0; i < len(b); i += 16 {
				copy(b[i:i+8], "softland")
			}
		}
		s := []byte(base64.RawURLEncoding.EncodeToString(b))
		if n%2 == 0 {
			for range 1 + rng.IntN(2) {
				s[rng.IntN(len(s))] = chars[rng.IntN(len(chars))]
			}
		}
		var set protocol.TokenSet
		msg := protocol.DecodeTokenSet(string(s), &set)
		if (msg == "") != plain(string(s)) {
			t.Fatalf("DecodeTokenSet(%q) = %q", s, msg)
		}
		if msg != "" {
			continue
		}
		want, _ := base64.RawURLEncoding.DecodeString(string(s))
		x, distinct := set.Index()
		if !distinct {
			t.Fatal("a distinct set is not indexed as distinct")
		}
		for i := range set {
			if w := protocol.Token(want[i*16:]); set[i] != w {
				t.Fatalf("token %d decoded as %x, want %x", i, set[i], w)
			}
			if r := x.Rank(&set[i]); r != i {
				t.Fatalf("token %d found at %d", i, r)
			}
		}
		var other protocol.Token
		other[0] = byte(n)
		if r := x.Rank(&other); r >= 0 && set[r] != other {
			t.Fatalf("a token not in the set found at %d", r)
		}
	}
	for _, s := range []string{"", "AA", base64.RawURLEncoding.EncodeToString(make([]byte, 1024))} {
		var set protocol.TokenSet
		if protocol.DecodeTokenSet(s, &set) == "" {
			t.Errorf("DecodeTokenSet(%.20q) accepted", s)
		}
	}
}

// TestTokensRoundTrip: a token list's wire form reads back as itself, and
// only whole tokens in strict unpadded base64url are read.
func TestTokensRoundTrip(t *testing.T) {
	for n := range 5 {
		ts := make([]protocol.Token, n)
		for i := range ts {
			ts[i][0], ts[i][15] = byte(i), byte(n)
		}
		s := protocol.EncodeTokens(ts)
		if len(s) != base64.RawURLEncoding.EncodedLen(n*protocol.TokenBytes) {
			t.Fatalf("%d tokens encoded in %d characters", n, len(s))
		}
		back, err := protocol.DecodeTokens(s)
		if err != nil || len(back) != n {
			t.Fatalf("%d tokens read back as %d: %v", n, len(back), err)
		}
		for i := range ts {
			if back[i] != ts[i] {
				t.Fatalf("token %d read back as %x", i, back[i])
			}
		}
	}
	whole := protocol.EncodeTokens([]protocol.Token{{1}})
	for _, s := range []string{"AA", whole[:len(whole)-1], whole + "=", whole[:len(whole)-1] + "B", "+" + whole[1:], "\n" + whole[1:]} {
		if _, err := protocol.DecodeTokens(s); err == nil {
			t.Errorf("DecodeTokens(%q) accepted", s)
		}
	}
}

// TestDecodeTokenSetAllocates nothing: every submit passes through it.
func TestDecodeTokenSetAllocates(t *testing.T) {
	b := make([]byte, protocol.TokenSetSize*protocol.TokenBytes)
	for i := range b {
		b[i] = byte(i * 7 / 3)
	}
	for i := 0; i < len(b); i += 16 {
		b[i] = byte(i / 16)
	}
	s := base64.RawURLEncoding.EncodeToString(b)
	var set protocol.TokenSet
	if msg := protocol.DecodeTokenSet(s, &set); msg != "" {
		t.Fatal(msg)
	}
	if n := testing.AllocsPerRun(100, func() { protocol.DecodeTokenSet(s, &set) }); n != 0 {
		t.Errorf("%v allocations per set", n)
	}
}
