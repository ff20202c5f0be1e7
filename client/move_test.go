package client_test

import (
	"encoding/json"
	"errors"
	"testing"
	"time"

	"softland/client"
	"softland/server/protocol"
)

// TestMoveSeatBetweenClients moves seat 1 from one Go client to another
// against a real server: the new client holds the seat with its own token
// and reads the shared settings; the old one hears moved and ends with
// ErrMoved, and its saved state is refused as revoked; the partner hears
// moved and carries on with the new device.
func TestMoveSeatBetweenClients(t *testing.T) {
	srv, c1, c2 := pair(t)
	ctx := testContext(t)
	settings := client.SharedSettings{PauseWord: "lighthouse", Signals: []string{"amber"}}
	if err := c1.Settings(ctx, settings); err != nil {
		t.Fatal(err)
	}
	next(t, c2, protocol.KindSettings)
	oldState := c1.State()

	link, expires, err := c1.MoveLink(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if !expires.After(time.Now()) {
		t.Fatalf("the move link expires at %v", expires)
	}
	parsed, err := client.ParseMoveLink(link.String())
	if err != nil {
		t.Fatal(err)
	}
	c3, err := client.Move(ctx, srv.URL, parsed)
	if err != nil {
		t.Fatalf("Move: %v", err)
	}
	t.Cleanup(func() { c3.Close() })
	if c3.Seat() != 1 || c3.Room() != c1.Room() || c3.Snapshot() == nil || !c3.Snapshot().Paired {
		t.Fatalf("after Move: seat %d, snapshot %+v", c3.Seat(), c3.Snapshot())
	}
	var got client.SharedSettings
	if err := json.Unmarshal(c3.Snapshot().SettingsPlaintext, &got); err != nil || got.PauseWord != settings.PauseWord {
		t.Fatalf("the new device's settings: %+v (%v)", got, err)
	}
	if st := c3.State(); st.Device == oldState.Device || st.Secret != oldState.Secret {
		t.Fatal("the new device needs its own token and the same secret")
	}

	if ev := next(t, c1, protocol.KindMoved); ev.Seat != 1 {
		t.Fatalf("old device: moved seat %d", ev.Seat)
	}
	select {
	case <-c1.Done():
	case <-ctx.Done():
		t.Fatal("the old device's connection did not end")
	}
	if err := c1.Err(); !errors.Is(err, client.ErrMoved) || client.ShouldResume(err) {
		t.Fatalf("old device ended with %v", err)
	}
	if ev := next(t, c2, protocol.KindMoved); ev.Seat != 1 {
		t.Fatalf("partner: moved seat %d", ev.Seat)
	}

	_, err = client.Resume(ctx, "", oldState)
	if code(err) != protocol.CodeDeviceRevoked || client.ShouldResume(err) {
		t.Fatalf("resume with the old state: %v", err)
	}
	if _, err := client.Move(ctx, srv.URL, parsed); code(err) != protocol.CodeMoveInvalid {
		t.Fatalf("the spent link again: %v", err)
	}

	if err := c3.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, c2, protocol.KindPaused); ev.Seat != 1 {
		t.Fatalf("partner: paused seat %d", ev.Seat)
	}
	// The moved seat comes back on the new device with its new state.
	st := c3.State()
	c3.Close()
	c4, err := client.Resume(ctx, "", st)
	if err != nil {
		t.Fatal(err)
	}
	c4.Close()
}

// TestCancelMoveAndInvite: a cancelled move link takes no seat; a cancelled
// pairing link pairs nobody.
func TestCancelMoveAndInvite(t *testing.T) {
	srv, c1, _ := pair(t)
	ctx := testContext(t)
	link, _, err := c1.MoveLink(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if err := c1.CancelMove(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Move(ctx, srv.URL, link); code(err) != protocol.CodeMoveInvalid {
		t.Fatalf("a cancelled move link: %v", err)
	}
	if err := c1.CancelInvite(ctx); code(err) != protocol.CodeRoomFull {
		t.Fatalf("CancelInvite once paired: %v", err)
	}

	a, invite, err := client.Create(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.CancelInvite(ctx); err != nil {
		t.Fatal(err)
	}
	if _, err := client.Join(ctx, srv.URL, invite); code(err) != protocol.CodeInviteRevoked {
		t.Fatalf("join with a cancelled link: %v", err)
	}
}
