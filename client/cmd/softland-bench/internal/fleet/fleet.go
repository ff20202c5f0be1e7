// Package fleet is the benchmark's phones: pairs of sockets that speak the
// Softland protocol (or the floor's relay frames) directly, set up through
// create and join, then run check-in rounds on an open-loop schedule and
// check every frame; in this process or, when one process may not open
// that many sockets, in worker processes driven in lock step.
package fleet

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/maphash"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"softland/client/cmd/softland-bench/internal/floor"
	"softland/client/cmd/softland-bench/internal/report"
	"softland/client/cmd/softland-bench/internal/setup"
	"softland/client/keys"
	"softland/server/protocol"
)

// MinPairPeriod is the shortest time between two rounds of one pair. A
// round costs the busier seat up to five requests, and the server allows
// 20 per second per socket, so two rounds per second per pair keep every
// socket well inside its limit. A rate that would need more is cut, and
// the report says so.
const MinPairPeriod = 500 * time.Millisecond

// The benchmark speaks the protocol directly rather than through package
// client: one reader goroutine per socket and one driver goroutine per pair,
// no catalog, no rules, no key derivation beyond the join key, so that 40,000
// sockets fit beside the server on two cores and the client's own cost stays
// small and the same for softland and the floor.

// Wire is which server a Fleet talks to.
type Wire int

const (
	WireSoftland Wire = iota // the Softland protocol
	WireFloor                // the floor relay
)

// Kinds of frames a socket cares about, as small numbers.
const (
	kOther uint8 = iota
	kPaired
	kOpened
	kSubmitted
	kRevealed
	kPaused
	kUnpaused
	kClosed
	kPresence
	kindCount
)

var kindNames = [kindCount]string{
	kOther:     "other",
	kPaired:    protocol.KindPaired,
	kOpened:    protocol.KindRoundOpened,
	kSubmitted: protocol.KindRoundSubmitted,
	kRevealed:  protocol.KindRoundRevealed,
	kPaused:    protocol.KindPaused,
	kUnpaused:  protocol.KindUnpaused,
	kClosed:    protocol.KindRoundClosed,
	kPresence:  protocol.KindPresence,
}

func kindOf(s string) uint8 {
	for k, n := range kindNames {
		if k != int(kOther) && n == s {
			return uint8(k)
		}
	}
	return kOther
}

// Frame types a reader passes on.
const (
	tEvent uint8 = iota
	tWelcome
	tAck
	tError
	tOther
	tGone // the socket ended
)

// note is what a socket's reader tells its pair's driver about one frame.
type note struct {
	at     int64 // nanoseconds since the Fleet's base time
	offset uint64
	id     uint64
	hash   uint64 // of the raw frame, for reveals
	seat   uint8
	typ    uint8
	kind   uint8
	round  string // event's or ack's round; the room on a welcome
	code   string // error code, or why the socket ended
	reveal string
}

// Config is the workload of one Fleet: pairs First..First+Pairs-1 of
// TotalPairs. It crosses to worker processes as JSON.
type Config struct {
	Wire    Wire     `json:"Wire"`
	Servers []string `json:"servers"` // ws:// URLs
	// Split puts the two seats of a pair on different servers: with two
	// servers seat 1 on the first and seat 2 on the second, with more, pair i
	// on servers i and i+1. Otherwise pair i is on server i (both seats).
	Split       bool          `json:"split"`
	First       int           `json:"first"`
	Pairs       int           `json:"pairs"`
	TotalPairs  int           `json:"total_pairs"`
	PerSource   int           `json:"per_source"`
	Dialers     int           `json:"dialers"`
	StepTimeout time.Duration `json:"step_timeout"`
	PauseEvery  int           `json:"pause_every"`
	RevealSize  int           `json:"reveal_size"`

	Progress func(format string, args ...any) `json:"-"`
}

// server is the URL of pair's seat.
func (c *Config) server(pair, seat int) string {
	n := len(c.Servers)
	i := pair % n
	if !c.Split {
		return c.Servers[i]
	}
	if n == 2 {
		i = 0
	}
	return c.Servers[(i+seat)%n]
}

// Fleet is all pairs of one run, or a worker's share of them.
type Fleet struct {
	cfg     Config
	base    time.Time
	seed    maphash.Seed
	clients sync.Map // source index → *http.Client
	pairs   []*pair
	ctx     context.Context
	cancel  context.CancelFunc
	readers sync.WaitGroup

	setupErrs atomic.Int64
	errMu     sync.Mutex
	errSample map[string]int
}

func New(ctx context.Context, cfg Config) *Fleet {
	ctx, cancel := context.WithCancel(ctx)
	return &Fleet{cfg: cfg, base: time.Now(), seed: maphash.MakeSeed(), ctx: ctx, cancel: cancel, errSample: map[string]int{}}
}

func (f *Fleet) now() int64 { return int64(time.Since(f.base)) }

// noteErr remembers an error's kind (never its frames) for the report.
func (f *Fleet) noteErr(what string) {
	f.errMu.Lock()
	if len(f.errSample) < 50 || f.errSample[what] > 0 {
		f.errSample[what]++
	}
	f.errMu.Unlock()
}

// SourceIP is the n-th loopback source address: 127.0.0.2, 127.0.0.3, ...,
// skipping host parts 0, 1 and 255 in the last byte. Each address has its own
// ephemeral ports and its own per-address caps on the server.
func SourceIP(n int) net.IP {
	last := 2 + n%252
	n /= 252
	return net.IPv4(127, byte(n>>8), byte(n), byte(last))
}

// Client returns the HTTP client that dials from socket i's source address.
func (f *Fleet) Client(sock int) *http.Client {
	src := sock / f.cfg.PerSource
	if c, ok := f.clients.Load(src); ok {
		return c.(*http.Client)
	}
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: SourceIP(src)}, Timeout: 10 * time.Second}
	c, _ := f.clients.LoadOrStore(src, &http.Client{Transport: &http.Transport{
		DialContext:        d.DialContext,
		DisableCompression: true,
		MaxIdleConns:       1,
	}})
	return c.(*http.Client)
}

// sock is one phone's socket.
type sock struct {
	p    *pair
	seat uint8 // 0 for seat 1, 1 for seat 2
	ws   *websocket.Conn
	id   uint64 // the last request id (driver only)

	// Reader only.
	epoch string
	last  uint64
	buf   bytes.Buffer

	// Counted by the reader, read after it ended.
	gaps, dups, epochErrs, badFrames atomic.Int64
}

// pair is two sockets in one room, and the driver's state.
type pair struct {
	f     *Fleet
	idx   int
	s     [2]*sock
	notes chan note
	rng   *rand.Rand
	seq   uint64 // the floor's frame counter (driver only)
	setUp bool   // paired (or registered with the floor)
	ok    bool   // set up and not failed

	// Results, written by the driver, read after it ended.
	revealSender, revealPartner   []int64 // nanoseconds: the tapping phone, the other
	pause                         []int64
	missing, dups, unexpected     int64
	mismatched, wrong, errs, late int64 // late: rounds started after their tap was due
	rounds, submits, lateFrames   int64
	taps, unsent                  int64     // completed taps; taps due before the end never completed
	lastTap                       time.Time // due time of the last completed tap
	lastReveal                    int64     // when its reveal arrived (Fleet time)
	pending                       *want     // the step that timed out, if any
}

const noteBuffer = 32

// setup dials every pair and pairs it through the protocol (create, then
// join from the link's secret) or registers it with the floor.
func (f *Fleet) setup(ctx context.Context) time.Duration {
	f.pairs = make([]*pair, f.cfg.Pairs)
	for k := range f.pairs {
		i := f.cfg.First + k
		f.pairs[k] = &pair{f: f, idx: i, notes: make(chan note, noteBuffer), rng: rand.New(rand.NewPCG(uint64(i), uint64(f.base.UnixNano())))}
	}
	start := time.Now()
	setup.Pairs(ctx, len(f.pairs), f.cfg.Dialers, func(ctx context.Context, i int) bool {
		p := f.pairs[i]
		if err := p.setup(ctx); err != nil {
			f.setupErrs.Add(1)
			f.noteErr("setup: " + err.Error())
			return false
		}
		p.setUp, p.ok = true, true
		return true
	}, f.cfg.Progress)
	return time.Since(start)
}

func (p *pair) setup(ctx context.Context) error {
	f := p.f
	for seat := range 2 {
		ctx, cancel := context.WithTimeout(ctx, f.cfg.StepTimeout)
		ws, _, err := websocket.Dial(ctx, f.cfg.server(p.idx, seat), &websocket.DialOptions{
			HTTPClient:      f.Client(2*p.idx + seat),
			CompressionMode: websocket.CompressionDisabled,
		})
		cancel()
		if err != nil {
			return fmt.Errorf("dial: %s", errorKind(err))
		}
		ws.SetReadLimit(protocol.MaxServerFrameBytes)
		s := &sock{p: p, seat: uint8(seat), ws: ws}
		p.s[seat] = s
		f.readers.Add(1)
		go s.read()
	}
	if f.cfg.Wire == WireFloor {
		for seat := range 2 {
			w := want{ackSeat: seat}
			w.ackID = 1
			p.s[seat].id = 1
			if !p.send(seat, &protocol.Ping{Header: protocol.Header{Type: protocol.TypePing, ID: floor.HelloID(p.idx, seat)}}) || !p.await(&w) {
				return errors.New("floor registration failed")
			}
		}
		return nil
	}
	secret, err := keys.NewSecret()
	if err != nil {
		return err
	}
	k, err := keys.Derive(secret)
	if err != nil {
		return err
	}
	w := want{ackSeat: 0}
	w.ackID = p.nextID(0)
	if !p.send(0, &protocol.Create{Header: p.header(protocol.TypeCreate, 0), JoinKeyHash: k.JoinKeyHash()}) || !p.await(&w) {
		return errors.New("create failed: " + w.failure)
	}
	room := w.round
	w = want{ackSeat: 1}
	w.ev[0] = []uint8{kPaired}
	w.ackID = p.nextID(1)
	if !p.send(1, &protocol.Join{Header: p.header(protocol.TypeJoin, 1), Room: room, JoinKey: k.JoinKey()}) || !p.await(&w) {
		return errors.New("join failed: " + w.failure)
	}
	return nil
}

func (p *pair) nextID(seat int) uint64 {
	p.s[seat].id++
	return p.s[seat].id
}

// header is a request header with the seat's current id.
func (p *pair) header(typ string, seat int) protocol.Header {
	return protocol.Header{Type: typ, ID: strconv.FormatUint(p.s[seat].id, 10)}
}

// hdr is a request header whose id step sets.
func hdr(typ string) protocol.Header { return protocol.Header{Type: typ} }

// send writes one frame. Writes come only from the driver, one at a time.
func (p *pair) send(seat int, msg any) bool {
	b, err := protocol.Marshal(msg)
	if err != nil {
		p.errs++
		p.f.noteErr("marshal: " + err.Error())
		return false
	}
	if err := p.s[seat].ws.Write(context.Background(), websocket.MessageText, b); err != nil {
		p.errs++
		p.f.noteErr("write: " + errorKind(err))
		return false
	}
	return true
}

// want is what one step expects: events at each seat, and the answer to the
// request at the seat that sent it.
type want struct {
	ev      [2][]uint8 // kinds still expected per seat
	ackSeat int        // -1: no answer expected
	ackID   uint64
	gotAck  bool

	at      [2][kindCount]int64
	seen    [2][kindCount]uint8
	hash    [2]uint64
	reveal  [2]string
	round   string // from the answer
	failure string
}

func (w *want) done() bool {
	return len(w.ev[0]) == 0 && len(w.ev[1]) == 0 && (w.ackSeat < 0 || w.gotAck)
}

// await takes notes until w is met. Frames nobody expected are counted as
// duplicated (a second copy of an expected event) or unexpected; frames that
// do not come in time as missing. It reports whether the step succeeded.
func (p *pair) await(w *want) bool {
	t := time.NewTimer(p.f.cfg.StepTimeout)
	defer t.Stop()
	for !w.done() {
		select {
		case n := <-p.notes:
			if !p.take(w, n) {
				return false
			}
		case <-t.C:
			// What is still missing is lost unless it turns up by the end
			// of the run (finish): then it was only late.
			p.pending = w
			p.errs++
			w.failure = "timeout"
			p.f.noteErr("step timed out")
			return false
		case <-p.f.ctx.Done():
			w.failure = "stopped"
			return false
		}
	}
	return true
}

func (p *pair) take(w *want, n note) bool {
	seat := n.seat
	switch n.typ {
	case tEvent:
		if i := slices.Index(w.ev[seat], n.kind); i >= 0 {
			w.ev[seat] = slices.Delete(w.ev[seat], i, i+1)
			w.at[seat][n.kind] = n.at
			if n.kind == kRevealed {
				w.hash[seat], w.reveal[seat] = n.hash, n.reveal
			}
		} else if w.seen[seat][n.kind] > 0 {
			p.dups++
			p.f.noteErr("duplicate event: " + kindNames[n.kind])
		} else {
			p.unexpected++
			p.f.noteErr("unexpected event: " + kindNames[n.kind])
		}
		w.seen[seat][n.kind]++
	case tWelcome, tAck:
		if int(seat) == w.ackSeat && n.id == w.ackID && !w.gotAck {
			w.gotAck, w.round = true, n.round
		} else {
			p.unexpected++
			p.f.noteErr("unexpected answer")
		}
	case tError:
		p.errs++
		p.f.noteErr("error: " + n.code)
		if int(seat) == w.ackSeat && n.id == w.ackID {
			w.failure = n.code
			return false
		}
	case tGone:
		p.errs++
		p.f.noteErr("socket ended: " + n.code)
		w.failure = "socket ended"
		return false
	default:
		p.unexpected++
		p.f.noteErr("unexpected frame")
	}
	return true
}

// read is a socket's reader: it checks every event's epoch and offset
// (consecutive, no gap, no repeat) and passes a note to the driver.
func (s *sock) read() {
	defer s.p.f.readers.Done()
	f := s.p.f
	for {
		_, r, err := s.ws.Reader(context.Background())
		if err != nil {
			s.post(note{typ: tGone, code: errorKind(err)})
			return
		}
		at := f.now()
		s.buf.Reset()
		if _, err := s.buf.ReadFrom(r); err != nil {
			s.post(note{typ: tGone, code: errorKind(err)})
			return
		}
		n := note{at: at, seat: s.seat}
		if f.cfg.Wire == WireFloor {
			s.parseFloor(&n)
		} else {
			s.parseSoftland(&n)
		}
		s.post(n)
	}
}

// post hands a note to the driver without ever blocking the reader; a driver
// that has stopped reading notes makes them count as unexpected.
func (s *sock) post(n note) {
	select {
	case s.p.notes <- n:
	default:
		s.badFrames.Add(1)
	}
}

// frameView is the subset of every server frame the benchmark reads: an
// event's fields, plus what welcome, ack and error add.
type frameView struct {
	protocol.Event
	ID   string `json:"id"`
	Code string `json:"code"`
	Room string `json:"room"`
}

func (s *sock) parseSoftland(n *note) {
	b := s.buf.Bytes()
	var v frameView
	if err := json.Unmarshal(b, &v); err != nil {
		s.badFrames.Add(1)
		n.typ = tOther
		return
	}
	n.id, _ = strconv.ParseUint(v.ID, 10, 64)
	switch v.Type {
	case protocol.TypeEvent:
		n.typ, n.kind, n.offset, n.round = tEvent, kindOf(v.Kind), v.Offset, v.Round
		s.checkOffset(v.Epoch, v.Offset)
		if n.kind == kRevealed {
			n.hash, n.reveal = maphash.Bytes(s.p.f.seed, b), v.Reveal
		}
	case protocol.TypeWelcome:
		n.typ, n.round = tWelcome, v.Room
		s.epoch, s.last = v.Epoch, v.Offset
	case protocol.TypeAck:
		n.typ, n.round, n.offset = tAck, v.Round, v.Offset
	case protocol.TypeError:
		n.typ, n.code = tError, v.Code
	default:
		n.typ = tOther
	}
}

// checkOffset counts gaps and repeats in a socket's event offsets.
func (s *sock) checkOffset(epoch string, off uint64) {
	switch {
	case epoch != s.epoch:
		s.epochErrs.Add(1)
		return
	case off == s.last+1:
	case off <= s.last:
		s.dups.Add(1)
		return
	default:
		s.gaps.Add(int64(off - s.last - 1))
	}
	s.last = off
}

// parseFloor reads a floor frame: its id is "r.<pair>.<seat>" for the
// registration echo, and "f<offset>.<kind>" for everything relayed.
func (s *sock) parseFloor(n *note) {
	b := s.buf.Bytes()
	id := floor.FrameID(b)
	if strings.HasPrefix(id, "r.") {
		n.typ, n.id = tWelcome, 1
		return
	}
	num, kind, ok := strings.Cut(strings.TrimPrefix(id, "f"), ".")
	off, err := strconv.ParseUint(num, 10, 64)
	if !ok || err != nil {
		s.badFrames.Add(1)
		n.typ = tOther
		return
	}
	n.typ, n.kind, n.offset = tEvent, kindOf(kind), off
	s.checkOffset("", off)
	if n.kind == kRevealed {
		n.hash = maphash.Bytes(s.p.f.seed, b)
	}
}

// load runs check-in rounds on every pair that was set up, open loop: pair
// i's k-th tap (the submit that completes its round) is due at
// start+period*(i/TotalPairs+k), for every k with a due time before
// start+dur, whether or not the server kept up. A pair prepares a round
// (round.open and the first submit) PrepLead before the tap is due, or
// as soon as the previous round is closed when it is behind, sends the tap at its due time or, when it is behind, at once, and every
// latency is measured from the due time, so a server that falls behind shows
// its queue rather than slowing the schedule (no coordinated omission). A
// pair still behind at cutoff stops; the taps it still owed are counted as
// unsent, and their wait until cutoff is taken as their latency, a lower
// bound.
func (f *Fleet) load(ctx context.Context, start time.Time, period, dur, grace time.Duration) {
	end := start.Add(dur)
	cutoff := end.Add(grace)
	var wg sync.WaitGroup
	for _, p := range f.pairs {
		if !p.ok {
			continue
		}
		first := start.Add(time.Duration(int64(period) * int64(p.idx) / int64(max(1, f.cfg.TotalPairs))))
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.drive(ctx, first, period, end, cutoff)
		}()
	}
	wg.Wait()
}

func (p *pair) drive(ctx context.Context, due time.Time, period time.Duration, end, cutoff time.Time) {
	var lastStart time.Time
	for r := 0; due.Before(end); r, due = r+1, due.Add(period) {
		// Two rounds of a pair never start closer than MinPairPeriod, even
		// when catching up, so no socket runs into the server's per-socket
		// request limit; the wait counts in the latency like any other.
		// A round is prepared (opened, first submit) PrepLead before its
		// tap is due, so preparations are spread like the taps rather than
		// all sent at once at the start.
		prep := due.Add(-PrepLead(period))
		if !lastStart.IsZero() {
			prep = later(prep, lastStart.Add(MinPairPeriod))
		}
		if !p.wait(ctx, prep, cutoff) {
			p.owe(due, period, end, cutoff)
			return
		}
		lastStart = time.Now()
		if !lastStart.Before(cutoff) {
			p.owe(due, period, end, cutoff)
			return
		}
		if time.Now().After(due) {
			p.late++
		}
		if !p.round(ctx, r, due, cutoff) {
			if ctx.Err() == nil && time.Now().Before(cutoff) {
				p.ok = false
			}
			p.owe(due, period, end, cutoff)
			return
		}
	}
}

// PrepLead is how long before its tap a round is prepared: half a period,
// at most a second. The load's start is at least this far ahead.
func PrepLead(period time.Duration) time.Duration { return min(period/2, time.Second) }

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// wait sleeps until t; it reports false when ctx ends or t is past cutoff.
func (p *pair) wait(ctx context.Context, t, cutoff time.Time) bool {
	if !t.Before(cutoff) {
		return false
	}
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	tm := time.NewTimer(d)
	defer tm.Stop()
	select {
	case <-tm.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// owe records the taps from due on that were scheduled before end but never
// completed: each counts as unsent, with its wait until cutoff as a lower
// bound of its latency at both phones.
func (p *pair) owe(due time.Time, period time.Duration, end, cutoff time.Time) {
	for ; due.Before(end); due = due.Add(period) {
		if p.tapDone(due) {
			continue
		}
		p.unsent++
		d := int64(cutoff.Sub(due))
		p.revealSender = append(p.revealSender, d)
		p.revealPartner = append(p.revealPartner, d)
	}
}

// tapDone reports whether the tap due then completed (the round that owns
// it got as far as the reveal before failing or running out of time).
func (p *pair) tapDone(due time.Time) bool { return !p.lastTap.IsZero() && !due.After(p.lastTap) }

// step sends msg from seat and waits for kinds at both seats (and, on
// Softland, the answer). On the floor the frame's id carries the next offset
// and the kind the relay's copies stand for.
func (p *pair) step(seat int, msg interface{ SetID(string) }, floorKind uint8, kinds ...uint8) (*want, bool) {
	w := &want{ackSeat: -1}
	if p.f.cfg.Wire == WireFloor {
		p.seq++
		msg.SetID("f" + strconv.FormatUint(p.seq, 10) + "." + kindNames[floorKind])
		w.ev[0], w.ev[1] = []uint8{floorKind}, []uint8{floorKind}
	} else {
		w.ackSeat, w.ackID = seat, p.nextID(seat)
		msg.SetID(strconv.FormatUint(w.ackID, 10))
		w.ev[0], w.ev[1] = slices.Clone(kinds), slices.Clone(kinds)
	}
	return w, p.send(seat, msg) && p.await(w)
}

// round is one check-in: one seat opens and answers first; at the tap's due
// time (or at once, when the pair is behind) the other completes the pair
// (the measured tap); in every PauseEvery-th round one seat pauses and lifts
// it; and the round is closed. Seats take turns.
func (p *pair) round(ctx context.Context, r int, due, cutoff time.Time) bool {
	first, second := r%2, 1-r%2
	w, ok := p.step(first, &protocol.RoundOpen{Header: hdr(protocol.TypeRoundOpen)}, kOpened, kOpened)
	if !ok {
		return false
	}
	roundID := w.round
	if p.f.cfg.Wire == WireFloor {
		roundID = fakeUUID(p.rng)
	}
	subs, expect := p.tokens()
	if _, ok := p.step(first, &protocol.Submit{Header: hdr(protocol.TypeSubmit), Round: roundID, Tokens: subs[first]}, kSubmitted, kSubmitted); !ok {
		return false
	}
	p.submits++
	if !p.wait(ctx, due, cutoff) {
		return false
	}
	t0 := int64(due.Sub(p.f.base))
	w, ok = p.step(second, &protocol.Submit{Header: hdr(protocol.TypeSubmit), Round: roundID, Tokens: subs[second]}, kRevealed, kSubmitted, kRevealed)
	if !ok {
		return false
	}
	p.submits++
	p.taps++
	p.lastTap = due
	p.revealSender = append(p.revealSender, w.at[second][kRevealed]-t0)
	p.revealPartner = append(p.revealPartner, w.at[first][kRevealed]-t0)
	if at := max(w.at[0][kRevealed], w.at[1][kRevealed]); at > p.lastReveal {
		p.lastReveal = at
	}
	if w.hash[0] != w.hash[1] {
		p.mismatched++
		p.f.noteErr("reveal frames differ between the phones")
	}
	if p.f.cfg.Wire == WireSoftland && (w.reveal[0] != expect || w.reveal[1] != expect) {
		p.wrong++
		p.f.noteErr("reveal is not the expected mutual top K")
	}
	// Pairs take turns, so some pause in every round of the run, whatever
	// its length.
	if n := p.f.cfg.PauseEvery; n > 0 && (r+p.idx)%n == n-1 {
		who := ((r + p.idx) / n) % 2
		t0 := p.f.now()
		w, ok := p.step(who, &protocol.Pause{Header: hdr(protocol.TypePause)}, kPaused, kPaused)
		if !ok {
			return false
		}
		p.pause = append(p.pause, w.at[1-who][kPaused]-t0)
		if _, ok := p.step(who, &protocol.Unpause{Header: hdr(protocol.TypeUnpause)}, kUnpaused, kUnpaused); !ok {
			return false
		}
	}
	if _, ok := p.step(second, &protocol.RoundClose{Header: hdr(protocol.TypeRoundClose), Round: roundID}, kClosed, kClosed); !ok {
		return false
	}
	p.rounds++
	return true
}

// sharedTokens is how many tokens both seats put in a round: more than K, so
// the reveal is cut and its order matters.
const sharedTokens = 6

// tokens makes both seats' submissions for a round in wire form, the way a
// phone does (§3.4): real tokens at positions 0..n-1 by preference, random
// decoys at the rest. It returns the reveal the server must send, in wire
// form: the shared tokens by rank sum, ties by their bytes, cut to K.
func (p *pair) tokens() ([2]string, string) {
	var shared [sharedTokens]protocol.Token
	for i := range shared {
		shared[i] = p.randToken()
	}
	var subs [2]string
	var ranks [2][sharedTokens]int
	for seat := range 2 {
		var set [protocol.TokenSetSize]protocol.Token
		for i, r := range p.rng.Perm(sharedTokens) {
			set[r] = shared[i]
			ranks[seat][i] = r
		}
		for i := sharedTokens; i < len(set); i++ {
			set[i] = p.randToken()
		}
		subs[seat] = protocol.EncodeTokens(set[:])
	}
	order := make([]int, sharedTokens)
	for i := range order {
		order[i] = i
	}
	slices.SortFunc(order, func(a, b int) int {
		sa, sb := ranks[0][a]+ranks[1][a], ranks[0][b]+ranks[1][b]
		if sa != sb {
			return sa - sb
		}
		return bytes.Compare(shared[a][:], shared[b][:])
	})
	expect := make([]protocol.Token, 0, sharedTokens)
	for _, i := range order[:min(len(order), p.f.cfg.RevealSize)] {
		expect = append(expect, shared[i])
	}
	return subs, protocol.EncodeTokens(expect)
}

func (p *pair) randToken() protocol.Token {
	var t protocol.Token
	for i := 0; i < len(t); i += 8 {
		v := p.rng.Uint64()
		for j := range 8 {
			t[i+j] = byte(v >> (8 * j))
		}
	}
	return t
}

// fakeUUID is a round id for the floor, which has no rounds of its own.
func fakeUUID(r *rand.Rand) string {
	var b [16]byte
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	const hex = "0123456789abcdef"
	out := make([]byte, 0, 36)
	for i, c := range b {
		if i == 4 || i == 6 || i == 8 || i == 10 {
			out = append(out, '-')
		}
		out = append(out, hex[c>>4], hex[c&15])
	}
	return string(out)
}

// finish waits for stray frames after the last round and counts them: a
// correct server sends nothing once every expected frame has arrived. Frames
// a timed-out step was still waiting for are awaited up to one more step
// timeout: those that come are late, the rest are lost.
func (f *Fleet) finish(quiet time.Duration) {
	time.Sleep(quiet)
	deadline := time.Now().Add(f.cfg.StepTimeout)
	for _, p := range f.pairs {
		p.drain(deadline)
	}
}

func (p *pair) drain(deadline time.Time) {
	f := p.f
	for {
		var n note
		select {
		case n = <-p.notes:
		default:
			w := p.pending
			if w == nil || w.done() || !time.Now().Before(deadline) {
				if w != nil {
					p.missing += int64(len(w.ev[0]) + len(w.ev[1]))
					if w.ackSeat >= 0 && !w.gotAck {
						p.missing++
					}
				}
				p.pending = nil
				return
			}
			t := time.NewTimer(time.Until(deadline))
			select {
			case n = <-p.notes:
				t.Stop()
			case <-t.C:
				continue
			}
		}
		if w := p.pending; w != nil && (n.typ == tEvent || n.typ == tAck || n.typ == tWelcome) {
			if n.typ == tEvent {
				if i := slices.Index(w.ev[n.seat], n.kind); i >= 0 {
					w.ev[n.seat] = slices.Delete(w.ev[n.seat], i, i+1)
					p.lateFrames++
					continue
				}
			} else if int(n.seat) == w.ackSeat && n.id == w.ackID && !w.gotAck {
				w.gotAck = true
				p.lateFrames++
				continue
			}
		}
		switch n.typ {
		case tGone:
			p.errs++
			f.noteErr("socket ended: " + n.code)
		case tError:
			p.errs++
			f.noteErr("error: " + n.code)
		default:
			p.unexpected++
			f.noteErr("stray frame after the run")
		}
	}
}

// close ends every socket at once, without a close handshake (the run is
// over; the server's bookkeeping of it is not measured), and waits for the
// readers.
func (f *Fleet) close() {
	f.cancel()
	for _, p := range f.pairs {
		for _, s := range p.s {
			if s != nil {
				s.ws.CloseNow()
			}
		}
	}
	f.readers.Wait()
}

// errorKind is report.ErrorKind, or else the start of the error's text.
func errorKind(err error) string {
	if k, ok := report.ErrorKind(err); ok {
		return k
	}
	s := err.Error()
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}
