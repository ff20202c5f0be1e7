package room_test

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"slices"
	"sync"
	"testing"

	"softland/server/memstore"
	"softland/server/protocol"
	"softland/server/room"
)

// paired opens a room on a memory store and pairs it, and returns the
// service, both admissions and a function that reads a seat's presence and
// the room's offset.
func paired(t *testing.T) (*room.Service, *room.Admission, *room.Admission, func(seat int) (string, uint64)) {
	t.Helper()
	ctx := context.Background()
	store := memstore.New(memstore.Options{})
	t.Cleanup(func() { store.Close() })
	rooms := room.New(room.Options{Store: store})
	key := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	sum := sha256.Sum256(make([]byte, 32))
	a, err := rooms.Create(ctx, base64.RawURLEncoding.EncodeToString(sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	b, err := rooms.Join(ctx, a.Member.Room, key, "")
	if err != nil {
		t.Fatal(err)
	}
	presence := func(seat int) (string, uint64) {
		st, err := store.Load(ctx, a.Member.Room)
		if err != nil {
			t.Fatal(err)
		}
		return st.Seats[seat-1].Presence, st.Offset
	}
	return rooms, a, b, presence
}

// TestOrphaned: a seat whose instance died is marked reconnecting once, and
// only while the connection the dead instance held is still the seat's
// newest and online.
func TestOrphaned(t *testing.T) {
	ctx := context.Background()
	rooms, a, b, presence := paired(t)

	if err := rooms.Orphaned(ctx, b.Member); err != nil {
		t.Fatal(err)
	}
	p, off := presence(2)
	if p != protocol.PresenceReconnecting {
		t.Fatalf("seat 2 is %s", p)
	}
	if err := rooms.Orphaned(ctx, b.Member); err != nil {
		t.Fatal(err)
	}
	if _, again := presence(2); again != off {
		t.Fatal("a second Orphaned logged another event")
	}

	// Seat 1 moved to a newer connection before its old instance was found
	// dead: nothing changes.
	a2, err := rooms.Resume(ctx, a.Member.Room, a.Welcome.Device, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := rooms.Orphaned(ctx, a.Member); err != nil {
		t.Fatal(err)
	}
	if p, _ := presence(1); p != protocol.PresenceOnline || a2.Member.Gen == a.Member.Gen {
		t.Fatalf("seat 1 is %s after an old connection was orphaned", p)
	}

	// Seat 2's instance was only stalled: Revived brings it back online,
	// once; a revival for seat 1's old connection changes nothing.
	if err := rooms.Revived(ctx, b.Member); err != nil {
		t.Fatal(err)
	}
	p, off = presence(2)
	if p != protocol.PresenceOnline {
		t.Fatalf("seat 2 is %s after Revived", p)
	}
	if err := rooms.Revived(ctx, b.Member); err != nil {
		t.Fatal(err)
	}
	if _, again := presence(2); again != off {
		t.Fatal("a second Revived logged another event")
	}
	_, off = presence(1)
	if err := rooms.Revived(ctx, a.Member); err != nil {
		t.Fatal(err)
	}
	if _, again := presence(1); again != off {
		t.Fatal("reviving a replaced connection logged an event")
	}
}

// TestLiveness: only the seat's newest connection moves it between online
// and unreachable, each step logs one event, and a seat that left or whose
// instance died is not brought back by a late liveness call.
func TestLiveness(t *testing.T) {
	ctx := context.Background()
	rooms, a, b, presence := paired(t)
	step := func(m room.Member, alive bool, want string, events uint64) {
		t.Helper()
		_, before := presence(m.Seat)
		if err := rooms.Liveness(ctx, m, alive); err != nil {
			t.Fatal(err)
		}
		p, after := presence(m.Seat)
		if p != want || after-before != events {
			t.Fatalf("Liveness(seat %d, %v): %s with %d events, want %s with %d", m.Seat, alive, p, after-before, want, events)
		}
	}

	step(b.Member, true, protocol.PresenceOnline, 0) // online already
	step(b.Member, false, protocol.PresenceUnreachable, 1)
	step(b.Member, false, protocol.PresenceUnreachable, 0)
	step(b.Member, true, protocol.PresenceOnline, 1)

	// An unreachable seat whose instance died is reconnecting, and stays so.
	step(b.Member, false, protocol.PresenceUnreachable, 1)
	if err := rooms.Orphaned(ctx, b.Member); err != nil {
		t.Fatal(err)
	}
	step(b.Member, true, protocol.PresenceReconnecting, 0)

	// Seat 1 resumed on a newer connection: the old one's silence and
	// messages change nothing.
	a2, err := rooms.Resume(ctx, a.Member.Room, a.Welcome.Device, "", 0)
	if err != nil {
		t.Fatal(err)
	}
	step(a.Member, false, protocol.PresenceOnline, 0)
	step(a2.Member, false, protocol.PresenceUnreachable, 1)
	step(a.Member, true, protocol.PresenceUnreachable, 0)
	if err := rooms.Leave(ctx, a2.Member, protocol.PresenceAway); err != nil {
		t.Fatal(err)
	}
	step(a2.Member, true, protocol.PresenceAway, 0)
}

// seatLog records what a Service tells its seat holder.
type seatLog struct {
	mu  sync.Mutex
	log []string
}

func (l *seatLog) Hold(_ context.Context, m room.Member) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.log = append(l.log, fmt.Sprintf("hold %d/%d", m.Seat, m.Gen))
}

func (l *seatLog) Release(_ context.Context, m room.Member) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.log = append(l.log, fmt.Sprintf("release %d/%d", m.Seat, m.Gen))
}

// TestSeatsHeld: the seat holder given in Options.Seats hears of every
// connection this instance admits, and of its end.
func TestSeatsHeld(t *testing.T) {
	ctx := context.Background()
	store := memstore.New(memstore.Options{})
	t.Cleanup(func() { store.Close() })
	seats := &seatLog{}
	rooms := room.New(room.Options{Store: store, Seats: seats})
	key := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	sum := sha256.Sum256(make([]byte, 32))
	a, err := rooms.Create(ctx, base64.RawURLEncoding.EncodeToString(sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	b, err := rooms.Join(ctx, a.Member.Room, key, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := rooms.Leave(ctx, b.Member, protocol.PresenceAway); err != nil {
		t.Fatal(err)
	}
	want := []string{
		fmt.Sprintf("hold 1/%d", a.Member.Gen),
		fmt.Sprintf("hold 2/%d", b.Member.Gen),
		fmt.Sprintf("release 2/%d", b.Member.Gen),
	}
	seats.mu.Lock()
	defer seats.mu.Unlock()
	if !slices.Equal(seats.log, want) {
		t.Fatalf("seat holder heard %v, want %v", seats.log, want)
	}
}
