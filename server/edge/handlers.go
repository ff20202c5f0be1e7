package edge

import (
	"context"
	"reflect"
	"time"

	"softland/server/protocol"
	"softland/server/room"
)

// handlers carries out each request type of protocol's registry, keyed by
// its type. TestHandlersMatchRegistry fails when a registered type has no
// handler here, a handler has no registered type, or a handler takes
// another struct than the one its type decodes into.
//
// A handler is one of three kinds, which decide when a request is allowed:
// anytime (ping, bye), admission (create, join, resume, move, replace: the
// first request of a socket, refused with already_in_room after it; see
// admit) and inRoom (everything else, refused with not_authenticated before
// an admission).
var handlers = map[string]handler{
	protocol.TypePing: anytime(func(c *conn, _ call, m *protocol.Ping) {
		c.send(&protocol.Pong{Header: protocol.Header{Type: protocol.TypePong, ID: m.ID}})
	}),
	protocol.TypeBye: anytime(func(c *conn, _ call, m *protocol.Bye) {
		c.bye = true
		c.ack(m.ID, "")
	}),

	protocol.TypeCreate: admission(func(c *conn, k call, m *protocol.Create) (string, admitFunc) {
		return "", func() (*room.Admission, error) { return c.s.rooms.Create(k.ctx, m.JoinKeyHash) }
	}),
	protocol.TypeJoin: admission(func(c *conn, k call, m *protocol.Join) (string, admitFunc) {
		return m.Room, func() (*room.Admission, error) { return c.s.rooms.Join(k.ctx, m.Room, m.JoinKey, m.Nonce) }
	}),
	protocol.TypeResume: admission(func(c *conn, k call, m *protocol.Resume) (string, admitFunc) {
		return m.Room, func() (*room.Admission, error) {
			return c.s.rooms.Resume(k.ctx, m.Room, m.Device, m.Epoch, m.Offset)
		}
	}),
	protocol.TypeMove: admission(func(c *conn, k call, m *protocol.Move) (string, admitFunc) {
		return m.Room, func() (*room.Admission, error) { return c.s.rooms.MoveTake(k.ctx, m.Room, m.Code, m.Nonce) }
	}),
	protocol.TypeReplace: admission(func(c *conn, k call, m *protocol.Replace) (string, admitFunc) {
		return m.Room, func() (*room.Admission, error) {
			return c.s.rooms.ReplaceTake(k.ctx, m.Room, m.Code, m.JoinKey, m.Nonce)
		}
	}),

	protocol.TypeRoundOpen: inRoom(func(c *conn, k call, _ *protocol.RoundOpen) result {
		round, offset, err := c.s.rooms.OpenRound(k.ctx, c.member)
		return result{round: round, offset: offset, err: err}
	}),
	protocol.TypeSubmit: inRoom(func(c *conn, k call, m *protocol.Submit) result {
		offset, revealed, err := c.s.rooms.Submit(k.ctx, c.member, m.Round, m.Tokens)
		if revealed {
			c.s.m.Reveal.Observe(time.Since(k.start).Seconds())
		}
		return result{offset: offset, err: err}
	}),
	protocol.TypeRoundClose: inRoom(func(c *conn, k call, m *protocol.RoundClose) result {
		return offsetOf(c.s.rooms.CloseRound(k.ctx, c.member, m.Round))
	}),
	protocol.TypePause: inRoom(func(c *conn, k call, _ *protocol.Pause) result {
		return offsetOf(c.s.rooms.Pause(k.ctx, c.member))
	}),
	protocol.TypeUnpause: inRoom(func(c *conn, k call, _ *protocol.Unpause) result {
		return offsetOf(c.s.rooms.Unpause(k.ctx, c.member))
	}),
	protocol.TypeAnnounce: inRoom(func(c *conn, k call, m *protocol.Announce) result {
		return offsetOf(c.s.rooms.Announce(k.ctx, c.member, m.Blob))
	}),
	protocol.TypeSettings: inRoom(func(c *conn, k call, m *protocol.Settings) result {
		return offsetOf(c.s.rooms.SetSettings(k.ctx, c.member, m.Blob))
	}),
	protocol.TypeDebrief: inRoom(func(c *conn, k call, m *protocol.Debrief) result {
		return offsetOf(c.s.rooms.Debrief(k.ctx, c.member, m.Round, m.Blob))
	}),
	protocol.TypeSeen: inRoom(func(c *conn, k call, m *protocol.Seen) result {
		return offsetOf(c.s.rooms.Seen(k.ctx, c.member, m.Offset))
	}),
	protocol.TypePushSubscribe: inRoom(func(c *conn, k call, m *protocol.PushSubscribe) result {
		sub := room.PushSub{Endpoint: m.Endpoint, P256dh: m.Keys.P256dh, Auth: m.Keys.Auth, Kinds: m.Kinds}
		return offsetOf(c.s.rooms.SubscribePush(k.ctx, c.member, sub))
	}),
	protocol.TypePushUnsubscribe: inRoom(func(c *conn, k call, _ *protocol.PushUnsubscribe) result {
		return offsetOf(c.s.rooms.UnsubscribePush(k.ctx, c.member))
	}),
	protocol.TypeInviteCancel: inRoom(func(c *conn, k call, _ *protocol.InviteCancel) result {
		return offsetOf(c.s.rooms.InviteCancel(k.ctx, c.member))
	}),
	protocol.TypeMoveCancel: inRoom(func(c *conn, k call, _ *protocol.MoveCancel) result {
		return offsetOf(c.s.rooms.MoveCancel(k.ctx, c.member))
	}),
	protocol.TypeMoveCreate: inRoom(func(c *conn, k call, _ *protocol.MoveCreate) result {
		mc, err := c.s.rooms.MoveCreate(k.ctx, c.member)
		if err != nil {
			return result{err: err}
		}
		// The code goes to this socket once, in the ack; it is never
		// logged, and the server keeps only its hash.
		c.sendAck(&protocol.Ack{Header: protocol.Header{ID: k.id}, Offset: mc.Offset, Move: mc.Code, ExpiresAt: mc.ExpiresAt}, mc.Offset)
		return result{answered: true}
	}),
	protocol.TypeReplaceCancel: inRoom(func(c *conn, k call, _ *protocol.ReplaceCancel) result {
		return offsetOf(c.s.rooms.ReplaceCancel(k.ctx, c.member))
	}),
	protocol.TypeReplaceCreate: inRoom(func(c *conn, k call, m *protocol.ReplaceCreate) result {
		mc, err := c.s.rooms.ReplaceCreate(k.ctx, c.member, m.JoinKeyHash)
		if err != nil {
			return result{err: err}
		}
		// Like a move code: once, in the ack, never logged.
		c.sendAck(&protocol.Ack{Header: protocol.Header{ID: k.id}, Offset: mc.Offset, Replace: mc.Code, ExpiresAt: mc.ExpiresAt}, mc.Offset)
		return result{answered: true}
	}),
	protocol.TypeErase: inRoom(func(c *conn, k call, _ *protocol.Erase) result {
		// The erased event and close 4000 are the answer; the room is gone.
		err := c.s.rooms.Erase(k.ctx, c.member)
		return result{err: err, answered: err == nil}
	}),
}

// handler carries out one request type; exactly one of its funcs is set.
// The funcs take the request as protocol.Request; handle has checked that
// it is a msg, so the typed wrappers below convert it without a check.
type handler struct {
	msg     reflect.Type // the request struct's pointer type
	anytime func(c *conn, k call, m protocol.Request)
	admit   func(c *conn, k call, m protocol.Request) (roomID string, do admitFunc)
	inRoom  func(c *conn, k call, m protocol.Request) result
}

// call is one request being handled.
type call struct {
	ctx   context.Context // the connection's: store calls have no timer of their own (see handle)
	start time.Time
	id    string // the request's id, echoed in its answer
}

// admitFunc asks the room service for an admission (see admit).
type admitFunc = func() (*room.Admission, error)

// result is what a room request answers: an ack with round and offset, or
// an error; nothing more when the handler has answered itself.
type result struct {
	round    string
	offset   uint64
	err      error
	answered bool
}

func offsetOf(offset uint64, err error) result { return result{offset: offset, err: err} }

// request is a pointer to request struct M.
type request[M any] interface {
	*M
	protocol.Request
}

func anytime[M any, P request[M]](fn func(c *conn, k call, m P)) handler {
	return handler{msg: reflect.TypeFor[P](), anytime: func(c *conn, k call, m protocol.Request) { fn(c, k, m.(P)) }}
}

func admission[M any, P request[M]](fn func(c *conn, k call, m P) (string, admitFunc)) handler {
	return handler{msg: reflect.TypeFor[P](), admit: func(c *conn, k call, m protocol.Request) (string, admitFunc) { return fn(c, k, m.(P)) }}
}

func inRoom[M any, P request[M]](fn func(c *conn, k call, m P) result) handler {
	return handler{msg: reflect.TypeFor[P](), inRoom: func(c *conn, k call, m protocol.Request) result { return fn(c, k, m.(P)) }}
}
