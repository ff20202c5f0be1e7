package redisstore

// What a commit costs in Go besides its round trip: decoding the stored
// state (spared when the state is the one this store last saw), encoding the
// new one, and the copies the cache hands out.
//
//	go test -run '^$' -bench State -benchmem ./server/redisstore

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"testing"

	"softland/server/protocol"
	"softland/server/room"
)

// bigState is a room whose open round both partners answered: the largest
// state a room normally has.
func bigState() *room.State {
	st := &room.State{ID: "d1ed06ef-b374-4dfc-8920-37fe76a9227d", Epoch: "b2248bb3aaf2299d", Version: 9, Offset: 12, CreatedAt: 1, InviteExpiresAt: 2}
	st.Seats[0] = room.Seat{Taken: true, DeviceHash: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", Presence: "online", Gen: 1}
	st.Seats[1] = room.Seat{Taken: true, DeviceHash: "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", Presence: "online", Gen: 1}
	st.Round = &room.Round{ID: "d1ed06ef-b374-4dfc-8920-37fe76a9227d", By: 1, OpenedAt: 1, ClosesAt: 2}
	for s := range 2 {
		b := make([]byte, protocol.TokenSetSize*protocol.TokenBytes)
		rand.Read(b)
		st.Round.Tokens[s] = base64.RawURLEncoding.EncodeToString(b)
	}
	return st
}

func BenchmarkDecodeState(b *testing.B) {
	raw, _ := json.Marshal(bigState())
	b.SetBytes(int64(len(raw)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := decodeState(raw); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEncodeState(b *testing.B) {
	st := bigState()
	b.ReportAllocs()
	for b.Loop() {
		json.Marshal(st)
	}
}

func BenchmarkCloneState(b *testing.B) {
	st := bigState()
	b.ReportAllocs()
	for b.Loop() {
		st.Clone()
	}
}
