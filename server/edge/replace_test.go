package edge_test

import (
	"testing"

	"github.com/coder/websocket"

	"softland/server/edge"
	"softland/server/protocol"
	"softland/server/servertest"
	"softland/server/servertest/phonetest"
)

// TestReplaceLostPhone: the remaining phone's re-pair code gives the
// partner's seat to a new phone holding the new secret's join key. The
// lost phone's socket hears replaced and is closed with 4009, on this
// instance and on another, and its token is then refused as revoked; the
// remaining phone hears replaced with the new key epoch and the new
// phone's nonce (for the verification words) and carries on; the spent
// code gets a third party nothing; the lost phone heard nothing of the
// pending code.
func TestReplaceLostPhone(t *testing.T) {
	srv := servertest.Start(t)
	other := servertest.Start(t, servertest.Options{Store: srv.Store, Edge: edge.Config{Feed: srv.Feed}})
	for name, newSrv := range map[string]*servertest.Server{"same instance": srv, "other instance": other} {
		t.Run(name, func(t *testing.T) {
			a, b := phonetest.Pair(t, srv)
			raw, joinKey := phonetest.NewKey()
			ack := a.OK(&protocol.ReplaceCreate{Header: hdr(protocol.TypeReplaceCreate), JoinKeyHash: phonetest.KeyHash(raw)})
			if !protocol.IsKey(ack.Replace) || ack.ExpiresAt == 0 {
				t.Fatalf("replace.create answered %s", ack.Raw)
			}
			b.Quiet()

			_, nonce := phonetest.NewKey()
			n := phonetest.Dial(t, newSrv)
			n.Send(&protocol.Replace{Header: hdr(protocol.TypeReplace), Room: a.Room, Code: ack.Replace, JoinKey: joinKey, Nonce: nonce})
			w := n.Expect(protocol.TypeWelcome)
			if w.Seat != 2 || !protocol.IsKey(w.Device) || w.Device == b.Device || w.KeyEpoch != 1 || w.Snapshot == nil || w.Snapshot.KeyEpoch != 1 {
				t.Fatalf("the new phone's welcome: %s", w.Raw)
			}
			if ev := b.Expect(protocol.KindReplaced); ev.Seat != 2 || ev.Offset != w.Offset {
				t.Fatalf("lost phone: %s (welcome offset %d)", ev.Raw, w.Offset)
			}
			b.ExpectClose(websocket.StatusCode(protocol.CloseMoved))
			if ev := a.Expect(protocol.KindReplaced); ev.Seat != 2 || ev.KeyEpoch != 1 || ev.Nonce != nonce || ev.KeyHash != phonetest.KeyHash(raw) {
				t.Fatalf("remaining phone: %s", ev.Raw)
			}

			old := phonetest.Dial(t, srv)
			if f := old.Resume(b.Credentials, 0); f.Code != protocol.CodeDeviceRevoked {
				t.Fatalf("resume with the lost phone's token: %s", f.Raw)
			}
			old.ExpectClose(websocket.StatusCode(protocol.CloseAuthFailed))

			third := phonetest.Dial(t, srv)
			third.Send(&protocol.Replace{Header: hdr(protocol.TypeReplace), Room: a.Room, Code: ack.Replace, JoinKey: joinKey, Nonce: joinKey})
			third.ExpectError(protocol.CodeReplaceInvalid)
			third.ExpectClose(websocket.StatusCode(protocol.CloseAuthFailed))

			a.OK(&protocol.Settings{Header: hdr(protocol.TypeSettings), Blob: "c2VhbGVkLXVuZGVyLXRoZS1uZXcta2V5LXNlYWxlZC11bmRlci10aGUtbmV3LWtleQ"})
			if ev := n.Expect(protocol.KindSettings); ev.Seat != 1 {
				t.Fatalf("new phone: %s", ev.Raw)
			}
		})
	}
}
