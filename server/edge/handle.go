package edge

import (
	"context"
	"errors"
	"time"

	"softland/server/protocol"
	"softland/server/room"
)

// handle carries out one decoded request and answers it. It runs on the
// reader goroutine, so a phone's requests are handled one at a time, in order.
func (c *conn) handle(msg any) {
	ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.WriteTimeout)
	defer cancel()
	typ := msg.(interface{ MessageType() string }).MessageType()
	c.s.m.Requests.WithLabelValues(typ).Inc()
	start := time.Now()
	defer func() { c.s.m.RequestLatency.WithLabelValues(typ).Observe(time.Since(start).Seconds()) }()
	switch m := msg.(type) {
	case *protocol.Ping:
		c.send(&protocol.Pong{Header: protocol.Header{Type: protocol.TypePong, ID: m.ID}})
		return
	case *protocol.Bye:
		c.bye = true
		c.ack(m.ID, "")
		return
	case *protocol.Create:
		c.admit(protocol.TypeCreate, m.ID, "", func() (*room.Admission, error) {
			return c.s.rooms.Create(ctx, m.JoinKeyHash)
		})
		return
	case *protocol.Join:
		c.admit(protocol.TypeJoin, m.ID, m.Room, func() (*room.Admission, error) {
			return c.s.rooms.Join(ctx, m.Room, m.JoinKey, m.Nonce)
		})
		return
	case *protocol.Resume:
		c.admit(protocol.TypeResume, m.ID, m.Room, func() (*room.Admission, error) {
			return c.s.rooms.Resume(ctx, m.Room, m.Device, m.Epoch, m.Offset)
		})
		return
	case *protocol.Move:
		c.admit(protocol.TypeMove, m.ID, m.Room, func() (*room.Admission, error) {
			return c.s.rooms.MoveTake(ctx, m.Room, m.Code, m.Nonce)
		})
		return
	case *protocol.Replace:
		c.admit(protocol.TypeReplace, m.ID, m.Room, func() (*room.Admission, error) {
			return c.s.rooms.ReplaceTake(ctx, m.Room, m.Code, m.JoinKey, m.Nonce)
		})
		return
	}

	id := headerID(msg)
	if !c.authed.Load() {
		c.refuse(id, &room.Error{Code: protocol.CodeNotAuthenticated, Msg: "create, join, resume, move or replace first"})
		return
	}
	rooms, mem := c.s.rooms, c.member
	var (
		err    error
		round  string
		offset uint64
	)
	switch m := msg.(type) {
	case *protocol.RoundOpen:
		round, offset, err = rooms.OpenRound(ctx, mem)
	case *protocol.Submit:
		var revealed bool
		offset, revealed, err = rooms.Submit(ctx, mem, m.Round, m.Tokens)
		if revealed {
			c.s.m.Reveal.Observe(time.Since(start).Seconds())
		}
	case *protocol.RoundClose:
		offset, err = rooms.CloseRound(ctx, mem, m.Round)
	case *protocol.Pause:
		offset, err = rooms.Pause(ctx, mem)
	case *protocol.Unpause:
		offset, err = rooms.Unpause(ctx, mem)
	case *protocol.Announce:
		offset, err = rooms.Announce(ctx, mem, m.Blob)
	case *protocol.Settings:
		offset, err = rooms.SetSettings(ctx, mem, m.Blob)
	case *protocol.Debrief:
		offset, err = rooms.Debrief(ctx, mem, m.Round, m.Blob)
	case *protocol.Seen:
		offset, err = rooms.Seen(ctx, mem, m.Offset)
	case *protocol.PushSubscribe:
		offset, err = rooms.SubscribePush(ctx, mem, room.PushSub{Endpoint: m.Endpoint, P256dh: m.Keys.P256dh, Auth: m.Keys.Auth, Kinds: m.Kinds})
	case *protocol.PushUnsubscribe:
		offset, err = rooms.UnsubscribePush(ctx, mem)
	case *protocol.InviteCancel:
		offset, err = rooms.InviteCancel(ctx, mem)
	case *protocol.MoveCancel:
		offset, err = rooms.MoveCancel(ctx, mem)
	case *protocol.MoveCreate:
		var mc *room.MoveCode
		if mc, err = rooms.MoveCreate(ctx, mem); err == nil {
			// The code goes to this socket once, in the ack; it is never
			// logged, and the server keeps only its hash.
			c.sendAfter(&protocol.Ack{Header: protocol.Header{ID: id}, Offset: mc.Offset, Move: mc.Code, ExpiresAt: mc.ExpiresAt}, mc.Offset)
			return
		}
	case *protocol.ReplaceCancel:
		offset, err = rooms.ReplaceCancel(ctx, mem)
	case *protocol.ReplaceCreate:
		var mc *room.MoveCode
		if mc, err = rooms.ReplaceCreate(ctx, mem, m.JoinKeyHash); err == nil {
			// Like a move code: once, in the ack, never logged.
			c.sendAfter(&protocol.Ack{Header: protocol.Header{ID: id}, Offset: mc.Offset, Replace: mc.Code, ExpiresAt: mc.ExpiresAt}, mc.Offset)
			return
		}
	case *protocol.Erase:
		// The erased event and close 4000 are the answer; the room is gone.
		err = rooms.Erase(ctx, mem)
		if err == nil {
			return
		}
	}
	switch {
	case errors.Is(err, room.ErrReplaced):
		c.refuse(id, err)
		c.queue(&outItem{close: closeReplaced, closeMsg: "replaced by a newer connection"})
	case errors.Is(err, room.ErrMovedAway):
		c.refuse(id, err)
		c.queue(&outItem{close: closeMoved, closeMsg: "moved to another device"})
	case err != nil:
		// A refusal can follow housekeeping that did commit (a round that
		// expired first): like an ack, it waits for those events.
		c.refuseAfter(id, err, offset)
	default:
		c.ackAfter(id, round, offset)
	}
}

// admit creates, joins or resumes. The subscription starts before the store
// is asked, so no event can fall between the welcome and the live stream; the
// writer drops what the welcome already covered.
//
// Create, join and move attempts are limited per client address (a move
// code, like a join key, must not be guessed at in bulk); resume is not, so
// a phone on a flaky network always gets back.
func (c *conn) admit(kind, id, roomID string, do func() (*room.Admission, error)) {
	pairing := kind != protocol.TypeResume
	if c.authed.Load() {
		c.refuse(id, &room.Error{Code: protocol.CodeAlreadyInRoom, Msg: "this socket is already in a room"})
		return
	}
	if pairing && !c.s.ips.admit(c.ip) {
		c.s.log.Info("admit refused", "reason", "attempts per address")
		c.refuse(id, &room.Error{Code: protocol.CodeRateLimited, Msg: "too many attempts to create or join a room; wait a little"})
		return
	}
	var unsub func()
	if roomID != "" {
		unsub = c.s.cfg.Feed.Subscribe(roomID, c.deliver)
	}
	a, err := do()
	if err != nil {
		if unsub != nil {
			unsub()
		}
		c.refuse(id, err)
		if room.IsRefusal(err) {
			c.queue(&outItem{close: closeAuthFailed, closeMsg: room.Code(err)})
		}
		return
	}
	if unsub == nil {
		unsub = c.s.cfg.Feed.Subscribe(a.Member.Room, c.deliver)
	}
	c.member, c.unsub = a.Member, unsub
	c.s.m.Admitted.WithLabelValues(kind).Inc()
	if kind == protocol.TypeResume {
		mode := "replay"
		if a.Welcome.Snapshot != nil {
			mode = "snapshot"
		}
		c.s.m.Resumes.WithLabelValues(mode).Inc()
	}
	c.roomLog.Store(logID(a.Member.Room))
	c.authed.Store(true)
	movedAt := uint64(0)
	if kind == protocol.TypeMove || kind == protocol.TypeReplace {
		movedAt = a.Welcome.Offset
	}
	c.s.claimSeat(c, movedAt)
	c.watchLiveness(a.Member)
	a.Welcome.ID = id
	c.s.log.Info("ws admitted", "room", c.logID(), "seat", a.Member.Seat)
	c.queue(&outItem{welcome: a})
}

func (c *conn) ack(id, round string) { c.ackAfter(id, round, 0) }

// ackAfter queues an ack that the writer holds back until the phone has been
// sent every event up to offset.
func (c *conn) ackAfter(id, round string, offset uint64) {
	c.sendAfter(&protocol.Ack{Header: protocol.Header{ID: id}, Round: round, Offset: offset}, offset)
}

// refuse answers a request with an error frame. Refusals carry their own
// code; anything else is a store failure, logged and reported as unavailable.
func (c *conn) refuse(id string, err error) { c.refuseAfter(id, err, 0) }

// refuseAfter is refuse, held back until the phone was sent every event up
// to offset.
func (c *conn) refuseAfter(id string, err error, offset uint64) {
	var re *room.Error
	if !errors.As(err, &re) {
		c.s.log.Warn("request failed", "room", c.logID(), "err", err)
		re = &room.Error{Code: protocol.CodeUnavailable, Msg: "the room could not be reached; try again"}
	}
	c.sendErrorAfter(id, re.Code, re.Msg, offset)
}

func headerID(msg any) string {
	if h, ok := msg.(interface{ RequestID() string }); ok {
		return h.RequestID()
	}
	return ""
}

// sendError sends an error frame and counts it by code.
func (c *conn) sendError(id, code, msg string) { c.sendErrorAfter(id, code, msg, 0) }

func (c *conn) sendErrorAfter(id, code, msg string, offset uint64) {
	c.s.m.Errors.WithLabelValues(code).Inc()
	c.sendAfter(&protocol.Error{Header: protocol.Header{ID: id}, Code: code, Message: msg}, offset)
}
