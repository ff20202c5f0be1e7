package memstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"softland/server/memstore"
	"softland/server/protocol"
	"softland/server/room"
	"softland/server/room/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, storetest.Config{
		LogSize: 32,
		New: func(t *testing.T) (room.Store, storetest.Feed) {
			s := memstore.New(memstore.Options{LogSize: 32})
			t.Cleanup(func() { s.Close() })
			return s, s
		},
	})
}

func TestIdleRoomExpires(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	s := memstore.New(memstore.Options{IdleTTL: time.Hour, Now: clock})
	defer s.Close()
	st := &room.State{ID: "r1", Epoch: "e"}
	if err := s.Create(context.Background(), st); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	now = now.Add(59 * time.Minute)
	mu.Unlock()
	if _, _, err := s.Update(context.Background(), "r1", func(*room.State) ([]protocol.Event, error) { return nil, nil }); err != nil {
		t.Fatal(err)
	}
	// The update refreshed the expiry.
	mu.Lock()
	now = now.Add(59 * time.Minute)
	mu.Unlock()
	if _, err := s.Load(context.Background(), "r1"); err != nil {
		t.Fatalf("room expired although it was used: %v", err)
	}
	mu.Lock()
	now = now.Add(time.Hour + time.Second)
	mu.Unlock()
	if _, err := s.Load(context.Background(), "r1"); !errors.Is(err, room.ErrNotFound) {
		t.Fatalf("idle room still there: %v", err)
	}
	if s.Len() != 0 {
		t.Fatal("expired room still held in memory")
	}
}
