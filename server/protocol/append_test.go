package protocol

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

// TestAppendMatchesMarshal holds the hand-written encoders to Marshal's
// bytes, for every field set or empty and for strings that need escaping.
func TestAppendMatchesMarshal(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	strs := []string{"", "b2248bb3aaf2299d", KindRoundRevealed, "d1ed06ef-b374-4dfc-8920-37fe76a9227d",
		"Q4pEBJavtSGtzOHrenNca-mvvln7OIkC8f3RpXRvgwDJFl8CuCi77wIynw_-7UIf", `quote " and \ backslash`,
		"<html> & more", "tab\tnew\nline\x00", "ümlaut and emoji 🌙", "\u2028 line separator", "bad utf-8 \xff\xfe"}
	str := func() string { return strs[rng.IntN(len(strs))] }
	num := func() int64 {
		switch rng.IntN(3) {
		case 0:
			return 0
		case 1:
			return rng.Int64N(1000)
		}
		return rng.Int64() - rng.Int64()
	}
	for i := range 5000 {
		ev := &Event{
			Epoch: str(), Offset: uint64(num()), Kind: str(), At: num(), Seat: int(num()),
			Presence: str(), Round: str(), ClosesAt: num(), Reveal: str(), Rev: int(num()),
			Reason: str(), Blob: str(), Until: num(), Seen: uint64(num()), KeyEpoch: uint64(num()),
			Nonce: str(), KeyHash: str(),
		}
		switch rng.IntN(3) {
		case 1:
			ev.Blobs = []string{}
		case 2:
			ev.Blobs = []string{str(), str()}
		}
		want, err := Marshal(ev)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendEvent([]byte("x"), ev); !bytes.Equal(got[1:], want) || got[0] != 'x' {
			t.Fatalf("event %d:\n got %s\nwant %s", i, got, want)
		}
		a := &Ack{Header: Header{ID: str()}, Offset: uint64(num()), Round: str(), Move: str(), ExpiresAt: num(), Replace: str()}
		want, err = Marshal(a)
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendAck(nil, a); !bytes.Equal(got, want) {
			t.Fatalf("ack %d:\n got %s\nwant %s", i, got, want)
		}
	}
}

func BenchmarkAppendEvent(b *testing.B) {
	ev := &Event{Epoch: "b2248bb3aaf2299d", Offset: 7, Kind: KindRoundRevealed, At: 1778281590054,
		Round: "d1ed06ef-b374-4dfc-8920-37fe76a9227d", Rev: 1,
		Reveal: "Q4pEBJavtSGtzOHrenNca-mvvln7OIkC8f3RpXRvgwDJFl8CuCi77wIynw_-7UIf"}
	buf := make([]byte, 0, 512)
	b.ReportAllocs()
	for b.Loop() {
		buf = AppendEvent(buf[:0], ev)
	}
}
