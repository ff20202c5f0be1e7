package client_test

import (
	"encoding/json"
	"errors"
	"slices"
	"testing"

	"softland/client"
	"softland/client/keys"
	"softland/server/protocol"
)

// TestReplaceLostPhone replaces seat 2's lost phone from seat 1 against a
// real server. The new phone takes seat 2 with the new secret; both phones
// show the same verification words; the remaining phone moves to the new
// secret and re-seals the settings, which the new phone reads; the lost
// phone ends with ErrMoved and its saved state is refused as revoked; and
// the old secret opens nothing sealed after the replacement.
func TestReplaceLostPhone(t *testing.T) {
	srv, c1, c2 := pair(t)
	ctx := testContext(t)
	settings := client.SharedSettings{PauseWord: "lighthouse", Signals: []string{"amber"}}
	if err := c1.Settings(ctx, settings); err != nil {
		t.Fatal(err)
	}
	next(t, c2, protocol.KindSettings)
	lost := c2.State()

	link, _, err := c1.ReplaceLink(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	if link.Room != c1.Room() || keys.Encoding.EncodeToString(link.Secret) == lost.Secret {
		t.Fatal("the re-pair link needs the room and a NEW secret")
	}
	parsed, err := client.ParseReplaceLink(link.String())
	if err != nil {
		t.Fatal(err)
	}
	n, err := client.Replace(ctx, srv.URL, parsed)
	if err != nil {
		t.Fatalf("Replace: %v", err)
	}
	t.Cleanup(func() { n.Close() })
	if n.Seat() != 2 || n.KeyEpoch() != 1 || n.Snapshot() == nil || !n.Snapshot().Paired || n.Snapshot().SettingsPlaintext != nil {
		t.Fatalf("after Replace: seat %d, key epoch %d, snapshot %+v", n.Seat(), n.KeyEpoch(), n.Snapshot())
	}

	if ev := next(t, c1, protocol.KindReplaced); ev.Seat != 2 || ev.KeyEpoch != 1 {
		t.Fatalf("remaining phone: replaced %+v", ev.Event)
	}
	w1, w2 := c1.VerifyWords(), n.VerifyWords()
	if len(w1) != keys.VerifyWordCount || !slices.Equal(w1, w2) {
		t.Fatalf("verification words differ: %v and %v", w1, w2)
	}
	if c1.KeyEpoch() != 1 || c1.State().Secret != keys.Encoding.EncodeToString(link.Secret) {
		t.Fatal("the remaining phone did not move to the new secret")
	}

	select {
	case <-c2.Done():
	case <-ctx.Done():
		t.Fatal("the lost phone's connection did not end")
	}
	if err := c2.Err(); !errors.Is(err, client.ErrLost) || !errors.Is(err, client.ErrMoved) || client.ShouldResume(err) {
		t.Fatalf("lost phone ended with %v", err)
	}
	if _, err := client.Resume(ctx, "", lost); code(err) != protocol.CodeDeviceRevoked {
		t.Fatalf("resume with the lost phone's state: %v", err)
	}
	if _, err := client.Replace(ctx, srv.URL, parsed); code(err) != protocol.CodeReplaceInvalid {
		t.Fatalf("the spent link again: %v", err)
	}

	if err := c1.ResealSettings(ctx); err != nil {
		t.Fatal(err)
	}
	ev := next(t, n, protocol.KindSettings)
	var got client.SharedSettings
	if err := json.Unmarshal(ev.Plaintext, &got); ev.Err != nil || err != nil || got.PauseWord != settings.PauseWord {
		t.Fatalf("the new phone's settings: %+v (%v, %v)", got, ev.Err, err)
	}
	oldSecret, _ := keys.Encoding.DecodeString(lost.Secret)
	oldKeys, err := keys.Derive(oldSecret)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := oldKeys.Open(c1.Room(), keys.ContextSettings, ev.Blob); !errors.Is(err, keys.ErrOpen) {
		t.Fatalf("the old secret opened the re-sealed settings: %v", err)
	}
	newKeys, _ := keys.Derive(link.Secret)
	if oldKeys.Token("r", "water") == newKeys.Token("r", "water") {
		t.Fatal("the old secret's tokens still match")
	}
	if err := n.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if ev := next(t, c1, protocol.KindPaused); ev.Seat != 2 {
		t.Fatalf("remaining phone: paused seat %d", ev.Seat)
	}
}
