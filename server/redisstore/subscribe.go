package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"strconv"
	"sync"
	"time"

	"github.com/redis/go-redis/v9"

	"softland/server/protocol"
	"softland/server/room"
)

// How subscriptions work
//
// All of a Store's subscribers share one Pub/Sub connection. Three parties
// touch it, each with one job:
//
//   - Subscribe and cancel only change s.groups (under s.mu) and mark the
//     room dirty; they never write to the connection.
//   - manage is the only goroutine that sends SUBSCRIBE and UNSUBSCRIBE, pings
//     the connection when it is silent, replaces it when a ping goes
//     unanswered, and retries failed catch-ups.
//   - receive is the only goroutine that reads the connection. It delivers
//     live events and, on every subscription confirmation, catches up from
//     the log.
//
// Every delivery happens under s.mu and only in offset order (g.last), so it
// does not matter which goroutine delivers, and once cancel returns its
// callback is never called again.

// group is one room's local subscribers and how far they have been served.
type group struct {
	subs map[uint64]func(protocol.Event)
	// last is the offset of the last event delivered, or the offset the
	// room's log stood at when the group was created. known is false when
	// that could not be read; the first confirmation or message sets it.
	last  uint64
	known bool
	// confirmed is set when Redis confirmed the channel subscription on the
	// current connection; ready is closed at that moment.
	confirmed bool
	ready     chan struct{}
	// retry says a catch-up failed and manage must try it again.
	retry bool
	// raw and state are the room's state as this store last wrote or read
	// it, encoded and decoded (Store.cached).
	raw   []byte
	state *room.State
}

// pubsubConn is one Pub/Sub connection and its bookkeeping.
type pubsubConn struct {
	ps *redis.PubSub
	// unsubs counts UNSUBSCRIBEs sent on ps and not yet confirmed, by
	// channel: a subscribe confirmation that arrives while one is pending
	// answers an older SUBSCRIBE and is stale. Guarded by Store.mu.
	unsubs map[string]int
	// channels mirrors what ps is subscribed to. Only manage touches it.
	channels map[string]bool
}

func (s *Store) newPubSub() *pubsubConn {
	return &pubsubConn{
		ps:       s.client.Subscribe(s.ctx),
		unsubs:   make(map[string]int),
		channels: make(map[string]bool),
	}
}

// Subscribe implements room.Store. The first subscriber of a room costs one
// read (where the room's log stands), so that the first confirmation can
// catch up on everything logged since this call; the Pub/Sub subscription
// itself is made in the background. WaitSubscribed waits for it.
func (s *Store) Subscribe(id string, deliver func(protocol.Event)) (cancel func()) {
	s.mu.Lock()
	g := s.groups[id]
	s.mu.Unlock()
	var (
		last  uint64
		known bool
	)
	if g == nil && validID(id) {
		ctx, cancel := context.WithTimeout(s.ctx, subscribeTimeout)
		n, err := s.lastOffset(ctx, id)
		cancel()
		last, known = n, err == nil
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return func() {}
	}
	g = s.groups[id]
	if g == nil {
		g = &group{subs: make(map[uint64]func(protocol.Event)), last: last, known: known, ready: make(chan struct{})}
		s.groups[id] = g
		s.dirty[id] = struct{}{}
		s.poke()
	}
	s.nextSub++
	key := s.nextSub
	g.subs[key] = deliver
	var once sync.Once
	return func() {
		once.Do(func() {
			s.mu.Lock()
			defer s.mu.Unlock()
			delete(g.subs, key)
			if len(g.subs) == 0 && s.groups[id] == g {
				delete(s.groups, id)
				s.dirty[id] = struct{}{}
				s.poke()
			}
		})
	}
}

// poke wakes manage without blocking.
func (s *Store) poke() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// WaitSubscribed returns once Redis has confirmed the subscription to the
// room's channel (and the store has caught up from the log), so that every
// event logged from then on reaches the room's subscribers. When nobody here
// subscribes to the room it returns at once. Tests use it; the edge does not
// need it, because it fills gaps itself.
func (s *Store) WaitSubscribed(ctx context.Context, id string) error {
	for {
		s.mu.Lock()
		g := s.groups[id]
		if g == nil {
			s.mu.Unlock()
			return nil // nothing to wait for
		}
		if g.confirmed {
			s.mu.Unlock()
			return nil
		}
		ready := g.ready
		s.mu.Unlock()
		select {
		case <-ready:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// deliverLocked hands evs to g's subscribers, skipping what they already
// had. With gapOK false it stops at the first event that does not follow
// the last one delivered.
func deliverLocked(g *group, evs []protocol.Event, gapOK bool) {
	for _, ev := range evs {
		if ev.Offset <= g.last {
			continue
		}
		if ev.Offset != g.last+1 && !gapOK {
			return
		}
		for _, d := range g.subs {
			d(ev)
		}
		g.last = ev.Offset
	}
}

// catchUp delivers what the room's log holds beyond what g delivered. A
// group whose starting point is unknown starts from the log's end.
func (s *Store) catchUp(id string, g *group) error {
	s.mu.Lock()
	if s.groups[id] != g {
		s.mu.Unlock()
		return nil
	}
	known, from := g.known, g.last+1
	s.mu.Unlock()

	ctx, cancel := context.WithTimeout(s.ctx, subscribeTimeout)
	defer cancel()
	if !known {
		last, err := s.lastOffset(ctx, id)
		if err != nil {
			return err
		}
		s.mu.Lock()
		if !g.known {
			g.last, g.known = last, true
		}
		s.mu.Unlock()
		return nil
	}
	// Usually nothing was missed: one small read says so. Only when there is
	// something does the store read it with the state, for the reveals.
	msgs, err := s.client.XRangeN(ctx, logKey(id), strconv.FormatUint(from, 10)+"-0", "+", 1).Result()
	if err != nil {
		return err
	}
	if len(msgs) == 0 {
		return nil
	}
	st, evs, err := s.readLog(ctx, id, from)
	if errors.Is(err, room.ErrNotFound) {
		return nil // erased or expired: nothing more will come
	}
	if err != nil {
		return err
	}
	st.RestoreReveals(evs)
	s.mu.Lock()
	if s.groups[id] == g {
		// The log is the truth: what it no longer holds is gone, and the
		// subscribers see the gap and fall back to a snapshot.
		deliverLocked(g, evs, true)
	}
	s.mu.Unlock()
	return nil
}

// receive reads the Pub/Sub connection until Close.
func (s *Store) receive() {
	defer s.wg.Done()
	failing := false
	wait := 50 * time.Millisecond
	for {
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			return
		}
		pc := s.cur
		s.mu.Unlock()

		msg, err := pc.ps.Receive(s.ctx)
		if err != nil {
			if s.ctx.Err() != nil {
				return
			}
			var rerr redis.Error
			if errors.As(err, &rerr) {
				continue // an error reply; the connection is fine
			}
			if !s.lost(pc) {
				continue // pc was replaced; read the new one at once
			}
			if !failing {
				failing = true
				s.failing.Store(true)
				s.log.Warn("redis pubsub connection lost; reconnecting", "err", err)
			}
			if sleep(s.ctx, wait) != nil {
				return
			}
			wait = min(2*wait, time.Second)
			continue
		}
		if failing {
			failing = false
			s.failing.Store(false)
			s.log.Info("redis pubsub connection restored")
		}
		wait = 50 * time.Millisecond
		s.activity.Store(time.Now().UnixNano())
		switch m := msg.(type) {
		case *redis.Subscription:
			s.onSubscription(pc, m)
		case *redis.Message:
			s.onMessage(m)
		}
	}
}

// lost records that pc's connection failed: its subscriptions must be
// confirmed again, and UNSUBSCRIBEs sent on it will not be. It reports
// whether pc is still the current connection.
func (s *Store) lost(pc *pubsubConn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(pc.unsubs)
	if pc != s.cur {
		return false
	}
	s.unconfirmLocked()
	return true
}

func (s *Store) unconfirmLocked() {
	for _, g := range s.groups {
		if g.confirmed {
			g.confirmed = false
			g.ready = make(chan struct{})
		}
	}
}

func (s *Store) onSubscription(pc *pubsubConn, m *redis.Subscription) {
	id, ok := roomOfChannel(m.Channel)
	if !ok {
		return
	}
	s.mu.Lock()
	switch m.Kind {
	case "unsubscribe":
		if pc.unsubs[m.Channel] > 0 {
			if pc.unsubs[m.Channel]--; pc.unsubs[m.Channel] == 0 {
				delete(pc.unsubs, m.Channel)
			}
		}
		s.mu.Unlock()
		return
	case "subscribe":
	default:
		s.mu.Unlock()
		return
	}
	g := s.groups[id]
	if pc != s.cur || pc.unsubs[m.Channel] > 0 || g == nil {
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()

	// Anything logged while the channel was not subscribed is in the log.
	err := s.catchUp(id, g)
	s.mu.Lock()
	defer s.mu.Unlock()
	if err != nil {
		g.retry = true
		s.log.Warn("redis catch-up after subscribe failed; will retry", "err", err)
	}
	if s.groups[id] == g && s.cur == pc && !g.confirmed {
		g.confirmed = true
		close(g.ready)
	}
}

func (s *Store) onMessage(m *redis.Message) {
	id, ok := roomOfChannel(m.Channel)
	if !ok {
		return
	}
	var evs []protocol.Event
	if err := json.Unmarshal([]byte(m.Payload), &evs); err != nil || len(evs) == 0 {
		s.log.Warn("redis wake-up message is not a list of events")
		return
	}
	s.mu.Lock()
	g := s.groups[id]
	if g == nil {
		s.mu.Unlock()
		return
	}
	if !g.known {
		g.last, g.known = evs[0].Offset-1, true
	}
	gap := false
	for _, ev := range evs {
		if ev.Offset > g.last {
			gap = ev.Offset != g.last+1
			break
		}
	}
	if !gap {
		deliverLocked(g, evs, false)
		s.mu.Unlock()
		return
	}
	s.mu.Unlock()

	// A wake-up went missing: fill the gap from the log first. If that
	// fails, deliver anyway; subscribers see the gap and ask Since.
	if err := s.catchUp(id, g); err != nil {
		s.log.Warn("redis catch-up on a gap failed", "err", err)
	}
	s.mu.Lock()
	if s.groups[id] == g {
		deliverLocked(g, evs, true)
	}
	s.mu.Unlock()
}

// manage keeps the Pub/Sub subscriptions in line with s.groups, checks the
// connection's health, retries failed catch-ups, and renews the instance
// lease (lease.go).
func (s *Store) manage() {
	defer s.wg.Done()
	tick := time.NewTicker(min(time.Second, s.opt.HealthInterval, s.opt.Lease/3))
	defer tick.Stop()
	var pingedAt time.Time
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.kick:
			s.reconcile()
		case now := <-tick.C:
			s.leaseTick(now)
			s.retryCatchUps()
			last := time.Unix(0, s.activity.Load())
			switch {
			case now.Sub(last) < s.opt.HealthInterval:
				pingedAt = time.Time{}
			case pingedAt.IsZero() || last.After(pingedAt):
				pingedAt = now
				s.mu.Lock()
				ps := s.cur.ps
				s.mu.Unlock()
				ctx, cancel := context.WithTimeout(s.ctx, s.opt.HealthInterval)
				ps.Ping(ctx) // the answer arrives through receive
				cancel()
			case now.Sub(pingedAt) >= s.opt.HealthInterval && !s.failing.Load():
				// While receive reports errors it is reconnecting already.
				pingedAt = time.Time{}
				s.log.Warn("redis pubsub connection silent; replacing it")
				s.replace()
			}
		}
	}
}

// reconcile subscribes to the channels of new rooms and unsubscribes from
// those nobody here watches any more.
func (s *Store) reconcile() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	pc := s.cur
	var sub, unsub []string
	for id := range s.dirty {
		ch := wakeChannel(id)
		want := s.groups[id] != nil
		switch {
		case want && (!pc.channels[ch] || !s.groups[id].confirmed):
			// Subscribing again to a channel already subscribed is how a
			// new group of a room whose old group just left gets its own
			// confirmation.
			sub = append(sub, ch)
			pc.channels[ch] = true
		case !want && pc.channels[ch]:
			unsub = append(unsub, ch)
			delete(pc.channels, ch)
			pc.unsubs[ch]++
		}
	}
	clear(s.dirty)
	s.mu.Unlock()

	// go-redis remembers the channels even when the command fails and
	// subscribes them again on its next connection, so errors need no retry
	// here: the confirmation then comes with that connection.
	ctx, cancel := context.WithTimeout(s.ctx, subscribeTimeout)
	defer cancel()
	if len(unsub) > 0 {
		if err := pc.ps.Unsubscribe(ctx, unsub...); err != nil {
			s.log.Debug("redis unsubscribe failed", "err", err)
		}
	}
	if len(sub) > 0 {
		if err := pc.ps.Subscribe(ctx, sub...); err != nil {
			s.log.Debug("redis subscribe failed", "err", err)
		}
	}
}

// replace swaps the Pub/Sub connection for a new one subscribed to every
// room watched here. Its confirmations make receive catch up from the log.
func (s *Store) replace() {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	old := s.cur
	pc := s.newPubSub()
	chans := make([]string, 0, len(s.groups))
	for id := range s.groups {
		ch := wakeChannel(id)
		chans = append(chans, ch)
		pc.channels[ch] = true
	}
	clear(s.dirty)
	s.cur = pc
	s.unconfirmLocked()
	s.mu.Unlock()

	old.ps.Close() // ends receive's read on it
	if len(chans) > 0 {
		ctx, cancel := context.WithTimeout(s.ctx, subscribeTimeout)
		defer cancel()
		if err := pc.ps.Subscribe(ctx, chans...); err != nil {
			s.log.Debug("redis subscribe failed", "err", err)
		}
	}
}

// retryCatchUps runs again the catch-ups that failed.
func (s *Store) retryCatchUps() {
	s.mu.Lock()
	var ids []string
	var gs []*group
	for id, g := range s.groups {
		if g.retry {
			g.retry = false
			ids = append(ids, id)
			gs = append(gs, g)
		}
	}
	s.mu.Unlock()
	for i, id := range ids {
		if err := s.catchUp(id, gs[i]); err != nil {
			s.mu.Lock()
			gs[i].retry = true
			s.mu.Unlock()
		}
	}
}
