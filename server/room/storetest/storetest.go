// Package storetest is the conformance suite every room.Store must pass. The
// memory store and the Redis store run the very same tests, so the room logic
// can rely on one behaviour whichever store is configured.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"

	"softland/server/protocol"
	"softland/server/room"
)

// Config describes the store under test.
type Config struct {
	// New returns an empty store whose log keeps at least LogSize events per
	// room. It is called once per subtest.
	New     func(t *testing.T) room.Store
	LogSize int
}

// Run runs the suite.
func Run(t *testing.T, cfg Config) {
	tests := map[string]func(*testing.T, room.Store, Config){
		"create and load":              testCreateLoad,
		"missing room":                 testMissing,
		"update commits atomically":    testUpdate,
		"refused update saves nothing": testRefused,
		"unchanged saves nothing":      testUnchanged,
		"since":                        testSince,
		"log keeps the newest":         testLogRetention,
		"concurrent updates":           testConcurrent,
		"subscribe":                    testSubscribe,
		"delete":                       testDelete,
		"log keeps no reveal":          testLogWithoutReveal,
		"ping":                         func(t *testing.T, s room.Store, _ Config) { mustOK(t, s.Ping(ctx(t))) },
	}
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) {
			fn(t, cfg.New(t), cfg)
		})
	}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	t.Cleanup(cancel)
	return c
}

func mustOK(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func newState() *room.State {
	st := &room.State{ID: uuid.NewString(), Epoch: "e" + uuid.NewString()[:8], CreatedAt: 1, JoinKeyHash: "hash", InviteExpiresAt: 2}
	st.Seats[0] = room.Seat{Taken: true, DeviceHash: "d1", Presence: protocol.PresenceOnline, Gen: 1}
	st.Seats[1] = room.Seat{Presence: protocol.PresenceAway}
	return st
}

// appendEvents is an update that logs n pause/unpause events the way the room
// logic does: offsets continue from the state's.
func appendEvents(n int) func(*room.State) ([]protocol.Event, error) {
	return func(st *room.State) ([]protocol.Event, error) {
		var evs []protocol.Event
		for range n {
			st.Offset++
			st.Paused[0] = !st.Paused[0]
			kind := protocol.KindUnpaused
			if st.Paused[0] {
				kind = protocol.KindPaused
			}
			evs = append(evs, protocol.Event{V: protocol.Version, Type: protocol.TypeEvent, Epoch: st.Epoch, Offset: st.Offset, Kind: kind, Seat: 1})
		}
		return evs, nil
	}
}

func testCreateLoad(t *testing.T, s room.Store, _ Config) {
	st := newState()
	st.Round = &room.Round{ID: uuid.NewString(), By: 1, Tokens: [2][]protocol.Token{{{T: "t", R: 3}}, nil}}
	st.Settings = &protocol.Sealed{Seat: 2, Blob: "blob"}
	mustOK(t, s.Create(ctx(t), st))
	got, err := s.Load(ctx(t), st.ID)
	mustOK(t, err)
	if got.ID != st.ID || got.Epoch != st.Epoch || got.Seats != st.Seats || got.Round == nil ||
		got.Round.Tokens[0][0] != st.Round.Tokens[0][0] || got.Settings.Blob != "blob" || got.Version != 0 {
		t.Fatalf("loaded %+v, want %+v", got, st)
	}
	// The store holds its own copy.
	st.Seats[0].Gen = 99
	got, _ = s.Load(ctx(t), st.ID)
	if got.Seats[0].Gen != 1 {
		t.Fatal("store shares memory with the caller")
	}
}

func testMissing(t *testing.T, s room.Store, _ Config) {
	id := uuid.NewString()
	if _, err := s.Load(ctx(t), id); !errors.Is(err, room.ErrNotFound) {
		t.Fatalf("load: %v", err)
	}
	if _, _, err := s.Update(ctx(t), id, appendEvents(1)); !errors.Is(err, room.ErrNotFound) {
		t.Fatalf("update: %v", err)
	}
	if _, _, err := s.Since(ctx(t), id, "e", 0); !errors.Is(err, room.ErrNotFound) {
		t.Fatalf("since: %v", err)
	}
	mustOK(t, s.Delete(ctx(t), id))
}

func testUpdate(t *testing.T, s room.Store, _ Config) {
	st := newState()
	mustOK(t, s.Create(ctx(t), st))
	got, evs, err := s.Update(ctx(t), st.ID, appendEvents(2))
	mustOK(t, err)
	if got.Version != 1 || got.Offset != 2 || len(evs) != 2 || evs[1].Offset != 2 {
		t.Fatalf("after update: version %d offset %d events %v", got.Version, got.Offset, evs)
	}
	loaded, _ := s.Load(ctx(t), st.ID)
	if loaded.Version != 1 || loaded.Offset != 2 || loaded.Paused[0] {
		t.Fatalf("loaded %+v", loaded)
	}
	if _, _, err := s.Update(ctx(t), st.ID, appendEvents(1)); err != nil {
		t.Fatal(err)
	}
	loaded, _ = s.Load(ctx(t), st.ID)
	if loaded.Version != 2 || loaded.Offset != 3 || !loaded.Paused[0] {
		t.Fatalf("loaded %+v", loaded)
	}
}

func testRefused(t *testing.T, s room.Store, _ Config) {
	st := newState()
	mustOK(t, s.Create(ctx(t), st))
	_, _, err := s.Update(ctx(t), st.ID, func(st *room.State) ([]protocol.Event, error) {
		st.Paused[0] = true
		st.Offset = 5
		return nil, room.ErrNoRound
	})
	if !errors.Is(err, room.ErrNoRound) {
		t.Fatalf("want the function's error, got %v", err)
	}
	got, _ := s.Load(ctx(t), st.ID)
	if got.Paused[0] || got.Offset != 0 || got.Version != 0 {
		t.Fatalf("a refused update was saved: %+v", got)
	}
}

func testUnchanged(t *testing.T, s room.Store, _ Config) {
	st := newState()
	mustOK(t, s.Create(ctx(t), st))
	got, evs, err := s.Update(ctx(t), st.ID, func(st *room.State) ([]protocol.Event, error) {
		st.Paused[1] = true
		return nil, room.ErrUnchanged
	})
	if err != nil || len(evs) != 0 || got == nil || got.Version != 0 || got.Paused[1] {
		t.Fatalf("unchanged: %+v %v %v", got, evs, err)
	}
}

func testSince(t *testing.T, s room.Store, _ Config) {
	st := newState()
	mustOK(t, s.Create(ctx(t), st))
	evs, complete, err := s.Since(ctx(t), st.ID, st.Epoch, 0)
	if err != nil || !complete || len(evs) != 0 {
		t.Fatalf("empty log: %v %v %v", evs, complete, err)
	}
	_, _, err = s.Update(ctx(t), st.ID, appendEvents(5))
	mustOK(t, err)
	for after := uint64(0); after <= 5; after++ {
		evs, complete, err := s.Since(ctx(t), st.ID, st.Epoch, after)
		mustOK(t, err)
		if !complete || len(evs) != int(5-after) {
			t.Fatalf("since %d: complete %v, %d events", after, complete, len(evs))
		}
		for i, ev := range evs {
			if ev.Offset != after+uint64(i)+1 || ev.Epoch != st.Epoch {
				t.Fatalf("since %d: event %d has offset %d", after, i, ev.Offset)
			}
		}
	}
	if _, complete, _ := s.Since(ctx(t), st.ID, st.Epoch, 6); complete {
		t.Fatal("an offset from the future must not be complete")
	}
	if _, complete, _ := s.Since(ctx(t), st.ID, "other", 2); complete {
		t.Fatal("another epoch must not be complete")
	}
}

func testLogRetention(t *testing.T, s room.Store, cfg Config) {
	st := newState()
	mustOK(t, s.Create(ctx(t), st))
	total := cfg.LogSize * 3 / 10 * 10
	for range total / 10 {
		_, _, err := s.Update(ctx(t), st.ID, appendEvents(10))
		mustOK(t, err)
	}
	if _, complete, _ := s.Since(ctx(t), st.ID, st.Epoch, 0); complete {
		t.Fatal("the log cannot hold every event; it must say so")
	}
	after := uint64(total - cfg.LogSize/2)
	evs, complete, err := s.Since(ctx(t), st.ID, st.Epoch, after)
	mustOK(t, err)
	if !complete || len(evs) != cfg.LogSize/2 || evs[0].Offset != after+1 {
		t.Fatalf("recent events: complete %v, %d events", complete, len(evs))
	}
}

// testConcurrent races writers on one room; every update must land once, with
// consecutive offsets and no lost change.
func testConcurrent(t *testing.T, s room.Store, _ Config) {
	st := newState()
	mustOK(t, s.Create(ctx(t), st))
	const writers, each = 8, 25
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range each {
				if _, _, err := s.Update(ctx(t), st.ID, appendEvents(1)); err != nil {
					errs <- err
					return
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	got, _ := s.Load(ctx(t), st.ID)
	if got.Offset != writers*each || got.Version != writers*each {
		t.Fatalf("offset %d version %d, want %d", got.Offset, got.Version, writers*each)
	}
}

func testSubscribe(t *testing.T, s room.Store, _ Config) {
	st := newState()
	var mu sync.Mutex
	var got []uint64
	signal := make(chan struct{}, 100)
	// Subscribing before the room exists works.
	cancel := s.Subscribe(st.ID, func(ev protocol.Event) {
		mu.Lock()
		got = append(got, ev.Offset)
		mu.Unlock()
		signal <- struct{}{}
	})
	mustOK(t, s.Create(ctx(t), st))
	waitSubscribed(t, s, st)
	_, _, err := s.Update(ctx(t), st.ID, appendEvents(3))
	mustOK(t, err)
	for range 3 {
		select {
		case <-signal:
		case <-time.After(10 * time.Second):
			t.Fatal("event not delivered")
		}
	}
	cancel()
	_, _, err = s.Update(ctx(t), st.ID, appendEvents(1))
	mustOK(t, err)
	// A round trip through the store orders after any delivery of the last
	// update; nothing may arrive after cancel.
	s.Load(ctx(t), st.ID)
	mu.Lock()
	defer mu.Unlock()
	if fmt.Sprint(got) != "[1 2 3]" {
		t.Fatalf("delivered %v", got)
	}
}

// waitSubscribed makes sure an asynchronous subscription (a broker
// round-trip) is live: it sends probe-free updates until one is delivered.
// For a synchronous store it returns at once.
func waitSubscribed(t *testing.T, s room.Store, st *room.State) {
	t.Helper()
	if w, ok := s.(interface {
		WaitSubscribed(ctx context.Context, id string) error
	}); ok {
		mustOK(t, w.WaitSubscribed(ctx(t), st.ID))
	}
}

func testDelete(t *testing.T, s room.Store, _ Config) {
	st := newState()
	mustOK(t, s.Create(ctx(t), st))
	_, _, err := s.Update(ctx(t), st.ID, appendEvents(3))
	mustOK(t, err)
	mustOK(t, s.Delete(ctx(t), st.ID))
	if _, err := s.Load(ctx(t), st.ID); !errors.Is(err, room.ErrNotFound) {
		t.Fatalf("load after delete: %v", err)
	}
	if _, _, err := s.Since(ctx(t), st.ID, st.Epoch, 0); !errors.Is(err, room.ErrNotFound) {
		t.Fatalf("since after delete: %v", err)
	}
}

// testLogWithoutReveal: subscribers get revealed tokens, the log never keeps
// them (room.ForLog).
func testLogWithoutReveal(t *testing.T, s room.Store, _ Config) {
	st := newState()
	mustOK(t, s.Create(ctx(t), st))
	got := make(chan protocol.Event, 4)
	cancel := s.Subscribe(st.ID, func(ev protocol.Event) { got <- ev })
	defer cancel()
	waitSubscribed(t, s, st)
	_, _, err := s.Update(ctx(t), st.ID, func(st *room.State) ([]protocol.Event, error) {
		st.Offset++
		return []protocol.Event{{V: protocol.Version, Type: protocol.TypeEvent, Epoch: st.Epoch, Offset: st.Offset,
			Kind: protocol.KindRoundRevealed, Round: "r", Reveal: []string{"T1", "T2"}, Rev: 1}}, nil
	})
	mustOK(t, err)
	select {
	case ev := <-got:
		if len(ev.Reveal) != 2 {
			t.Fatalf("subscriber got %v", ev.Reveal)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("event not delivered")
	}
	evs, complete, err := s.Since(ctx(t), st.ID, st.Epoch, 0)
	mustOK(t, err)
	if !complete || len(evs) != 1 || evs[0].Reveal != nil || evs[0].Rev != 1 {
		t.Fatalf("logged %+v", evs)
	}
}
