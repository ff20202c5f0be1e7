package edge_test

import (
	"testing"

	"github.com/coder/websocket"

	"softland/server/edge"
	"softland/server/protocol"
	"softland/server/servertest"
	"softland/server/servertest/phonetest"
)

func hdr(typ string) protocol.Header { return protocol.Header{Type: typ} }

// moveCode asks p's seat for a move code.
func moveCode(t *testing.T, p *phonetest.Phone) string {
	t.Helper()
	ack := p.OK(&protocol.MoveCreate{Header: hdr(protocol.TypeMoveCreate)})
	if !protocol.IsKey(ack.Move) || ack.ExpiresAt == 0 {
		t.Fatalf("move.create answered %s", ack.Raw)
	}
	return ack.Move
}

// TestMoveSeat: the new device takes the seat with the code, with its own
// device token and a snapshot; the old socket hears moved and is closed
// with 4009, on this instance and on another; its token is then refused as
// revoked; the partner hears moved and carries on with the new device;
// the spent code gets a third party nothing.
func TestMoveSeat(t *testing.T) {
	srv := servertest.Start(t)
	other := servertest.Start(t, servertest.Options{Store: srv.Store, Edge: edge.Config{Feed: srv.Feed}})
	for name, newSrv := range map[string]*servertest.Server{"same instance": srv, "other instance": other} {
		t.Run(name, func(t *testing.T) {
			a, b := phonetest.Pair(t, srv)
			code := moveCode(t, a)
			b.Quiet() // the partner hears nothing of a pending move

			n := phonetest.Dial(t, newSrv)
			n.Send(&protocol.Move{Header: hdr(protocol.TypeMove), Room: a.Room, Code: code})
			w := n.Expect(protocol.TypeWelcome)
			if w.Seat != 1 || !protocol.IsKey(w.Device) || w.Device == a.Device || w.Snapshot == nil || !w.Snapshot.Paired {
				t.Fatalf("the new device's welcome: %s", w.Raw)
			}
			if ev := a.Expect(protocol.KindMoved); ev.Seat != 1 || ev.Offset != w.Offset {
				t.Fatalf("old device: %s (welcome offset %d)", ev.Raw, w.Offset)
			}
			a.ExpectClose(websocket.StatusCode(protocol.CloseMoved))
			if ev := b.Expect(protocol.KindMoved); ev.Seat != 1 {
				t.Fatalf("partner: %s", ev.Raw)
			}

			old := phonetest.Dial(t, srv)
			if f := old.Resume(a.Credentials, 0); f.Code != protocol.CodeDeviceRevoked {
				t.Fatalf("resume with the old token: %s", f.Raw)
			}
			old.ExpectClose(websocket.StatusCode(protocol.CloseAuthFailed))

			third := phonetest.Dial(t, srv)
			third.Send(&protocol.Move{Header: hdr(protocol.TypeMove), Room: a.Room, Code: code})
			third.ExpectError(protocol.CodeMoveInvalid)
			third.ExpectClose(websocket.StatusCode(protocol.CloseAuthFailed))

			n.Send(&protocol.Pause{Header: hdr(protocol.TypePause)})
			if ev := b.Expect(protocol.KindPaused); ev.Seat != 1 {
				t.Fatalf("partner: %s", ev.Raw)
			}
			if got := b.Sync(); len(got) != 0 {
				t.Fatalf("the partner heard more: %s", got[0].Raw)
			}
		})
	}
}

// TestMoveCancelAndInviteCancel: a cancelled move code and a cancelled
// pairing link are refused with their own codes, and close the socket.
func TestMoveCancelAndInviteCancel(t *testing.T) {
	srv := servertest.Start(t)
	a, _ := phonetest.Pair(t, srv)
	code := moveCode(t, a)
	a.OK(&protocol.MoveCancel{Header: hdr(protocol.TypeMoveCancel)})
	n := phonetest.Dial(t, srv)
	n.Send(&protocol.Move{Header: hdr(protocol.TypeMove), Room: a.Room, Code: code})
	n.ExpectError(protocol.CodeMoveInvalid)
	n.ExpectClose(websocket.StatusCode(protocol.CloseAuthFailed))
	if f := a.Answer(a.Send(&protocol.InviteCancel{Header: hdr(protocol.TypeInviteCancel)})); f.Code != protocol.CodeRoomFull {
		t.Fatalf("invite.cancel once paired: %s", f.Raw)
	}

	c := phonetest.Dial(t, srv)
	joinKey := c.Create()
	c.OK(&protocol.InviteCancel{Header: hdr(protocol.TypeInviteCancel)})
	j := phonetest.Dial(t, srv)
	if f := j.Join(c.Room, joinKey); f.Code != protocol.CodeInviteRevoked {
		t.Fatalf("join after invite.cancel: %s", f.Raw)
	}
	j.ExpectClose(websocket.StatusCode(protocol.CloseAuthFailed))
	// Before admission a move request is like any other room request.
	u := phonetest.Dial(t, srv)
	u.Send(&protocol.MoveCreate{Header: hdr(protocol.TypeMoveCreate)})
	u.ExpectError(protocol.CodeNotAuthenticated)
}
