package main

// Micro-benchmarks behind the optimisation proposals in docs/performance.md:
// what the server pays per frame today on its hottest paths (decoding a
// round.submit, encoding an event), next to what a one-pass decoder and a
// once-per-room encoding would pay. They measure the server's exported
// protocol package; they assert nothing about speed.
//
//	go test -run '^$' -bench . -benchmem ./client/cmd/softland-bench

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/go-json-experiment/json/jsontext"

	"softland/server/protocol"
)

func submitFrame(tb testing.TB) []byte {
	tb.Helper()
	p := &pair{f: &fleet{cfg: fleetConfig{RevealSize: 3}}, rng: rand.New(rand.NewPCG(1, 2))}
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

// BenchmarkDecodeSubmit is what the server does today for every submit.
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

// BenchmarkDecodeSubmitStrictOnePass is a candidate replacement that keeps
// every rule of DecodeRequest: json v2 (github.com/go-json-experiment/json,
// already in go.sum) matches names case-sensitively and refuses duplicate
// and, with RejectUnknownMembers, unknown names in the same pass that fills
// the struct; a jsontext walk, which does not allocate per token, checks
// that every required name is present; then the same value checks (keys
// well formed, ranks a permutation).
func BenchmarkDecodeSubmitStrictOnePass(b *testing.B) {
	frame := submitFrame(b)
	b.SetBytes(int64(len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		var s protocol.Submit
		if err := jsonv2.Unmarshal(frame, &s, jsonv2.RejectUnknownMembers(true)); err != nil {
			b.Fatal(err)
		}
		if !requiredPresent(frame) {
			b.Fatal("required field missing")
		}
		var seen [protocol.TokenSetSize]bool
		for _, t := range s.Tokens {
			if !protocol.IsKey(t.T) || t.R < 0 || t.R >= protocol.TokenSetSize || seen[t.R] {
				b.Fatal("bad token")
			}
			seen[t.R] = true
		}
	}
}

// requiredPresent checks a submit's required names (v, type, round, tokens;
// t and r in every entry) with jsontext, the way checkKeys does with
// encoding/json's Token API, without allocating per name.
func requiredPresent(frame []byte) bool {
	dec := jsontext.NewDecoder(bytes.NewReader(frame))
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return false
	}
	var top uint8
	for dec.PeekKind() != '}' {
		name, err := dec.ReadValue()
		if err != nil {
			return false
		}
		switch string(name) {
		case `"v"`:
			top |= 1
		case `"type"`:
			top |= 2
		case `"round"`:
			top |= 4
		case `"tokens"`:
			top |= 8
			if !entriesPresent(dec) {
				return false
			}
			continue
		}
		if dec.SkipValue() != nil {
			return false
		}
	}
	return top == 0b1111
}

func entriesPresent(dec *jsontext.Decoder) bool {
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '[' {
		return false
	}
	for dec.PeekKind() != ']' {
		if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
			return false
		}
		var e uint8
		for dec.PeekKind() != '}' {
			name, err := dec.ReadValue()
			if err != nil {
				return false
			}
			switch string(name) {
			case `"t"`:
				e |= 1
			case `"r"`:
				e |= 2
			}
			if dec.SkipValue() != nil {
				return false
			}
		}
		if _, err := dec.ReadToken(); err != nil || e != 0b11 {
			return false
		}
	}
	_, err := dec.ReadToken()
	return err == nil
}

func revealEvent() *protocol.Event {
	return &protocol.Event{
		Epoch: "b2248bb3aaf2299d", Offset: 7, Kind: protocol.KindRoundRevealed, At: 1778281590054,
		Round: "d1ed06ef-b374-4dfc-8920-37fe76a9227d", Rev: 1,
		Reveal: []string{
			"Q4pEBJavtSGtzOHrenNca-mvvln7OIkC8f3RpXRvgwA",
			"yRZfArgou-8CMp8P_u1CH0Ff-Ud0Fovx017OMml0raM",
			"UlKGSJVtUKCIkHL4RZMhO8dF7Yn5Mvm7V0Yzt4ZRhfQ",
		},
	}
}

// BenchmarkMarshalRevealEvent is one event encoding; today every socket of
// the room encodes every event itself, so a reveal is encoded twice.
func BenchmarkMarshalRevealEvent(b *testing.B) {
	ev := revealEvent()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := protocol.Marshal(ev); err != nil {
			b.Fatal(err)
		}
	}
}

// strictOnePass is the candidate decoder of BenchmarkDecodeSubmitStrictOnePass.
func strictOnePass(frame []byte) bool {
	var s protocol.Submit
	return jsonv2.Unmarshal(frame, &s, jsonv2.RejectUnknownMembers(true)) == nil && requiredPresent(frame)
}

// TestStrictOnePassRules shows the candidate refuses what DecodeRequest
// refuses for shape, so the benchmark compares like with like.
func TestStrictOnePassRules(t *testing.T) {
	good := string(submitFrame(t))
	if !strictOnePass([]byte(good)) {
		t.Fatal("refuses a good frame")
	}
	for name, frame := range map[string]string{
		"unknown field":    strings.Replace(good, `"round":`, `"extra":1,"round":`, 1),
		"case variant":     strings.Replace(good, `"round":`, `"Round":`, 1),
		"repeated field":   strings.Replace(good, `"round":`, `"round":"x","round":`, 1),
		"missing round":    strings.Replace(good, `"round":"d1ed06ef-b374-4dfc-8920-37fe76a9227d",`, ``, 1),
		"missing rank":     strings.Replace(good, `,"r":0}`, `}`, 1),
		"unknown in entry": strings.Replace(good, `,"r":0}`, `,"r":0,"x":1}`, 1),
		"trailing data":    good + `{}`,
	} {
		if frame == good {
			t.Fatalf("%s: the case changed nothing", name)
		}
		if _, err := protocol.DecodeRequest([]byte(frame)); err == nil {
			t.Errorf("%s: DecodeRequest accepts it", name)
		}
		if strictOnePass([]byte(frame)) {
			t.Errorf("%s: the one-pass candidate accepts it", name)
		}
	}
}
