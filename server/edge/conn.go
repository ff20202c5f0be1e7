package edge

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"
	"golang.org/x/time/rate"

	"softland/server/protocol"
	"softland/server/room"
)

const (
	closeErased      = websocket.StatusCode(protocol.CloseErased)
	closeReplaced    = websocket.StatusCode(protocol.CloseReplaced)
	closeAuthFailed  = websocket.StatusCode(protocol.CloseAuthFailed)
	closeAuthTimeout = websocket.StatusCode(protocol.CloseAuthTimeout)
	// floodStrikes is how many rate-limited messages in a row close the socket.
	floodStrikes = 20
)

// conn is one phone's socket. Two goroutines serve it and both end with it:
// run reads (and is the connection's own goroutine) and write sends
// everything. Only write touches the cursor. Pings run on a timer, in a
// goroutine that lives only while a ping is in flight: a third goroutine
// parked on a ticker would cost every idle socket its stack.
type conn struct {
	s  *Server
	ws *websocket.Conn
	ip string // the client address per-address limits apply to

	ctx    context.Context // ends when the connection is failing or done
	cancel context.CancelFunc

	// out and events hold pointers: channel buffers of 64 whole values would
	// cost every idle socket about 18 KB.
	out    chan *outItem        // frames for write, bounded
	events chan *protocol.Event // room events for write, bounded

	// Set by run before the welcome is queued; read by write only after it
	// receives the welcome, so the channel orders the accesses.
	member room.Member
	unsub  func()

	// authed and roomLog are read by other goroutines (timers, the pinger,
	// the store's callbacks), so they are atomic.
	authed  atomic.Bool
	roomLog atomic.Value // string: logID of the room once authenticated

	failOnce sync.Once
	closed   chan struct{} // closed once the close handshake has finished
	bye      bool          // the phone said goodbye (run only)
	erased   bool          // the room was erased (write only; read after write ends)
	writeEnd chan struct{}
	limiter  *rate.Limiter

	// The pinger: pingTimer fires ping, which re-arms it. pingMu orders
	// stopping against re-arming, and pinging counts pings in flight so run
	// can wait for them.
	pingMu      sync.Mutex
	pingTimer   *time.Timer
	pingStopped bool
	pinging     sync.WaitGroup
}

// outItem is one thing for the writer: a frame, the welcome that starts event
// delivery at a cursor, or a close after the frames before it.
type outItem struct {
	frame    []byte
	welcome  *room.Admission
	after    uint64 // write frame only once the cursor reached this offset
	close    websocket.StatusCode
	closeMsg string
}

func newConn(s *Server, ws *websocket.Conn, ip string) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	ws.SetReadLimit(protocol.MaxFrameBytes)
	return &conn{
		s:        s,
		ws:       ws,
		ip:       ip,
		ctx:      ctx,
		cancel:   cancel,
		out:      make(chan *outItem, s.cfg.SendQueue),
		events:   make(chan *protocol.Event, s.cfg.SendQueue),
		closed:   make(chan struct{}),
		writeEnd: make(chan struct{}),
		limiter:  rate.NewLimiter(rate.Limit(s.cfg.Rate), s.cfg.Burst),
	}
}

// fail closes the socket with code, once, and stops the writer and pinger.
// It never blocks: the close handshake runs on its own goroutine, which run
// waits for.
func (c *conn) fail(code websocket.StatusCode, reason string) {
	c.failOnce.Do(func() {
		c.s.m.Closes.WithLabelValues(strconv.Itoa(int(code))).Inc()
		c.cancel()
		go func() {
			c.ws.Close(code, reason)
			close(c.closed)
		}()
	})
}

func (c *conn) run() {
	go c.write()
	c.pingMu.Lock()
	c.pingTimer = time.AfterFunc(c.s.cfg.PingInterval, c.ping)
	c.pingMu.Unlock()
	authTimer := time.AfterFunc(c.s.cfg.AuthTimeout, func() {
		if !c.authed.Load() {
			c.fail(closeAuthTimeout, "no create, join or resume in time")
		}
	})

	status := c.read()

	authTimer.Stop()
	c.fail(websocket.StatusNormalClosure, "")
	<-c.writeEnd
	c.stopPinging()
	<-c.closed
	if c.unsub != nil {
		c.unsub()
	}
	if c.member.Room != "" && !c.erased {
		presence := protocol.PresenceReconnecting
		if c.bye || status == websocket.StatusNormalClosure || status == websocket.StatusGoingAway {
			presence = protocol.PresenceAway
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.s.cfg.WriteTimeout)
		if err := c.s.rooms.Leave(ctx, c.member, presence); err != nil && !room.IsRefusal(err) {
			c.s.log.Warn("presence not saved", "room", logID(c.member.Room), "err", err)
		}
		cancel()
	}
}

// read handles frames until the socket ends and returns the peer's close
// status (-1 when there was none).
func (c *conn) read() websocket.StatusCode {
	strikes := 0
	for {
		typ, data, err := c.ws.Read(context.Background())
		if err != nil {
			return websocket.CloseStatus(err)
		}
		if !c.limiter.Allow() {
			strikes++
			if strikes >= floodStrikes {
				c.s.log.Info("ws closed", "room", c.logID(), "reason", "flood")
				c.fail(websocket.StatusPolicyViolation, "too many messages")
				continue
			}
			c.sendError("", protocol.CodeRateLimited, "too many messages; slow down")
			continue
		}
		strikes = 0
		if typ != websocket.MessageText {
			c.sendError("", protocol.CodeBadRequest, "frames must be JSON text")
			continue
		}
		msg, err := protocol.DecodeRequest(data)
		if err != nil {
			var de *protocol.DecodeError
			errors.As(err, &de)
			c.sendError(de.ID, de.Code, de.Message)
			continue
		}
		c.handle(msg)
	}
}

// send queues a frame for the writer. A phone whose queue is full is too slow
// to keep up with its room; it is dropped so it cannot hold anyone back, and
// resumes where it was.
func (c *conn) send(v any) { c.sendAfter(v, 0) }

// sendAfter queues a frame that the writer holds back until the phone has
// been sent every event up to offset (0: no wait).
func (c *conn) sendAfter(v any, offset uint64) {
	b, err := protocol.Marshal(v)
	if err != nil {
		c.s.log.Error("encode failed", "type", "frame")
		return
	}
	c.queue(&outItem{frame: b, after: offset})
}

func (c *conn) queue(it *outItem) {
	select {
	case c.out <- it:
	case <-c.ctx.Done():
	default:
		c.s.log.Info("ws closed", "room", c.logID(), "reason", "slow consumer")
		c.fail(websocket.StatusPolicyViolation, "connection too slow")
	}
}

// deliver is the store's subscription callback: it must not block.
func (c *conn) deliver(ev protocol.Event) {
	select {
	case c.events <- &ev:
	case <-c.ctx.Done():
	default:
		c.s.log.Info("ws closed", "room", c.logID(), "reason", "slow consumer")
		c.fail(websocket.StatusPolicyViolation, "connection too slow")
	}
}

// ping checks that the peer answers. It runs on pingTimer's goroutine and
// arms the timer again when the pong came.
func (c *conn) ping() {
	c.pingMu.Lock()
	if c.pingStopped {
		c.pingMu.Unlock()
		return
	}
	c.pinging.Add(1)
	c.pingMu.Unlock()
	defer c.pinging.Done()

	// Not derived from c.ctx: cancelling a write mid-frame would cut the
	// socket without a close frame.
	ctx, cancel := context.WithTimeout(context.Background(), c.s.cfg.PingTimeout)
	err := c.ws.Ping(ctx)
	cancel()
	if c.ctx.Err() != nil {
		return
	}
	if err != nil {
		c.s.log.Info("ws closed", "room", c.logID(), "reason", "ping timeout")
		c.fail(websocket.StatusPolicyViolation, "ping timeout")
		return
	}
	c.pingMu.Lock()
	if !c.pingStopped {
		c.pingTimer.Reset(c.s.cfg.PingInterval)
	}
	c.pingMu.Unlock()
}

// stopPinging stops the timer and waits for a ping in flight, which ends
// because the socket is closing.
func (c *conn) stopPinging() {
	c.pingMu.Lock()
	c.pingStopped = true
	c.pingTimer.Stop()
	c.pingMu.Unlock()
	c.pinging.Wait()
}

// write is the only goroutine that writes frames. After the welcome it keeps
// a cursor, the offset of the last event the phone got, and sends each room
// event exactly once and in order: older ones are dropped, and a gap is filled
// from the store's log before the event that revealed it.
func (c *conn) write() {
	defer close(c.writeEnd)
	var (
		authed   bool
		epoch    string
		cursor   uint64
		timer    *time.Timer
		timerC   <-chan time.Time
		events   chan *protocol.Event // nil until authed
		rooms    = c.s.rooms
		setTimer = func(at int64) {
			if timer != nil {
				timer.Stop()
				timer, timerC = nil, nil
			}
			if at > 0 {
				timer = time.NewTimer(time.Until(time.UnixMilli(at)) + 50*time.Millisecond)
				timerC = timer.C
			}
		}
	)
	defer func() { setTimer(0) }()

	writeEvent := func(ev protocol.Event) bool {
		b, err := protocol.Marshal(&ev)
		if err != nil || !c.writeFrame(b) {
			return false
		}
		cursor = ev.Offset
		c.s.m.Events.WithLabelValues(ev.Kind).Inc()
		switch ev.Kind {
		case protocol.KindRoundOpened:
			setTimer(ev.ClosesAt)
		case protocol.KindRoundClosed:
			setTimer(0)
		case protocol.KindErased:
			c.erased = true
			c.fail(closeErased, "room erased")
			return false
		}
		return true
	}
	// catchUp sends every logged event after the cursor, up to the newest.
	catchUp := func() bool {
		evs, complete, err := rooms.Since(c.ctx, c.member.Room, epoch, cursor)
		if errors.Is(err, room.ErrNotFound) {
			// The room is gone. If it was erased, the erased event may be
			// waiting behind this catch-up: the phone must get it (and
			// close 4000) rather than a plain reconnect.
			for {
				select {
				case ev := <-c.events:
					if ev.Kind == protocol.KindErased {
						writeEvent(*ev)
						return false
					}
					continue
				default:
				}
				break
			}
			// Expired, or erased on another instance: resuming tells the
			// phone not_found.
			c.fail(websocket.StatusServiceRestart, "resume")
			return false
		}
		if err != nil {
			if c.ctx.Err() == nil {
				c.s.log.Warn("catch-up failed", "room", logID(c.member.Room), "err", err)
				c.fail(websocket.StatusTryAgainLater, "store unavailable; resume shortly")
			}
			return false
		}
		if !complete {
			// The log moved on past this phone; a resume will bring a snapshot.
			c.fail(websocket.StatusServiceRestart, "resume to catch up")
			return false
		}
		for _, ev := range evs {
			if !writeEvent(ev) {
				return false
			}
		}
		return true
	}

	// handleEvent sends one room event in order: older ones are dropped, and
	// a gap is filled from the log.
	handleEvent := func(ev protocol.Event) bool {
		if !authed || ev.Epoch != epoch || ev.Offset <= cursor {
			return true
		}
		if ev.Offset > cursor+1 {
			return catchUp()
		}
		return writeEvent(ev)
	}
	// drain sends every event already waiting. Events go before frames that
	// were queued after them, so an ack never overtakes its own effect.
	drain := func() bool {
		for {
			select {
			case ev := <-events:
				if !handleEvent(*ev) {
					return false
				}
			default:
				return true
			}
		}
	}

	for {
		select {
		case <-c.ctx.Done():
			return
		case it := <-c.out:
			if !drain() {
				return
			}
			if it.after > cursor && authed && !catchUp() {
				return
			}
			switch {
			case it.welcome != nil:
				w := it.welcome.Welcome
				b, err := protocol.Marshal(w)
				if err != nil || !c.writeFrame(b) {
					return
				}
				authed, epoch, cursor, events = true, w.Epoch, w.Offset, c.events
				setTimer(it.welcome.RoundClosesAt)
				// Anything logged between the store's answer and the
				// subscription starting is fetched now.
				if !catchUp() {
					return
				}
			case it.close != 0:
				c.fail(it.close, it.closeMsg)
				return
			default:
				if !c.writeFrame(it.frame) {
					return
				}
			}
		case ev := <-events:
			if !handleEvent(*ev) {
				return
			}
		case <-timerC:
			timer, timerC = nil, nil
			if err := rooms.Tick(c.ctx, c.member.Room); err != nil && c.ctx.Err() == nil && !room.IsRefusal(err) {
				c.s.log.Warn("round expiry failed", "room", logID(c.member.Room), "err", err)
			}
		}
	}
}

func (c *conn) writeFrame(b []byte) bool {
	// Not derived from c.ctx: cancelling a write mid-frame would cut the
	// socket without a close frame. fail stops the loop between frames.
	ctx, cancel := context.WithTimeout(context.Background(), c.s.cfg.WriteTimeout)
	defer cancel()
	if err := c.ws.Write(ctx, websocket.MessageText, b); err != nil {
		if c.ctx.Err() == nil {
			c.fail(websocket.StatusPolicyViolation, "write timeout")
		}
		return false
	}
	return true
}

func (c *conn) logID() string {
	if id, ok := c.roomLog.Load().(string); ok {
		return id
	}
	return "-"
}
