package edge

import (
	"errors"
	"reflect"
	"time"

	"softland/server/protocol"
	"softland/server/room"
)

// handle carries out one decoded request and answers it. It runs on the
// reader goroutine, so a phone's requests are handled one at a time, in order.
//
// Its store calls run under the connection's context, without a timer of
// their own: the memory store never waits, and the Redis client bounds every
// command itself (its read and write timeouts), with a bounded number of
// attempts per update. A timeout context per request cost four allocations,
// a fifth of a tap's.
func (c *conn) handle(msg protocol.Request) {
	ctx := c.ctx
	typ, id := msg.MessageType(), msg.RequestID()
	c.s.m.Requests.WithLabelValues(typ).Inc()
	start := time.Now()
	defer func() { c.s.m.RequestLatency.WithLabelValues(typ).Observe(time.Since(start).Seconds()) }()
	h, ok := handlers[typ]
	if !ok || reflect.TypeOf(msg) != h.msg {
		// TestHandlersMatchRegistry keeps this from happening.
		c.s.log.Error("request without a handler", "type", typ)
		c.sendError(id, protocol.CodeInternal, "the server cannot handle this request")
		return
	}
	k := call{ctx: ctx, start: start, id: id}
	switch {
	case h.anytime != nil:
		h.anytime(c, k, msg)
		return
	case h.admit != nil:
		roomID, do := h.admit(c, k, msg)
		c.admit(typ, id, roomID, do)
		return
	case !c.authed.Load():
		c.refuse(id, &room.Error{Code: protocol.CodeNotAuthenticated, Msg: "create, join, resume, move or replace first"})
		return
	}
	r := h.inRoom(c, k, msg)
	switch {
	case r.answered:
	case errors.Is(r.err, room.ErrReplaced):
		c.refuse(id, r.err)
		c.queue(&outItem{close: closeReplaced, closeMsg: "replaced by a newer connection"})
	case errors.Is(r.err, room.ErrMovedAway):
		c.refuse(id, r.err)
		c.queue(&outItem{close: closeMoved, closeMsg: "moved to another device"})
	case r.err != nil:
		// A refusal can follow housekeeping that did commit (a round that
		// expired first): like an ack, it waits for those events.
		c.refuseAfter(id, r.err, r.offset)
	default:
		c.ackAfter(id, r.round, r.offset)
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
	c.sendAck(&protocol.Ack{Header: protocol.Header{ID: id}, Round: round, Offset: offset}, offset)
}

// sendAck queues a, held back like ackAfter's. Every request that succeeds
// is acked: encoded without reflection, into one allocation that fits an
// ack with an id and a round (a code makes it grow once).
func (c *conn) sendAck(a *protocol.Ack, offset uint64) {
	c.queue(&outItem{frame: protocol.AppendAck(make([]byte, 0, 160), a), after: offset})
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

// sendError sends an error frame and counts it by code.
func (c *conn) sendError(id, code, msg string) { c.sendErrorAfter(id, code, msg, 0) }

func (c *conn) sendErrorAfter(id, code, msg string, offset uint64) {
	c.s.m.Errors.WithLabelValues(code).Inc()
	c.sendAfter(&protocol.Error{Header: protocol.Header{ID: id}, Code: code, Message: msg}, offset)
}
