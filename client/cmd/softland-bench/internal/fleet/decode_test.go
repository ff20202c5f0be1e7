package fleet

// Micro-benchmarks behind the measurements in docs/performance.md: what the
// server pays per frame on its hottest paths (decoding a round.submit or a
// small request, encoding an event), next to the floor of one lenient
// encoding/json decode. They measure the server's exported protocol package;
// they assert nothing about speed. server/protocol's BenchmarkDecodeRequest
// decodes submits with fresh tokens each time, as a busy server does.
//
//	go test -run '^$' -bench . -benchmem ./client/cmd/softland-bench/internal/fleet

import (
	"encoding/json"
	"math/rand/v2"
	"testing"

	"softland/server/protocol"
)

func submitFrame(tb testing.TB) []byte {
	tb.Helper()
	p := &pair{f: &Fleet{cfg: Config{RevealSize: 3}}, rng: rand.New(rand.NewPCG(1, 2))}
	subs, _ := p.tokens()
	b, err := protocol.Marshal(&protocol.Submit{
		Header: protocol.Header{Type: protocol.TypeSubmit, ID: "17"},
		Round:  "d1ed06ef-b374-4dfc-8920-37fe76a9227d",
		Tokens: subs[0],
	})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// BenchmarkDecodeSubmit is what the server does for every submit.
func BenchmarkDecodeSubmit(b *testing.B) {
	frame := submitFrame(b)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := protocol.DecodeRequest(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeRoundClose is the same for a small frame (round.close).
func BenchmarkDecodeRoundClose(b *testing.B) {
	frame, err := protocol.Marshal(&protocol.RoundClose{
		Header: protocol.Header{Type: protocol.TypeRoundClose, ID: "18"},
		Round:  "d1ed06ef-b374-4dfc-8920-37fe76a9227d",
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := protocol.DecodeRequest(frame); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkDecodeSubmitV1Unmarshal is one lenient encoding/json pass: the
// floor any reflection-based decoder of this struct pays.
func BenchmarkDecodeSubmitV1Unmarshal(b *testing.B) {
	frame := submitFrame(b)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		var s protocol.Submit
		if err := json.Unmarshal(frame, &s); err != nil {
			b.Fatal(err)
		}
	}
}

func revealEvent() *protocol.Event {
	return &protocol.Event{
		Epoch: "b2248bb3aaf2299d", Offset: 7, Kind: protocol.KindRoundRevealed, At: 1778281590054,
		Round: "d1ed06ef-b374-4dfc-8920-37fe76a9227d", Rev: 1,
		Reveal: "Q4pEBJavtSGtzOHrenNca-mvvln7OIkC8f3RpXRvgwDJFl8CuCi77wIynw_-7UIf",
	}
}

// BenchmarkMarshalRevealEvent is one event encoding by reflection, as the
// phones' side does; the server writes events with protocol.AppendEvent
// (BenchmarkAppendEvent), every socket of the room for itself.
func BenchmarkMarshalRevealEvent(b *testing.B) {
	ev := revealEvent()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := protocol.Marshal(ev); err != nil {
			b.Fatal(err)
		}
	}
}
