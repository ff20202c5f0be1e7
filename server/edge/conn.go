package edge

import (
	"context"
	"errors"
	"io"
	"net"
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
	closeMoved       = websocket.StatusCode(protocol.CloseMoved)
	// floodStrikes is how many rate-limited messages in a row close the socket.
	floodStrikes = 20
	// closeGrace bounds the close handshake. A phone that is not reading
	// (the slow consumer, the dead peer) cannot take a close frame; after
	// this the socket is cut, so its partner learns at once that it is
	// reconnecting, not after the library's own timeouts (5 s and more).
	closeGrace = 2 * time.Second
)

// conn is one phone's socket. run reads, on the connection's own goroutine,
// for as long as the socket lives. Everything else runs in short-lived
// goroutines that exist only while they have work, because a goroutine
// parked for an idle socket costs its stack (several KB) on every one of
// tens of thousands of sockets:
//
//   - write sends frames and room events. queue and deliver start it when
//     something is waiting (kick); it exits when both queues are empty. At
//     most one runs at a time, and only it touches the writer state w.
//   - ping runs from a timer, checks the peer answers and re-arms the timer.
//   - the open round's expiry timer has the writer call Tick.
//
// tasks counts them, so run can wait for every one before it returns.
type conn struct {
	s  *Server
	ws *websocket.Conn
	ip string // the client address per-address limits apply to

	ctx    context.Context // ends when the connection is failing or done
	cancel context.CancelFunc
	// raw is the connection under ws. fail arms cutTimer to close it after
	// closeGrace, which ends a close handshake the phone cannot answer.
	raw      net.Conn
	cutTimer *time.Timer
	// batch is under ws: the writer sends what it has in one write. nil
	// for a socket not accepted by serveWS (tests), which writes per frame.
	batch *batchConn

	// out and events wait for the writer, each bounded by SendQueue. Their
	// storage grows with use: reserving the bound up front would cost every
	// idle socket its worst case.
	qmu    sync.Mutex
	out    fifo[*outItem]
	events fifo[*protocol.Event]

	// Set by run before the welcome is queued; read by the writer only after
	// it took the welcome from the queue, so qmu orders the accesses.
	member room.Member
	unsub  func()

	// authed and roomLog are read by other goroutines (timers, the pinger,
	// the store's callbacks), so they are atomic.
	authed  atomic.Bool
	roomLog atomic.Value // string: logID of the room once authenticated

	failOnce sync.Once
	closed   chan struct{} // closed once the close handshake has finished
	bye      bool          // the phone said goodbye (run only)
	erased   bool          // the room was erased (writer only; read after tasks end)
	limiter  *rate.Limiter

	tasks     tasks
	pingTimer *time.Timer // fires ping; re-armed by it
	live      liveness
	writing   atomic.Bool // a writer goroutine is running (or the socket is done)
	tick      atomic.Bool // the round expiry timer fired; the writer calls Tick
	w         writerState // the running writer's only
}

// liveness follows whether the admitted phone is sending anything (the
// seat's unreachable presence). The reader notes the time of every message;
// one timer fires when the window since the last one has passed. Noting a
// time is cheaper than resetting a timer for every message, and the timer
// re-arms itself for whatever is left of the window. mu is held across the
// store calls, so the reader and the timer take turns: a message that
// arrives while the timer is marking the seat unreachable is seen as soon
// as that is saved, and the seat goes back online.
type liveness struct {
	mu     sync.Mutex
	member room.Member // set at admission; zero before
	last   time.Time   // when the last message arrived
	silent bool        // the seat was marked unreachable by this socket
	timer  *time.Timer // fires check; nil before admission
}

// writerState is what the writer keeps between frames. One writer goroutine
// hands it to the next through conn.writing.
type writerState struct {
	authed bool   // the welcome was sent; events flow
	epoch  string // the room's epoch, from the welcome
	cursor uint64 // offset of the last event the phone was sent
	timer  *time.Timer
}

// tasks tracks a connection's short-lived goroutines: once stop has
// returned, none runs and none starts.
type tasks struct {
	mu      sync.Mutex
	stopped bool
	wg      sync.WaitGroup
}

// enter registers a task about to run; false means the connection is done.
func (t *tasks) enter() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.stopped {
		return false
	}
	t.wg.Add(1)
	return true
}

func (t *tasks) leave() { t.wg.Done() }

// unlessStopped runs f unless stop was called, ordered against stop.
func (t *tasks) unlessStopped(f func()) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.stopped {
		f()
	}
}

// stop lets no task start and waits for those running.
func (t *tasks) stop() {
	t.mu.Lock()
	t.stopped = true
	t.mu.Unlock()
	t.wg.Wait()
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

func newConn(s *Server, ws *websocket.Conn, raw net.Conn, batch *batchConn, ip string) *conn {
	ctx, cancel := context.WithCancel(context.Background())
	ws.SetReadLimit(protocol.MaxFrameBytes)
	return &conn{
		s:       s,
		ws:      ws,
		ip:      ip,
		ctx:     ctx,
		cancel:  cancel,
		raw:     raw,
		batch:   batch,
		closed:  make(chan struct{}),
		limiter: rate.NewLimiter(rate.Limit(s.cfg.Rate), s.cfg.Burst),
	}
}

// fail closes the socket with code, once, and stops the writer and pinger.
// It never blocks: the close handshake runs on its own goroutine, which run
// waits for, and is cut short after closeGrace.
func (c *conn) fail(code websocket.StatusCode, reason string) {
	c.failOnce.Do(func() {
		c.s.m.Closes.WithLabelValues(strconv.Itoa(int(code))).Inc()
		c.cancel()
		c.cutTimer = time.AfterFunc(closeGrace, c.cut)
		go func() {
			c.ws.Close(code, reason)
			close(c.closed)
		}()
	})
}

// cut closes the raw connection: every read and write on it fails at once.
func (c *conn) cut() {
	if c.raw != nil {
		c.raw.Close()
	}
}

func (c *conn) run() {
	c.tasks.unlessStopped(func() { c.pingTimer = time.AfterFunc(c.s.cfg.PingInterval, c.ping) })
	authTimer := time.AfterFunc(c.s.cfg.AuthTimeout, func() {
		if !c.authed.Load() {
			c.fail(closeAuthTimeout, "no create, join or resume in time")
		}
	})

	status := c.read()

	authTimer.Stop()
	c.fail(websocket.StatusNormalClosure, "")
	c.tasks.stop()
	c.pingTimer.Stop()
	c.live.mu.Lock()
	if c.live.timer != nil {
		c.live.timer.Stop()
	}
	c.live.mu.Unlock()
	if c.w.timer != nil {
		c.w.timer.Stop()
	}
	<-c.closed
	c.cutTimer.Stop() // set by the fail above
	if c.unsub != nil {
		c.unsub()
	}
	if c.member.Room != "" && c.erased {
		ctx, cancel := context.WithTimeout(context.Background(), c.s.cfg.WriteTimeout)
		c.s.rooms.Forget(ctx, c.member)
		cancel()
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
	var buf *[]byte // the message being handled; returned before waiting for the next
	defer func() { readBufs.put(buf) }()
	for {
		readBufs.put(buf)
		buf = nil
		typ, b, err := c.readMessage()
		if err != nil {
			return websocket.CloseStatus(err)
		}
		buf = b
		data := *b
		c.alive()
		if !c.limiter.Allow() {
			// Every dropped message is answered, with its id when it can
			// be read, so the phone knows what to send again.
			id := ""
			if typ == websocket.MessageText {
				id = protocol.RequestID(data)
			}
			c.sendError(id, protocol.CodeRateLimited, "too many messages; slow down")
			if strikes++; strikes >= floodStrikes {
				// The close goes behind every answer already owed: the
				// writer sends them, then closes. Nothing more is read:
				// what the phone sent after this is discarded unread by
				// the close handshake, as after any close frame.
				c.s.log.Info("ws closed", "room", c.logID(), "reason", "flood")
				c.queue(&outItem{close: websocket.StatusPolicyViolation, closeMsg: "too many messages"})
				<-c.ctx.Done()
				return -1
			}
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

// readBufs holds the buffers messages are read into. A frame is decoded
// into copies before the next one is read (protocol.DecodeRequest keeps no
// part of it), so a socket holds a buffer only from a message's first frame
// until it has been handled, never while it waits.
var readBufs = bufPool{size: 4 << 10, max: protocol.MaxFrameBytes + 1}

// readMessage reads the next message into a buffer from readBufs, as
// ws.Read would into a new slice, so reading costs no allocation once the
// pool's buffers have grown to the messages' size. The caller puts the
// buffer back.
func (c *conn) readMessage() (websocket.MessageType, *[]byte, error) {
	typ, r, err := c.ws.Reader(context.Background())
	if err != nil {
		return 0, nil, err
	}
	buf := readBufs.get()
	b := (*buf)[:0]
	for {
		if len(b) == cap(b) {
			b = append(b, 0)[:len(b)]
		}
		n, err := r.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		*buf = b
		if err == io.EOF {
			return typ, buf, nil
		}
		if err != nil {
			readBufs.put(buf)
			return 0, nil, err
		}
	}
}

// watchLiveness starts the liveness window for the member just admitted. It
// runs on the reader goroutine, like alive.
func (c *conn) watchLiveness(m room.Member) {
	l := &c.live
	l.mu.Lock()
	defer l.mu.Unlock()
	l.member, l.last = m, time.Now()
	c.tasks.unlessStopped(func() { l.timer = time.AfterFunc(c.s.cfg.LivenessWindow, c.checkLiveness) })
}

// alive notes that a message arrived (any message: a flooding or malformed
// one shows the phone is there too) and, if this socket had marked its seat
// unreachable, marks it online again before the message is handled, so the
// partner sees online before anything the message causes. It runs on the
// reader goroutine.
func (c *conn) alive() {
	l := &c.live
	l.mu.Lock()
	defer l.mu.Unlock()
	l.last = time.Now()
	if !l.silent {
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.WriteTimeout)
	err := c.s.rooms.Liveness(ctx, l.member, true)
	cancel()
	if err != nil && !room.IsRefusal(err) {
		if c.ctx.Err() == nil {
			c.s.log.Warn("presence not saved", "room", c.logID(), "err", err)
		}
		return // silent stays: the next message tries again
	}
	l.silent = false
	c.tasks.unlessStopped(func() { l.timer.Reset(c.s.cfg.LivenessWindow) })
}

// checkLiveness runs on the liveness timer's goroutine when the window may
// have passed: it marks the seat unreachable if nothing arrived for the
// whole window, and otherwise waits for the rest of it. Once the seat is
// unreachable the timer rests until alive re-arms it.
func (c *conn) checkLiveness() {
	if !c.tasks.enter() {
		return
	}
	defer c.tasks.leave()
	l := &c.live
	l.mu.Lock()
	defer l.mu.Unlock()
	if c.ctx.Err() != nil || l.silent {
		return
	}
	window := c.s.cfg.LivenessWindow
	if quiet := time.Since(l.last); quiet < window {
		l.timer.Reset(window - quiet)
		return
	}
	ctx, cancel := context.WithTimeout(c.ctx, c.s.cfg.WriteTimeout)
	err := c.s.rooms.Liveness(ctx, l.member, false)
	cancel()
	if err != nil && !room.IsRefusal(err) {
		if c.ctx.Err() == nil {
			c.s.log.Warn("presence not saved", "room", c.logID(), "err", err)
			l.timer.Reset(window) // try again later, unless a message comes first
		}
		return
	}
	l.silent = true
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
	if push(c, &c.out, it) {
		c.kick()
	}
}

// push adds v to q unless the socket is failing; a full queue drops the
// phone (slow consumer). It reports whether v was queued.
func push[T any](c *conn, q *fifo[T], v T) bool {
	if c.ctx.Err() != nil {
		return false
	}
	c.qmu.Lock()
	full := q.len() >= c.s.cfg.SendQueue
	if !full {
		q.push(v)
	}
	c.qmu.Unlock()
	if full {
		c.s.log.Info("ws closed", "room", c.logID(), "reason", "slow consumer")
		c.fail(websocket.StatusPolicyViolation, "connection too slow")
		return false
	}
	return true
}

// pop takes the oldest item of q, if any.
func pop[T any](c *conn, q *fifo[T]) (T, bool) {
	c.qmu.Lock()
	defer c.qmu.Unlock()
	return q.pop()
}

// deliver is the store's subscription callback: it must not block.
func (c *conn) deliver(ev protocol.Event) {
	if push(c, &c.events, &ev) {
		c.kick()
	}
}

// ping checks that the peer answers. It runs on pingTimer's goroutine and
// arms the timer again when the pong came.
func (c *conn) ping() {
	if !c.tasks.enter() {
		return
	}
	defer c.tasks.leave()
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
	c.tasks.unlessStopped(func() { c.pingTimer.Reset(c.s.cfg.PingInterval) })
}

// kick starts the writer unless one is running.
func (c *conn) kick() {
	if c.writing.CompareAndSwap(false, true) && c.tasks.enter() {
		go c.write()
	}
}

// write runs until nothing is waiting. Then it hands over: it clears
// writing and looks once more, because whatever was queued in between saw a
// writer running and did not start one. When the socket fails it exits with
// writing still set, so no writer starts again.
func (c *conn) write() {
	defer c.tasks.leave()
	for {
		c.hold()
		ok := c.writeAll()
		if !c.release() || !ok {
			return
		}
		authed := c.w.authed // read before handing the state over
		c.writing.Store(false)
		c.qmu.Lock()
		waiting := c.out.len() > 0 || (authed && c.events.len() > 0) || c.tick.Load()
		c.qmu.Unlock()
		if !waiting || !c.writing.CompareAndSwap(false, true) {
			return
		}
	}
}

// writeAll sends everything waiting. After the welcome the writer keeps a
// cursor, the offset of the last event the phone got, and sends each room
// event exactly once and in order: older ones are dropped, and a gap is
// filled from the store's log before the event that revealed it. Events go
// before frames queued after them, so an ack never overtakes its own effect;
// events wait until the welcome is sent. It reports false when the socket is
// failing.
func (c *conn) writeAll() bool {
	for {
		if c.ctx.Err() != nil {
			return false
		}
		if c.w.authed {
			for ev, ok := pop(c, &c.events); ok; ev, ok = pop(c, &c.events) {
				if !c.handleEvent(ev) {
					return false
				}
			}
		}
		if it, ok := pop(c, &c.out); ok {
			if !c.writeItem(it) {
				return false
			}
			continue
		}
		if c.tick.Swap(false) {
			if !c.release() {
				return false
			}
			err := c.s.rooms.Tick(c.ctx, c.member.Room)
			c.hold()
			if err != nil && c.ctx.Err() == nil && !room.IsRefusal(err) {
				c.s.log.Warn("round expiry failed", "room", logID(c.member.Room), "err", err)
			}
			continue
		}
		return true
	}
}

func (c *conn) writeItem(it *outItem) bool {
	if it.after > c.w.cursor && c.w.authed && !c.catchUp() {
		return false
	}
	switch {
	case it.welcome != nil:
		w := it.welcome.Welcome
		b, err := protocol.Marshal(w)
		if err != nil || !c.writeFrame(b) {
			return false
		}
		c.w.authed, c.w.epoch, c.w.cursor = true, w.Epoch, w.Offset
		c.setRoundTimer(it.welcome.RoundClosesAt)
		// Anything logged between the store's answer and the subscription
		// starting is fetched now.
		return c.catchUp()
	case it.close != 0:
		c.fail(it.close, it.closeMsg)
		return false
	default:
		return c.writeFrame(it.frame)
	}
}

// setRoundTimer arms the open round's expiry at Unix ms at (0: none). The
// server that first sees the deadline pass closes the round (Tick).
func (c *conn) setRoundTimer(at int64) {
	switch {
	case at <= 0:
		if c.w.timer != nil {
			c.w.timer.Stop()
		}
	case c.w.timer == nil:
		c.w.timer = time.AfterFunc(time.Until(time.UnixMilli(at))+50*time.Millisecond, c.roundEnded)
	default:
		// One timer per socket, re-armed for each round.
		c.w.timer.Reset(time.Until(time.UnixMilli(at)) + 50*time.Millisecond)
	}
}

func (c *conn) roundEnded() {
	c.tick.Store(true)
	c.kick()
}

// handleEvent sends one room event in order: older ones are dropped, and a
// gap is filled from the log.
func (c *conn) handleEvent(ev *protocol.Event) bool {
	if ev.Epoch != c.w.epoch || ev.Offset <= c.w.cursor {
		return true
	}
	if ev.Offset > c.w.cursor+1 {
		return c.catchUp()
	}
	return c.writeEvent(ev)
}

// frameBufs hold events while they are written: the WebSocket copies a
// frame before Write returns, so the buffer serves the next event at once.
var frameBufs = bufPool{size: 1 << 10, max: 64 << 10}

func (c *conn) writeEvent(ev *protocol.Event) bool {
	buf := frameBufs.get()
	*buf = protocol.AppendEvent(*buf, ev)
	ok := c.writeFrame(*buf)
	frameBufs.put(buf)
	if !ok {
		return false
	}
	c.w.cursor = ev.Offset
	c.s.m.Events.WithLabelValues(ev.Kind).Inc()
	switch ev.Kind {
	case protocol.KindRoundOpened:
		c.setRoundTimer(ev.ClosesAt)
	case protocol.KindRoundClosed:
		c.setRoundTimer(0)
	case protocol.KindErased:
		c.erased = true
		c.fail(closeErased, "room erased")
		return false
	case protocol.KindMoved, protocol.KindReplaced:
		// A live moved (or replaced) event about this socket's own seat: the seat went
		// to another device, whose welcome already covered this offset,
		// so this socket is the old device's. It is told, then closed.
		if ev.Seat == c.member.Seat {
			c.fail(closeMoved, "moved to another device")
			return false
		}
	}
	return true
}

// catchUp sends every logged event after the cursor, up to the newest.
func (c *conn) catchUp() bool {
	if !c.release() {
		return false
	}
	evs, complete, err := c.s.rooms.Since(c.ctx, c.member.Room, c.w.epoch, c.w.cursor)
	c.hold()
	if errors.Is(err, room.ErrNotFound) {
		// The room is gone. If it was erased, the erased event may be
		// waiting behind this catch-up: the phone must get it (and close
		// 4000) rather than a plain reconnect.
		for ev, ok := pop(c, &c.events); ok; ev, ok = pop(c, &c.events) {
			if ev.Kind == protocol.KindErased {
				c.writeEvent(ev)
				return false
			}
		}
		// Expired, or erased on another instance: resuming tells the phone
		// not_found.
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
	for i := range evs {
		if !c.writeEvent(&evs[i]) {
			return false
		}
	}
	return true
}

// hold starts a batch: the frames written until release go out in one
// write. The writer releases before it waits on the store (catchUp, Tick)
// and holds again after: frames ready to go, and the pings and close
// frames other goroutines write meanwhile, must not wait for a round trip.
func (c *conn) hold() {
	if c.batch != nil {
		c.batch.hold()
	}
}

// release sends the batch. It reports false when the socket is failing.
func (c *conn) release() bool {
	if c.batch == nil {
		return true
	}
	if err := c.batch.release(); err != nil {
		if c.ctx.Err() == nil {
			c.fail(websocket.StatusPolicyViolation, "write timeout")
		}
		return false
	}
	return true
}

func (c *conn) writeFrame(b []byte) bool {
	// Inside a batch the frame is only appended, so it needs no timeout of
	// its own: release bounds the write. Without one, the timeout is not
	// derived from c.ctx: cancelling a write mid-frame would cut the socket
	// without a close frame. fail stops the loop between frames.
	ctx := context.Background()
	if c.batch == nil {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, c.s.cfg.WriteTimeout)
		defer cancel()
	}
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

// fifo is a queue whose storage grows with use and is reused once empty.
// The conn's qmu guards it.
type fifo[T any] struct {
	items []T
	head  int
}

func (q *fifo[T]) len() int { return len(q.items) - q.head }

func (q *fifo[T]) push(v T) {
	if q.head > 0 && len(q.items) == cap(q.items) {
		// Reuse the room the writer freed at the front.
		n := copy(q.items, q.items[q.head:])
		clear(q.items[n:])
		q.items, q.head = q.items[:n], 0
	}
	q.items = append(q.items, v)
}

func (q *fifo[T]) pop() (T, bool) {
	var zero T
	if q.head == len(q.items) {
		return zero, false
	}
	v := q.items[q.head]
	q.items[q.head] = zero
	q.head++
	if q.head == len(q.items) {
		q.items, q.head = q.items[:0], 0
	}
	return v, true
}
