package storetest

import (
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"softland/server/protocol"
	"softland/server/room"
)

// clock is a test clock the room logic reads; tests move it by hand.
type clock struct{ ms atomic.Int64 }

func (c *clock) now() time.Time      { return time.UnixMilli(c.ms.Load()) }
func (c *clock) add(d time.Duration) { c.ms.Add(d.Milliseconds()) }
func newClock() *clock               { c := &clock{}; c.ms.Store(1_700_000_000_000); return c }
func key(b byte) string {
	k := make([]byte, 32)
	k[0] = b
	return base64.RawURLEncoding.EncodeToString(k)
}
func hashOf(k string) string {
	b, _ := base64.RawURLEncoding.DecodeString(k)
	s := sha256.Sum256(b)
	return base64.RawURLEncoding.EncodeToString(s[:])
}
func isErr(err error, want *room.Error) bool { return errors.Is(err, want) }

// paired opens a paired room over s with a test clock and returns both
// admissions (with their device tokens).
func paired(t *testing.T, s room.Store) (*room.Service, *clock, *room.Admission, *room.Admission) {
	t.Helper()
	c := newClock()
	rooms := room.New(room.Options{Store: s, Now: c.now})
	a, err := rooms.Create(ctx(t), hashOf(key(7)))
	mustOK(t, err)
	b, err := rooms.Join(ctx(t), a.Member.Room, key(7), "")
	mustOK(t, err)
	return rooms, c, a, b
}

func offset(t *testing.T, s room.Store, id string) uint64 {
	t.Helper()
	st, err := s.Load(ctx(t), id)
	mustOK(t, err)
	return st.Offset
}

// testMove: a move code takes its seat once. The new device gets a new
// token and a snapshot, both seats' logs say moved, the old connection is
// replaced, the old token is refused as revoked, the old device's push
// subscription is gone, the partner is untouched, and the spent code (or a
// wrong one) gets a third party nothing at all.
func testMove(t *testing.T, s room.Store, _ Config) {
	rooms, _, a, b := paired(t, s)
	id := a.Member.Room
	// The old device's push subscription, as push.subscribe would keep it.
	_, _, err := s.Update(ctx(t), id, func(st *room.State) ([]protocol.Event, error) {
		st.Seats[0].Push = &room.PushSub{Endpoint: "https://push.example/x", P256dh: "p", Auth: "a"}
		return nil, nil
	})
	mustOK(t, err)
	mc, err := rooms.MoveCreate(ctx(t), a.Member)
	mustOK(t, err)
	if !protocol.IsKey(mc.Code) || mc.ExpiresAt <= 0 || mc.Offset != offset(t, s, id) {
		t.Fatalf("move code %+v", mc)
	}
	st, err := s.Load(ctx(t), id)
	mustOK(t, err)
	if st.Seats[0].MoveHash != hashOf(mc.Code) {
		t.Fatal("the store does not hold the code's hash")
	}

	before := offset(t, s, id)
	if _, err := rooms.MoveTake(ctx(t), id, key(9), ""); !isErr(err, room.ErrMoveInvalid) {
		t.Fatalf("a wrong code: %v", err)
	}
	n, err := rooms.MoveTake(ctx(t), id, mc.Code, "")
	mustOK(t, err)
	if n.Member.Seat != 1 || n.Member.Gen <= a.Member.Gen || !protocol.IsKey(n.Welcome.Device) ||
		n.Welcome.Device == a.Welcome.Device || n.Welcome.Snapshot == nil || !n.Welcome.Snapshot.Paired || n.Welcome.Seat != 1 {
		t.Fatalf("move admission %+v, welcome %+v", n.Member, n.Welcome)
	}
	evs := logged(t, s, id, before)
	if len(evs) != 1 || evs[0].Kind != protocol.KindMoved || evs[0].Seat != 1 || n.Welcome.Offset != evs[0].Offset {
		t.Fatalf("logged %+v, welcome offset %d", evs, n.Welcome.Offset)
	}
	st, err = s.Load(ctx(t), id)
	mustOK(t, err)
	if se := st.Seats[0]; se.MoveHash != "" || se.Push != nil || se.DeviceHash != hashOf(n.Welcome.Device) {
		t.Fatalf("seat after the move: %+v", se)
	}

	// The old connection and the old token are out.
	if _, err := rooms.Pause(ctx(t), a.Member); !isErr(err, room.ErrMovedAway) {
		t.Fatalf("the old connection acted: %v", err)
	}
	if _, err := rooms.Resume(ctx(t), id, a.Welcome.Device, "", 0); !isErr(err, room.ErrDeviceRevoked) {
		t.Fatalf("resume with the old token: %v", err)
	}
	// A third party with the spent code, with or without a nonce: nothing.
	at := offset(t, s, id)
	for _, nonce := range []string{"", key(3)} {
		if _, err := rooms.MoveTake(ctx(t), id, mc.Code, nonce); !isErr(err, room.ErrMoveInvalid) {
			t.Fatalf("the spent code again (nonce %q): %v", nonce, err)
		}
	}
	if got := offset(t, s, id); got != at {
		t.Fatalf("refused moves logged events: offset %d, was %d", got, at)
	}
	// The new device resumes with its token; the partner acts as before.
	r, err := rooms.Resume(ctx(t), id, n.Welcome.Device, "", 0)
	mustOK(t, err)
	if r.Member.Seat != 1 {
		t.Fatalf("resumed seat %d", r.Member.Seat)
	}
	_, err = rooms.Pause(ctx(t), b.Member)
	mustOK(t, err)
	// Seat 2 can move too, and its old token is then revoked as well.
	mc2, err := rooms.MoveCreate(ctx(t), b.Member)
	mustOK(t, err)
	n2, err := rooms.MoveTake(ctx(t), id, mc2.Code, "")
	mustOK(t, err)
	if n2.Member.Seat != 2 {
		t.Fatalf("seat 2's move took seat %d", n2.Member.Seat)
	}
	if _, err := rooms.Resume(ctx(t), id, b.Welcome.Device, "", 0); !isErr(err, room.ErrDeviceRevoked) {
		t.Fatalf("seat 2's old token: %v", err)
	}
	if _, err := rooms.Resume(ctx(t), id, key(5), "", 0); !isErr(err, room.ErrForbidden) {
		t.Fatalf("a token that never was: %v", err)
	}
}

// testMoveExpires: a code stops working at its expiry; a new code replaces
// the pending one; a cancelled code is gone.
func testMoveExpires(t *testing.T, s room.Store, _ Config) {
	rooms, c, a, _ := paired(t, s)
	id := a.Member.Room
	mc, err := rooms.MoveCreate(ctx(t), a.Member)
	mustOK(t, err)
	if want := c.now().Add(room.DefaultMoveTTL).UnixMilli(); mc.ExpiresAt != want {
		t.Fatalf("expires at %d, want %d", mc.ExpiresAt, want)
	}
	c.add(room.DefaultMoveTTL)
	if _, err := rooms.MoveTake(ctx(t), id, mc.Code, ""); !isErr(err, room.ErrMoveExpired) {
		t.Fatalf("an expired code: %v", err)
	}
	old, err := rooms.MoveCreate(ctx(t), a.Member)
	mustOK(t, err)
	fresh, err := rooms.MoveCreate(ctx(t), a.Member)
	mustOK(t, err)
	if _, err := rooms.MoveTake(ctx(t), id, old.Code, ""); !isErr(err, room.ErrMoveInvalid) {
		t.Fatalf("a replaced code: %v", err)
	}
	_, err = rooms.MoveCancel(ctx(t), a.Member)
	mustOK(t, err)
	if _, err := rooms.MoveTake(ctx(t), id, fresh.Code, ""); !isErr(err, room.ErrMoveInvalid) {
		t.Fatalf("a cancelled code: %v", err)
	}
	// Cancelling none is not an error, and the seat still works.
	_, err = rooms.MoveCancel(ctx(t), a.Member)
	mustOK(t, err)
	_, err = rooms.Pause(ctx(t), a.Member)
	mustOK(t, err)
}

// testMoveRepeat: the device that took the seat may repeat the move (its
// welcome was lost) with the same nonce, until it acts; nobody else may.
func testMoveRepeat(t *testing.T, s room.Store, _ Config) {
	rooms, _, a, _ := paired(t, s)
	id := a.Member.Room
	mc, err := rooms.MoveCreate(ctx(t), a.Member)
	mustOK(t, err)
	first, err := rooms.MoveTake(ctx(t), id, mc.Code, key(1))
	mustOK(t, err)
	at := offset(t, s, id)
	if _, err := rooms.MoveTake(ctx(t), id, mc.Code, key(2)); !isErr(err, room.ErrMoveInvalid) {
		t.Fatalf("another nonce: %v", err)
	}
	again, err := rooms.MoveTake(ctx(t), id, mc.Code, key(1))
	mustOK(t, err)
	if again.Member.Seat != 1 || again.Member.Gen <= first.Member.Gen || again.Welcome.Device == first.Welcome.Device {
		t.Fatalf("repeat %+v after %+v", again.Member, first.Member)
	}
	for _, ev := range logged(t, s, id, at) {
		if ev.Kind == protocol.KindMoved {
			t.Fatalf("a repeated move logged moved again")
		}
	}
	if _, err := rooms.Resume(ctx(t), id, first.Welcome.Device, "", 0); err == nil {
		t.Fatal("the first attempt's token still works")
	}
	_, err = rooms.Pause(ctx(t), again.Member) // the seat acts: no more repeats
	mustOK(t, err)
	if _, err := rooms.MoveTake(ctx(t), id, mc.Code, key(1)); !isErr(err, room.ErrMoveInvalid) {
		t.Fatalf("a repeat after the seat acted: %v", err)
	}
}

// testMoveRace: devices racing with one code yield exactly one new device.
func testMoveRace(t *testing.T, s room.Store, _ Config) {
	rooms, _, a, _ := paired(t, s)
	id := a.Member.Room
	mc, err := rooms.MoveCreate(ctx(t), a.Member)
	mustOK(t, err)
	at := offset(t, s, id)
	won := race(t, 6, room.ErrMoveInvalid, func(i int) (*room.Admission, error) {
		return rooms.MoveTake(ctx(t), id, mc.Code, key(byte(100+i)))
	})
	moved := countKind(logged(t, s, id, at), protocol.KindMoved)
	st, err := s.Load(ctx(t), id)
	mustOK(t, err)
	if moved != 1 || st.Seats[0].DeviceHash != hashOf(won.Welcome.Device) {
		t.Fatalf("%d moved events; the seat's token is the winner's: %v", moved, st.Seats[0].DeviceHash == hashOf(won.Welcome.Device))
	}
}

// testInviteCancel: seat 1 revokes the unused pairing link; the link then
// seats nobody and says why. Once paired there is no link to revoke.
func testInviteCancel(t *testing.T, s room.Store, _ Config) {
	rooms := room.New(room.Options{Store: s})
	a, err := rooms.Create(ctx(t), hashOf(key(7)))
	mustOK(t, err)
	_, err = rooms.InviteCancel(ctx(t), a.Member)
	mustOK(t, err)
	_, err = rooms.InviteCancel(ctx(t), a.Member) // twice is once
	mustOK(t, err)
	st, err := s.Load(ctx(t), a.Member.Room)
	mustOK(t, err)
	if st.JoinKeyHash != "" || st.Seats[1].Taken {
		t.Fatalf("after the cancel: join key hash kept %v, seat 2 taken %v", st.JoinKeyHash != "", st.Seats[1].Taken)
	}
	for _, k := range []string{key(7), key(8)} {
		if _, err := rooms.Join(ctx(t), a.Member.Room, k, ""); !isErr(err, room.ErrInviteRevoked) {
			t.Fatalf("join after the cancel: %v", err)
		}
	}
	_, err = rooms.Pause(ctx(t), a.Member) // the room itself still works for seat 1
	mustOK(t, err)

	rooms2, _, a2, b2 := paired(t, s)
	for _, m := range []room.Member{a2.Member, b2.Member} {
		if _, err := rooms2.InviteCancel(ctx(t), m); !isErr(err, room.ErrNoInvite) {
			t.Fatalf("cancel once paired (seat %d): %v", m.Seat, err)
		}
	}
}

// testMoveErase: erasing takes pending move codes with the room; a code
// for an erased room finds nothing.
func testMoveErase(t *testing.T, s room.Store, _ Config) {
	rooms, _, a, _ := paired(t, s)
	id := a.Member.Room
	mc, err := rooms.MoveCreate(ctx(t), a.Member)
	mustOK(t, err)
	mustOK(t, rooms.Erase(ctx(t), a.Member))
	if _, err := s.Load(ctx(t), id); !isErr(err, room.ErrNotFound) {
		t.Fatalf("load after erase: %v", err)
	}
	if _, err := rooms.MoveTake(ctx(t), id, mc.Code, ""); !isErr(err, room.ErrNotFound) {
		t.Fatalf("move into an erased room: %v", err)
	}
}

// race runs n takes of one seat at once and returns the one that won; every
// other must fail with loser.
func race(t *testing.T, n int, loser *room.Error, take func(i int) (*room.Admission, error)) *room.Admission {
	t.Helper()
	var (
		wg   sync.WaitGroup
		mu   sync.Mutex
		won  []*room.Admission
		errs []error
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			adm, err := take(i)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, err)
				return
			}
			won = append(won, adm)
		}()
	}
	wg.Wait()
	if len(won) != 1 {
		t.Fatalf("%d devices took the seat", len(won))
	}
	for _, err := range errs {
		if !isErr(err, loser) {
			t.Fatalf("a losing take: %v, want %v", err, loser)
		}
	}
	return won[0]
}

// countKind counts the events of one kind.
func countKind(evs []protocol.Event, kind string) int {
	n := 0
	for _, ev := range evs {
		if ev.Kind == kind {
			n++
		}
	}
	return n
}
