// Package storetest is the conformance suite every room.Store must pass. The
// memory store and the Redis store run the very same tests, so the room logic
// can rely on one behaviour whichever store is configured.
package storetest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"reflect"
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
	// room, and the feed of its live events. It is called once per subtest.
	New     func(t *testing.T) (room.Store, Feed)
	LogSize int

	feed Feed // the subtest's
}

// Feed hands out a store's events live (edge.Feed, which this package does
// not import).
type Feed interface {
	Subscribe(id string, deliver func(protocol.Event)) (cancel func())
}

// Run runs the suite.
func Run(t *testing.T, cfg Config) {
	tests := map[string]func(*testing.T, room.Store, Config){
		"create and load":                testCreateLoad,
		"missing room":                   testMissing,
		"update commits atomically":      testUpdate,
		"refused update saves nothing":   testRefused,
		"unchanged saves nothing":        testUnchanged,
		"since":                          testSince,
		"log keeps the newest":           testLogRetention,
		"concurrent updates":             testConcurrent,
		"subscribe":                      testSubscribe,
		"delete":                         testDelete,
		"log keeps no reveal":            testLogWithoutReveal,
		"receipts":                       testReceipts,
		"receipt checks the log":         testReceiptChecksLog,
		"move":                           testMove,
		"move code expires":              testMoveExpires,
		"move repeated by its device":    testMoveRepeat,
		"racing moves":                   testMoveRace,
		"invite cancel":                  testInviteCancel,
		"erase takes move codes":         testMoveErase,
		"replace a lost phone":           testReplace,
		"replace needs the partner":      testReplaceNeedsPartner,
		"replace repeated by its device": testReplaceRepeat,
		"racing replaces":                testReplaceRace,
		"erase after a replacement":      testReplaceErase,
		"ping":                           func(t *testing.T, s room.Store, _ Config) { mustOK(t, s.Ping(ctx(t))) },
	}
	for name, fn := range tests {
		t.Run(name, func(t *testing.T) {
			c := cfg
			var s room.Store
			s, c.feed = cfg.New(t)
			fn(t, s, c)
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
	st.Round = &room.Round{ID: uuid.NewString(), By: 1, Tokens: [2]string{"tokens", ""}}
	st.Settings = &protocol.Sealed{Seat: 2, Blob: "blob"}
	mustOK(t, s.Create(ctx(t), st))
	got, err := s.Load(ctx(t), st.ID)
	mustOK(t, err)
	if got.ID != st.ID || got.Epoch != st.Epoch || !reflect.DeepEqual(got.Seats, st.Seats) || got.Round == nil ||
		got.Round.Tokens != st.Round.Tokens || got.Settings.Blob != "blob" || got.Version != 0 {
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

func testSubscribe(t *testing.T, s room.Store, cfg Config) {
	st := newState()
	var mu sync.Mutex
	var got []uint64
	signal := make(chan struct{}, 100)
	// Subscribing before the room exists works.
	cancel := cfg.feed.Subscribe(st.ID, func(ev protocol.Event) {
		mu.Lock()
		got = append(got, ev.Offset)
		mu.Unlock()
		signal <- struct{}{}
	})
	mustOK(t, s.Create(ctx(t), st))
	waitSubscribed(t, cfg.feed, st)
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
// round-trip) is live. For a synchronous feed it returns at once.
func waitSubscribed(t *testing.T, f Feed, st *room.State) {
	t.Helper()
	if w, ok := f.(interface {
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
func testLogWithoutReveal(t *testing.T, s room.Store, cfg Config) {
	st := newState()
	mustOK(t, s.Create(ctx(t), st))
	got := make(chan protocol.Event, 4)
	cancel := cfg.feed.Subscribe(st.ID, func(ev protocol.Event) { got <- ev })
	defer cancel()
	waitSubscribed(t, cfg.feed, st)
	_, _, err := s.Update(ctx(t), st.ID, func(st *room.State) ([]protocol.Event, error) {
		st.Offset++
		return []protocol.Event{{V: protocol.Version, Type: protocol.TypeEvent, Epoch: st.Epoch, Offset: st.Offset,
			Kind: protocol.KindRoundRevealed, Round: "r", Reveal: "T1T2", Rev: 1}}, nil
	})
	mustOK(t, err)
	select {
	case ev := <-got:
		if ev.Reveal != "T1T2" {
			t.Fatalf("subscriber got %v", ev.Reveal)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("event not delivered")
	}
	evs, complete, err := s.Since(ctx(t), st.ID, st.Epoch, 0)
	mustOK(t, err)
	if !complete || len(evs) != 1 || evs[0].Reveal != "" || evs[0].Rev != 1 {
		t.Fatalf("logged %+v", evs)
	}
}

// pair opens a room through the room logic over s and returns the Service
// and both seats' members.
func pair(t *testing.T, s room.Store) (*room.Service, room.Member, room.Member) {
	t.Helper()
	rooms := room.New(room.Options{Store: s})
	key := make([]byte, 32)
	key[0] = 7
	sum := sha256.Sum256(key)
	a, err := rooms.Create(ctx(t), base64.RawURLEncoding.EncodeToString(sum[:]))
	mustOK(t, err)
	b, err := rooms.Join(ctx(t), a.Member.Room, base64.RawURLEncoding.EncodeToString(key), "")
	mustOK(t, err)
	// Seat 1 confirms the pairing (offset 1), worth its receipt (offset 2).
	off, err := rooms.Seen(ctx(t), a.Member, 1)
	mustOK(t, err)
	if evs := logged(t, s, a.Member.Room, 0); off != 2 || len(evs) != 2 || evs[1].Kind != protocol.KindDelivered || evs[1].Seat != 1 || evs[1].Seen != 1 {
		t.Fatalf("the pairing's receipt: %+v", evs)
	}
	return rooms, a.Member, b.Member
}

// logged returns the events logged after offset.
func logged(t *testing.T, s room.Store, id string, after uint64) []protocol.Event {
	t.Helper()
	st, err := s.Load(ctx(t), id)
	mustOK(t, err)
	evs, complete, err := s.Since(ctx(t), id, st.Epoch, after)
	mustOK(t, err)
	if !complete {
		t.Fatalf("log incomplete after %d", after)
	}
	return evs
}

// testReceipts: a seat's receipt that passes an event worth confirming logs
// one delivered event; receipts of receipts, of the seat's own events,
// repeated or lowered receipts log nothing; the state keeps each seat's
// confirmed offset through the store, and the snapshot shows it.
func testReceipts(t *testing.T, s room.Store, _ Config) {
	rooms, a, b := pair(t, s)
	paused, err := rooms.Pause(ctx(t), a) // worth seat 2's receipt
	mustOK(t, err)

	// Seat 2 confirms beyond the room's offset: clamped to it.
	off, err := rooms.Seen(ctx(t), b, paused+100)
	mustOK(t, err)
	evs := logged(t, s, a.Room, paused)
	if len(evs) != 1 || evs[0].Kind != protocol.KindDelivered || evs[0].Seat != 2 || evs[0].Seen != paused || off != paused+1 {
		t.Fatalf("after seat 2's receipt: %+v, offset %d", evs, off)
	}
	delivered := evs[0].Offset

	// Seat 1 confirms up to and including the receipt: the pause is its
	// own, the receipt a receipt: nothing worth a receipt, nothing logged,
	// but its confirmed offset moves.
	off, err = rooms.Seen(ctx(t), a, delivered)
	mustOK(t, err)
	// Repeated and lowered receipts change nothing at all.
	for _, again := range []struct {
		m   room.Member
		off uint64
	}{{b, paused}, {b, paused - 1}, {a, delivered}, {a, 0}} {
		st0, _ := s.Load(ctx(t), a.Room)
		_, err := rooms.Seen(ctx(t), again.m, again.off)
		mustOK(t, err)
		st1, _ := s.Load(ctx(t), a.Room)
		if st1.Version != st0.Version {
			t.Fatalf("seat %d's receipt of %d was saved again", again.m.Seat, again.off)
		}
	}
	if evs := logged(t, s, a.Room, delivered); len(evs) != 0 || off != delivered {
		t.Fatalf("a receipt of a receipt logged %+v", evs)
	}
	st, err := s.Load(ctx(t), a.Room)
	mustOK(t, err)
	if got := st.Snapshot().Seen; got != [2]uint64{delivered, paused} {
		t.Fatalf("snapshot seen %v, want [%d %d]", got, delivered, paused)
	}

	// Seat 2 confirms seat 1's receipt alone: nothing.
	_, err = rooms.Seen(ctx(t), b, delivered)
	mustOK(t, err)
	if evs := logged(t, s, a.Room, delivered); len(evs) != 0 {
		t.Fatalf("seat 2's receipt of a receipt logged %+v", evs)
	}

	// The partner's unpause is worth seat 2's receipt again.
	unpaused, err := rooms.Unpause(ctx(t), a)
	mustOK(t, err)
	_, err = rooms.Seen(ctx(t), b, unpaused)
	mustOK(t, err)
	if evs := logged(t, s, a.Room, unpaused); len(evs) != 1 || evs[0].Kind != protocol.KindDelivered || evs[0].Seen != unpaused {
		t.Fatalf("after the unpause's receipt: %+v", evs)
	}
	// A replaced connection cannot confirm for its seat.
	if _, err := rooms.Seen(ctx(t), room.Member{Room: b.Room, Seat: 2, Gen: b.Gen + 1}, unpaused); !errors.Is(err, room.ErrReplaced) {
		t.Fatalf("a stale member's receipt: %v", err)
	}
}

// testReceiptChecksLog: a receipt that stops short of the newest event worth
// one is judged by the log: over only receipts and the seat's own events it
// logs nothing, over an earlier worthy event it logs delivered.
func testReceiptChecksLog(t *testing.T, s room.Store, _ Config) {
	rooms, a, b := pair(t, s)
	p1, err := rooms.Pause(ctx(t), a)
	mustOK(t, err)
	d1, err := rooms.Seen(ctx(t), b, p1) // logs delivered at d1
	mustOK(t, err)
	own, err := rooms.Pause(ctx(t), b) // seat 2's own
	mustOK(t, err)
	un, err := rooms.Unpause(ctx(t), a) // worth seat 2's receipt, the newest
	mustOK(t, err)
	if d1 != p1+1 || own != d1+1 || un != own+1 {
		t.Fatalf("offsets %d %d %d %d", p1, d1, own, un)
	}
	// Seat 2 confirms (p1, own]: a receipt and its own pause, nothing
	// worth a receipt, though a worthy event follows.
	_, err = rooms.Seen(ctx(t), b, own)
	mustOK(t, err)
	if evs := logged(t, s, a.Room, un); len(evs) != 0 {
		t.Fatalf("a receipt over nothing worth one logged %+v", evs)
	}

	// Seat 1 last confirmed the pairing. Seat 2 lifts its pause: the
	// newest event worth seat 1's receipt. Seat 1 confirms up to seat 2's
	// pause, an earlier one: delivered.
	un2, err := rooms.Unpause(ctx(t), b)
	mustOK(t, err)
	_, err = rooms.Seen(ctx(t), a, own)
	mustOK(t, err)
	if evs := logged(t, s, a.Room, un2); len(evs) != 1 || evs[0].Kind != protocol.KindDelivered || evs[0].Seat != 1 || evs[0].Seen != own {
		t.Fatalf("seat 1's receipt of seat 2's pause: %+v", evs)
	}
}
