package protocol_test

import (
	"bytes"
	"encoding/base64"
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"

	"softland/server/protocol"
)

// BenchmarkDecodeRequest measures the decoder every client frame passes
// through: the largest frame phones send often (round.submit), a small one,
// and a refusal. Submits carry fresh random tokens, as real ones do, so no
// cache inside the decoder can make them look cheaper than they are. It
// asserts nothing about speed; compare runs with benchstat, and profile with
// -cpuprofile.
func BenchmarkDecodeRequest(b *testing.B) {
	room := "6f1c2f55-6f5a-4c5e-9a55-3b1f0e6f9d10"
	rng := rand.New(rand.NewPCG(1, 2))
	submits := make([][]byte, 512)
	for i := range submits {
		var set [protocol.TokenSetSize * protocol.TokenBytes]byte
		for k := range set {
			set[k] = byte(rng.Uint32())
		}
		submits[i] = []byte(`{"v":2,"type":"round.submit","id":"` + strconv.Itoa(i) + `","round":"` + room + `","tokens":"` + base64.RawURLEncoding.EncodeToString(set[:]) + `"}`)
	}
	run := func(name string, frames [][]byte, ok bool) {
		b.Run(name, func(b *testing.B) {
			b.SetBytes(int64(len(frames[0])))
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				if _, err := protocol.DecodeRequest(frames[i%len(frames)]); (err == nil) != ok {
					b.Fatal(err)
				}
				i++
			}
		})
	}
	run("submit", submits, true)
	run("close", [][]byte{[]byte(`{"v":2,"type":"round.close","id":"18","round":"` + room + `"}`)}, true)
	run("refused", [][]byte{[]byte(`{"v":2,"type":"round.close","id":"19","round":"` + room + `","Round":"` + room + `"}`)}, false)
	key := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	run("resume", [][]byte{[]byte(`{"v":2,"type":"resume","id":"20","room":"` + room + `","device":"` + key + `","epoch":"e","offset":12}`)}, true)
	run("ping", [][]byte{[]byte(`{"v":2,"type":"ping","id":"21"}`)}, true)
	// The header last: the order no client uses, which the decoder reads
	// twice.
	late := make([][]byte, len(submits))
	for i, f := range submits {
		header, rest, _ := bytes.Cut(f[1:], []byte(`,"round"`))
		late[i] = slices.Concat([]byte(`{"round"`), rest[:len(rest)-1], []byte(`,`), header, []byte(`}`))
	}
	run("submit-header-last", late, true)
}
