package storetest

import (
	"testing"

	"softland/server/protocol"
	"softland/server/room"
)

// newKey is the join key of the new room secret in these tests (key(42));
// the test does not need the secret itself, only its join key.
var newKey = key(42)

// replaced opens a paired room whose seat 2 ("Sam") has lost its phone,
// with a round open, settings and an announcement sealed under the old
// secret and a push subscription on seat 2. Seat 1 ("Alex") then makes a
// re-pair code for seat 2.
func replaced(t *testing.T, s room.Store) (rooms *room.Service, c *clock, a, b *room.Admission, code string) {
	t.Helper()
	rooms, c, a, b = paired(t, s)
	_, _, err := rooms.OpenRound(ctx(t), a.Member)
	mustOK(t, err)
	_, err = rooms.SetSettings(ctx(t), a.Member, "old-settings")
	mustOK(t, err)
	_, err = rooms.Announce(ctx(t), b.Member, "old-announce")
	mustOK(t, err)
	_, _, err = s.Update(ctx(t), a.Member.Room, func(st *room.State) ([]protocol.Event, error) {
		st.Seats[1].Push = &room.PushSub{Endpoint: "https://push.example/x", P256dh: "p", Auth: "a"}
		return nil, nil
	})
	mustOK(t, err)
	rc, err := rooms.ReplaceCreate(ctx(t), a.Member, hashOf(newKey))
	mustOK(t, err)
	if !protocol.IsKey(rc.Code) || rc.ExpiresAt != c.now().Add(room.DefaultMoveTTL).UnixMilli() || rc.Offset != offset(t, s, a.Member.Room) {
		t.Fatalf("re-pair code %+v", rc)
	}
	return rooms, c, a, b, rc.Code
}

// testReplace: the re-pair code made by the remaining seat gives the OTHER
// seat to a new device holding the new secret's join key, once. The lost
// device is out at once (its connection, its token, its push subscription),
// the key epoch goes up, everything sealed under the old secret and the
// open round are gone, and every pending code of the room is spent. The
// remaining seat goes on and re-seals the settings.
func testReplace(t *testing.T, s room.Store, _ Config) {
	rooms, _, a, b, code := replaced(t, s)
	id := a.Member.Room
	st, err := s.Load(ctx(t), id)
	mustOK(t, err)
	if se := st.Seats[1]; se.ReplaceHash != hashOf(code) || se.ReplaceKeyHash != hashOf(newKey) || st.Seats[0].ReplaceHash != "" {
		t.Fatal("the store does not hold the code's hash on the other seat")
	}
	// Pending codes that the replacement must spend.
	moveA, err := rooms.MoveCreate(ctx(t), a.Member)
	mustOK(t, err)
	moveB, err := rooms.MoveCreate(ctx(t), b.Member) // the thief moving the stolen seat
	mustOK(t, err)
	thief, err := rooms.ReplaceCreate(ctx(t), b.Member, hashOf(key(44))) // and replacing Alex
	mustOK(t, err)

	before := offset(t, s, id)
	for _, bad := range [][2]string{{key(9), newKey}, {code, key(43)}} {
		if _, err := rooms.ReplaceTake(ctx(t), id, bad[0], bad[1], key(1)); !isErr(err, room.ErrReplaceInvalid) {
			t.Fatalf("a wrong code or join key: %v", err)
		}
	}
	n, err := rooms.ReplaceTake(ctx(t), id, code, newKey, key(1))
	mustOK(t, err)
	w := n.Welcome
	if n.Member.Seat != 2 || w.Seat != 2 || !protocol.IsKey(w.Device) || w.Device == b.Welcome.Device || w.KeyEpoch != 1 ||
		w.Snapshot == nil || w.Snapshot.KeyEpoch != 1 || !w.Snapshot.Paired || w.Snapshot.Settings != nil ||
		w.Snapshot.Announce != [2]*protocol.Sealed{} || w.Snapshot.Round != nil || len(w.Snapshot.Debriefs) != 0 {
		t.Fatalf("replace admission %+v, welcome %+v, snapshot %+v", n.Member, w, w.Snapshot)
	}
	evs := logged(t, s, id, before)
	if len(evs) != 2 || evs[0].Kind != protocol.KindRoundClosed || evs[0].Reason != protocol.ReasonRekeyed ||
		evs[1].Kind != protocol.KindReplaced || evs[1].Seat != 2 || evs[1].KeyEpoch != 1 || evs[1].Nonce != key(1) ||
		evs[1].KeyHash != hashOf(newKey) || w.Offset != evs[1].Offset {
		t.Fatalf("logged %+v, welcome offset %d", evs, w.Offset)
	}
	st, err = s.Load(ctx(t), id)
	mustOK(t, err)
	for i, se := range st.Seats {
		if se.MoveHash != "" || se.ReplaceHash != "" {
			t.Fatalf("seat %d keeps a pending code after the replacement", i+1)
		}
	}
	if se := st.Seats[1]; se.Push != nil || se.DeviceHash != hashOf(w.Device) || st.KeyEpoch != 1 {
		t.Fatalf("seat 2 after the replacement: %+v, key epoch %d", se, st.KeyEpoch)
	}

	// The lost device is out: its connection, its token, its move code,
	// its re-pair code for seat 1.
	if _, err := rooms.Pause(ctx(t), b.Member); !isErr(err, room.ErrMovedAway) {
		t.Fatalf("the lost device's connection acted: %v", err)
	}
	if _, err := rooms.Resume(ctx(t), id, b.Welcome.Device, "", 0); !isErr(err, room.ErrDeviceRevoked) {
		t.Fatalf("resume with the lost device's token: %v", err)
	}
	at := offset(t, s, id)
	if _, err := rooms.MoveTake(ctx(t), id, moveB.Code, ""); !isErr(err, room.ErrMoveInvalid) {
		t.Fatalf("the lost device's move code: %v", err)
	}
	if _, err := rooms.MoveTake(ctx(t), id, moveA.Code, ""); !isErr(err, room.ErrMoveInvalid) {
		t.Fatalf("a move code carrying the old secret: %v", err)
	}
	if _, err := rooms.ReplaceTake(ctx(t), id, thief.Code, key(44), key(3)); !isErr(err, room.ErrReplaceInvalid) {
		t.Fatalf("the lost device's re-pair code for seat 1: %v", err)
	}
	// A third party with the spent code, or the old pairing link: nothing.
	if _, err := rooms.ReplaceTake(ctx(t), id, code, newKey, key(2)); !isErr(err, room.ErrReplaceInvalid) {
		t.Fatalf("the spent code: %v", err)
	}
	if _, err := rooms.Join(ctx(t), id, key(7), ""); !isErr(err, room.ErrRoomFull) {
		t.Fatalf("the old pairing link: %v", err)
	}
	if got := offset(t, s, id); got != at {
		t.Fatalf("refused attempts logged events: offset %d, was %d", got, at)
	}

	// The remaining seat is untouched; it re-seals the settings, which the
	// new device then gets.
	if _, err := rooms.SetSettings(ctx(t), a.Member, "new-settings"); err != nil {
		t.Fatalf("the remaining seat after the replacement: %v", err)
	}
	r, err := rooms.Resume(ctx(t), id, w.Device, "", 0)
	mustOK(t, err)
	if r.Member.Seat != 2 || r.Welcome.KeyEpoch != 1 || r.Welcome.Snapshot.Settings == nil || r.Welcome.Snapshot.Settings.Blob != "new-settings" {
		t.Fatalf("the new device resumed: %+v", r.Welcome)
	}
}

// testReplaceNeedsPartner: nobody replaces a seat alone. A re-pair code
// comes only from a seat's own connection, only for the other seat, only in
// a paired room; a seat's own old code never takes its own seat; and a
// cancelled, superseded or expired code seats nobody.
func testReplaceNeedsPartner(t *testing.T, s room.Store, _ Config) {
	// Unpaired: seat 2 is the pairing link's.
	c := newClock()
	rooms := room.New(room.Options{Store: s, Now: c.now})
	a, err := rooms.Create(ctx(t), hashOf(key(7)))
	mustOK(t, err)
	if _, err := rooms.ReplaceCreate(ctx(t), a.Member, hashOf(newKey)); !isErr(err, room.ErrNotPaired) {
		t.Fatalf("re-pair in an unpaired room: %v", err)
	}

	rooms, c, a, b := paired(t, s)
	id := a.Member.Room
	// A connection that is no longer the seat's cannot authorise one.
	if _, err := rooms.Resume(ctx(t), id, a.Welcome.Device, "", 0); err != nil {
		t.Fatal(err)
	}
	if _, err := rooms.ReplaceCreate(ctx(t), a.Member, hashOf(newKey)); !isErr(err, room.ErrReplaced) {
		t.Fatalf("re-pair from a replaced connection: %v", err)
	}
	// Seat 2's code is for seat 1: it can never take seat 2 itself.
	rc, err := rooms.ReplaceCreate(ctx(t), b.Member, hashOf(newKey))
	mustOK(t, err)
	st, err := s.Load(ctx(t), id)
	mustOK(t, err)
	if st.Seats[0].ReplaceHash != hashOf(rc.Code) || st.Seats[1].ReplaceHash != "" {
		t.Fatal("seat 2's re-pair code is not on seat 1")
	}
	_, err = rooms.ReplaceCancel(ctx(t), b.Member)
	mustOK(t, err)
	if _, err := rooms.ReplaceTake(ctx(t), id, rc.Code, newKey, key(1)); !isErr(err, room.ErrReplaceInvalid) {
		t.Fatalf("a cancelled code: %v", err)
	}
	_, err = rooms.ReplaceCancel(ctx(t), b.Member) // none pending: fine
	mustOK(t, err)

	old, err := rooms.ReplaceCreate(ctx(t), b.Member, hashOf(newKey))
	mustOK(t, err)
	fresh, err := rooms.ReplaceCreate(ctx(t), b.Member, hashOf(newKey))
	mustOK(t, err)
	if _, err := rooms.ReplaceTake(ctx(t), id, old.Code, newKey, key(1)); !isErr(err, room.ErrReplaceInvalid) {
		t.Fatalf("a superseded code: %v", err)
	}
	c.add(room.DefaultMoveTTL)
	if _, err := rooms.ReplaceTake(ctx(t), id, fresh.Code, newKey, key(1)); !isErr(err, room.ErrReplaceExpired) {
		t.Fatalf("an expired code: %v", err)
	}
	st, err = s.Load(ctx(t), id)
	mustOK(t, err)
	if st.KeyEpoch != 0 || st.Seats[0].DeviceHash != hashOf(a.Welcome.Device) {
		t.Fatal("a refused re-pair changed the room")
	}
}

// testReplaceRepeat: the device that took the seat may repeat the
// replacement (its welcome was lost) with the same nonce until it acts,
// without a second key epoch; nobody else may.
func testReplaceRepeat(t *testing.T, s room.Store, _ Config) {
	rooms, _, a, _, code := replaced(t, s)
	id := a.Member.Room
	first, err := rooms.ReplaceTake(ctx(t), id, code, newKey, key(1))
	mustOK(t, err)
	if _, err := rooms.ReplaceTake(ctx(t), id, code, newKey, key(2)); !isErr(err, room.ErrReplaceInvalid) {
		t.Fatalf("another nonce: %v", err)
	}
	again, err := rooms.ReplaceTake(ctx(t), id, code, newKey, key(1))
	mustOK(t, err)
	if again.Member.Seat != 2 || again.Member.Gen <= first.Member.Gen || again.Welcome.KeyEpoch != 1 {
		t.Fatalf("repeat %+v after %+v", again.Member, first.Member)
	}
	if _, err := rooms.Resume(ctx(t), id, first.Welcome.Device, "", 0); err == nil {
		t.Fatal("the first attempt's token still works")
	}
	_, err = rooms.Pause(ctx(t), again.Member)
	mustOK(t, err)
	if _, err := rooms.ReplaceTake(ctx(t), id, code, newKey, key(1)); !isErr(err, room.ErrReplaceInvalid) {
		t.Fatalf("a repeat after the seat acted: %v", err)
	}
}

// testReplaceRace: devices racing with one re-pair code, and the stolen
// phone racing with its own code for the other seat, yield exactly one new
// device and one key epoch.
func testReplaceRace(t *testing.T, s room.Store, _ Config) {
	rooms, _, a, b, code := replaced(t, s)
	id := a.Member.Room
	thief, err := rooms.ReplaceCreate(ctx(t), b.Member, hashOf(key(44)))
	mustOK(t, err)
	at := offset(t, s, id)
	won := race(t, 6, room.ErrReplaceInvalid, func(i int) (*room.Admission, error) {
		c, k := code, newKey
		if i == 0 {
			c, k = thief.Code, key(44)
		}
		return rooms.ReplaceTake(ctx(t), id, c, k, key(byte(100+i)))
	})
	replacedN := countKind(logged(t, s, id, at), protocol.KindReplaced)
	st, err := s.Load(ctx(t), id)
	mustOK(t, err)
	if replacedN != 1 || st.KeyEpoch != 1 || st.Seats[won.Member.Seat-1].DeviceHash != hashOf(won.Welcome.Device) {
		t.Fatalf("%d replaced events, key epoch %d", replacedN, st.KeyEpoch)
	}
}

// testReplaceErase: erase after a replacement deletes the room whole; the
// spent and pending codes and both old and new tokens find nothing.
func testReplaceErase(t *testing.T, s room.Store, _ Config) {
	rooms, _, a, b, code := replaced(t, s)
	id := a.Member.Room
	n, err := rooms.ReplaceTake(ctx(t), id, code, newKey, key(1))
	mustOK(t, err)
	rc, err := rooms.ReplaceCreate(ctx(t), a.Member, hashOf(key(45)))
	mustOK(t, err)
	mustOK(t, rooms.Erase(ctx(t), n.Member))
	if _, err := s.Load(ctx(t), id); !isErr(err, room.ErrNotFound) {
		t.Fatalf("load after erase: %v", err)
	}
	if _, err := rooms.ReplaceTake(ctx(t), id, rc.Code, key(45), key(1)); !isErr(err, room.ErrNotFound) {
		t.Fatalf("re-pair into an erased room: %v", err)
	}
	for _, dev := range []string{a.Welcome.Device, b.Welcome.Device, n.Welcome.Device} {
		if _, err := rooms.Resume(ctx(t), id, dev, "", 0); !isErr(err, room.ErrNotFound) {
			t.Fatalf("resume into an erased room: %v", err)
		}
	}
	if evs, _, _ := s.Since(ctx(t), id, "", 0); len(evs) != 0 {
		t.Fatalf("the log after erase holds %d events", len(evs))
	}
}
