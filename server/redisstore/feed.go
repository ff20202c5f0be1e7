package redisstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"softland/server/protocol"
	"softland/server/room"
)

// How subscriptions work
//
// All of a Feed's subscribers share one Pub/Sub connection. Three parties
// touch it, each with one job:
//
//   - Subscribe and cancel only change f.groups (under f.mu) and mark the
//     room dirty; they never write to the connection.
//   - manage is the only goroutine that sends SUBSCRIBE and UNSUBSCRIBE, pings
//     the connection when it is silent, replaces it when a ping goes
//     unanswered, and retries failed catch-ups.
//   - receive is the only goroutine that reads the connection. It delivers
//     live events and, on every subscription confirmation, catches up from
//     the log.
//
// Every delivery happens under f.mu and only in offset order (g.last), so it
// does not matter which goroutine delivers, and once cancel returns its
// callback is never called again.

// Feed is the live side of the Redis store: it hands the events of the
// rooms watched here to their subscribers, in offset order and without loss
// (see the package comment), over one Pub/Sub connection. It also keeps each
// watched room's latest state for the Store (the state cache), because it
// lives exactly as long as a phone of the room is connected here. It is safe
// for concurrent use.
type Feed struct {
	client redis.UniversalClient
	opt    Options
	log    *slog.Logger

	ctx    context.Context // ends on Close
	cancel context.CancelFunc
	wg     sync.WaitGroup
	kick   chan struct{} // wakes the manager: subscriptions changed

	mu      sync.Mutex
	closed  bool
	groups  map[string]*group   // room id → its local subscribers
	dirty   map[string]struct{} // rooms whose channel subscription must be reconciled
	cur     *pubsubConn
	nextSub uint64

	activity atomic.Int64 // UnixNano of the last thing read from Pub/Sub
	failing  atomic.Bool  // receive is getting errors and reconnecting
}

// NewFeed returns a Feed over client and starts its goroutines; Close stops
// them. The client stays the caller's to close, after the Feed.
func NewFeed(client redis.UniversalClient, opts Options) *Feed {
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	f := &Feed{
		client: client,
		opt:    opts,
		log:    opts.Logger,
		ctx:    ctx,
		cancel: cancel,
		kick:   make(chan struct{}, 1),
		groups: make(map[string]*group),
		dirty:  make(map[string]struct{}),
	}
	f.cur = f.newPubSub()
	f.activity.Store(time.Now().UnixNano())
	f.wg.Add(2)
	go f.receive()
	go f.manage()
	return f
}

// Close stops the feed's goroutines and closes its Pub/Sub connection.
// Subscribers hear nothing more. The feed must not be used afterwards.
func (f *Feed) Close() error {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return nil
	}
	f.closed = true
	cur := f.cur
	f.mu.Unlock()
	f.cancel()
	err := cur.ps.Close()
	f.wg.Wait()
	if errors.Is(err, redis.ErrClosed) {
		err = nil
	}
	return err
}

// Ping reports whether Redis answers: the edge's /readyz asks it.
func (f *Feed) Ping(ctx context.Context) error {
	if err := f.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redisstore: ping: %w", err)
	}
	return nil
}

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
	// raw and state are the room's state as the Store last wrote or read
	// it, encoded and decoded (cached, latest). state is shared: never
	// changed in place, only replaced.
	raw   []byte
	state *room.State
}

// pubsubConn is one Pub/Sub connection and its bookkeeping.
type pubsubConn struct {
	ps *redis.PubSub
	// unsubs counts UNSUBSCRIBEs sent on ps and not yet confirmed, by
	// channel: a subscribe confirmation that arrives while one is pending
	// answers an older SUBSCRIBE and is stale. Guarded by Feed.mu.
	unsubs map[string]int
	// channels mirrors what ps is subscribed to. Only manage touches it.
	channels map[string]bool
}

func (f *Feed) newPubSub() *pubsubConn {
	return &pubsubConn{
		ps:       f.client.Subscribe(f.ctx),
		unsubs:   make(map[string]int),
		channels: make(map[string]bool),
	}
}

// Subscribe implements edge.Feed. The first subscriber of a room costs one
// read (where the room's log stands), so that the first confirmation can
// catch up on everything logged since this call; the Pub/Sub subscription
// itself is made in the background. WaitSubscribed waits for it.
func (f *Feed) Subscribe(id string, deliver func(protocol.Event)) (cancel func()) {
	f.mu.Lock()
	g := f.groups[id]
	f.mu.Unlock()
	var (
		last  uint64
		known bool
	)
	if g == nil && validID(id) {
		ctx, cancel := context.WithTimeout(f.ctx, subscribeTimeout)
		n, err := lastOffset(ctx, f.client, id)
		cancel()
		last, known = n, err == nil
	}

	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return func() {}
	}
	g = f.groups[id]
	if g == nil {
		g = &group{subs: make(map[uint64]func(protocol.Event)), last: last, known: known, ready: make(chan struct{})}
		f.groups[id] = g
		f.dirty[id] = struct{}{}
		f.poke()
	}
	f.nextSub++
	key := f.nextSub
	g.subs[key] = deliver
	var once sync.Once
	return func() {
		once.Do(func() {
			f.mu.Lock()
			defer f.mu.Unlock()
			delete(g.subs, key)
			if len(g.subs) == 0 && f.groups[id] == g {
				delete(f.groups, id)
				f.dirty[id] = struct{}{}
				f.poke()
			}
		})
	}
}

// poke wakes manage without blocking.
func (f *Feed) poke() {
	select {
	case f.kick <- struct{}{}:
	default:
	}
}

// WaitSubscribed returns once Redis has confirmed the subscription to the
// room's channel (and the feed has caught up from the log), so that every
// event logged from then on reaches the room's subscribers. When nobody here
// subscribes to the room it returns at once. Tests use it; the edge does not
// need it, because it fills gaps itself.
func (f *Feed) WaitSubscribed(ctx context.Context, id string) error {
	for {
		f.mu.Lock()
		g := f.groups[id]
		if g == nil {
			f.mu.Unlock()
			return nil // nothing to wait for
		}
		if g.confirmed {
			f.mu.Unlock()
			return nil
		}
		ready := g.ready
		f.mu.Unlock()
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
func (f *Feed) catchUp(id string, g *group) error {
	f.mu.Lock()
	if f.groups[id] != g {
		f.mu.Unlock()
		return nil
	}
	known, from := g.known, g.last+1
	f.mu.Unlock()

	ctx, cancel := context.WithTimeout(f.ctx, subscribeTimeout)
	defer cancel()
	if !known {
		last, err := lastOffset(ctx, f.client, id)
		if err != nil {
			return err
		}
		f.mu.Lock()
		if !g.known {
			g.last, g.known = last, true
		}
		f.mu.Unlock()
		return nil
	}
	// Usually nothing was missed: one small read says so. Only when there is
	// something does the feed read it with the state, for the reveals.
	msgs, err := f.client.XRangeN(ctx, logKey(id), strconv.FormatUint(from, 10)+"-0", "+", 1).Result()
	if err != nil {
		return err
	}
	if len(msgs) == 0 {
		return nil
	}
	st, evs, err := readLog(ctx, f.client, id, from)
	if errors.Is(err, room.ErrNotFound) {
		return nil // erased or expired: nothing more will come
	}
	if err != nil {
		return err
	}
	st.RestoreReveals(evs)
	f.mu.Lock()
	if f.groups[id] == g {
		// The log is the truth: what it no longer holds is gone, and the
		// subscribers see the gap and fall back to a snapshot.
		deliverLocked(g, evs, true)
	}
	f.mu.Unlock()
	return nil
}

// receive reads the Pub/Sub connection until Close.
func (f *Feed) receive() {
	defer f.wg.Done()
	failing := false
	wait := 50 * time.Millisecond
	for {
		f.mu.Lock()
		if f.closed {
			f.mu.Unlock()
			return
		}
		pc := f.cur
		f.mu.Unlock()

		msg, err := pc.ps.Receive(f.ctx)
		if err != nil {
			if f.ctx.Err() != nil {
				return
			}
			var rerr redis.Error
			if errors.As(err, &rerr) {
				continue // an error reply; the connection is fine
			}
			if !f.lost(pc) {
				continue // pc was replaced; read the new one at once
			}
			if !failing {
				failing = true
				f.failing.Store(true)
				f.log.Warn("redis pubsub connection lost; reconnecting", "err", err)
			}
			if sleep(f.ctx, wait) != nil {
				return
			}
			wait = min(2*wait, time.Second)
			continue
		}
		if failing {
			failing = false
			f.failing.Store(false)
			f.log.Info("redis pubsub connection restored")
		}
		wait = 50 * time.Millisecond
		f.activity.Store(time.Now().UnixNano())
		switch m := msg.(type) {
		case *redis.Subscription:
			f.onSubscription(pc, m)
		case *redis.Message:
			f.onMessage(m)
		}
	}
}

// lost records that pc's connection failed: its subscriptions must be
// confirmed again, and UNSUBSCRIBEs sent on it will not be. It reports
// whether pc is still the current connection.
func (f *Feed) lost(pc *pubsubConn) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	clear(pc.unsubs)
	if pc != f.cur {
		return false
	}
	f.unconfirmLocked()
	return true
}

func (f *Feed) unconfirmLocked() {
	for _, g := range f.groups {
		if g.confirmed {
			g.confirmed = false
			g.ready = make(chan struct{})
		}
	}
}

func (f *Feed) onSubscription(pc *pubsubConn, m *redis.Subscription) {
	id, ok := roomOfChannel(m.Channel)
	if !ok {
		return
	}
	f.mu.Lock()
	switch m.Kind {
	case "unsubscribe":
		if pc.unsubs[m.Channel] > 0 {
			if pc.unsubs[m.Channel]--; pc.unsubs[m.Channel] == 0 {
				delete(pc.unsubs, m.Channel)
			}
		}
		f.mu.Unlock()
		return
	case "subscribe":
	default:
		f.mu.Unlock()
		return
	}
	g := f.groups[id]
	if pc != f.cur || pc.unsubs[m.Channel] > 0 || g == nil {
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()

	// Anything logged while the channel was not subscribed is in the log.
	err := f.catchUp(id, g)
	f.mu.Lock()
	defer f.mu.Unlock()
	if err != nil {
		g.retry = true
		f.log.Warn("redis catch-up after subscribe failed; will retry", "err", err)
	}
	if f.groups[id] == g && f.cur == pc && !g.confirmed {
		g.confirmed = true
		close(g.ready)
	}
}

// seen reports whether a wake-up ending at offset last brings nothing the
// room's group here lacks: no group, or its subscribers have had every event
// up to last and its cached state is not behind. The full path would then
// deliver nothing and keep the cache, so the events need no decoding.
func (f *Feed) seen(id string, last uint64) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.groups[id]
	return g == nil || (g.known && last <= g.last && (g.state == nil || last <= g.state.Offset))
}

func (f *Feed) onMessage(m *redis.Message) {
	id, ok := roomOfChannel(m.Channel)
	if !ok {
		return
	}
	last, payload, ok := parseWakeUp(m.Payload)
	if !ok {
		f.log.Warn("redis wake-up message is not an offset and a list of events")
		return
	}
	if last > 0 && f.seen(id, last) {
		// Nothing new: usually this instance's own commit, whose events
		// its subscribers already have (committed). Not decoded at all.
		return
	}
	var evs []protocol.Event
	if err := json.Unmarshal([]byte(payload), &evs); err != nil || len(evs) == 0 {
		f.log.Warn("redis wake-up message is not a list of events")
		return
	}
	f.mu.Lock()
	g := f.groups[id]
	if g == nil {
		f.mu.Unlock()
		return
	}
	if !g.known {
		g.last, g.known = evs[0].Offset-1, true
	}
	if g.state != nil && evs[len(evs)-1].Offset > g.state.Offset {
		// Another writer committed (usually another instance): the cached
		// state is behind. Dropped, the next update reads the room (GET)
		// instead of sending a whole commit that is bound to fail.
		g.raw, g.state = nil, nil
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
		f.mu.Unlock()
		return
	}
	f.mu.Unlock()

	// A wake-up went missing: fill the gap from the log first. If that
	// fails, deliver anyway; subscribers see the gap and ask Since.
	if err := f.catchUp(id, g); err != nil {
		f.log.Warn("redis catch-up on a gap failed", "err", err)
	}
	f.mu.Lock()
	if f.groups[id] == g {
		deliverLocked(g, evs, true)
	}
	f.mu.Unlock()
}

// manage keeps the Pub/Sub subscriptions in line with f.groups, checks the
// connection's health and retries failed catch-ups.
func (f *Feed) manage() {
	defer f.wg.Done()
	tick := time.NewTicker(min(time.Second, f.opt.HealthInterval))
	defer tick.Stop()
	var pingedAt time.Time
	for {
		select {
		case <-f.ctx.Done():
			return
		case <-f.kick:
			f.reconcile()
		case now := <-tick.C:
			f.retryCatchUps()
			last := time.Unix(0, f.activity.Load())
			switch {
			case now.Sub(last) < f.opt.HealthInterval:
				pingedAt = time.Time{}
			case pingedAt.IsZero() || last.After(pingedAt):
				pingedAt = now
				f.mu.Lock()
				ps := f.cur.ps
				f.mu.Unlock()
				ctx, cancel := context.WithTimeout(f.ctx, f.opt.HealthInterval)
				ps.Ping(ctx) // the answer arrives through receive
				cancel()
			case now.Sub(pingedAt) >= f.opt.HealthInterval && !f.failing.Load():
				// While receive reports errors it is reconnecting already.
				pingedAt = time.Time{}
				f.log.Warn("redis pubsub connection silent; replacing it")
				f.replace()
			}
		}
	}
}

// reconcile subscribes to the channels of new rooms and unsubscribes from
// those nobody here watches any more.
func (f *Feed) reconcile() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	pc := f.cur
	var sub, unsub []string
	for id := range f.dirty {
		ch := wakeChannel(id)
		want := f.groups[id] != nil
		switch {
		case want && (!pc.channels[ch] || !f.groups[id].confirmed):
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
	clear(f.dirty)
	f.mu.Unlock()

	// go-redis remembers the channels even when the command fails and
	// subscribes them again on its next connection, so errors need no retry
	// here: the confirmation then comes with that connection.
	ctx, cancel := context.WithTimeout(f.ctx, subscribeTimeout)
	defer cancel()
	if len(unsub) > 0 {
		if err := pc.ps.Unsubscribe(ctx, unsub...); err != nil {
			f.log.Debug("redis unsubscribe failed", "err", err)
		}
	}
	if len(sub) > 0 {
		if err := pc.ps.Subscribe(ctx, sub...); err != nil {
			f.log.Debug("redis subscribe failed", "err", err)
		}
	}
}

// replace swaps the Pub/Sub connection for a new one subscribed to every
// room watched here. Its confirmations make receive catch up from the log.
func (f *Feed) replace() {
	f.mu.Lock()
	if f.closed {
		f.mu.Unlock()
		return
	}
	old := f.cur
	pc := f.newPubSub()
	chans := make([]string, 0, len(f.groups))
	for id := range f.groups {
		ch := wakeChannel(id)
		chans = append(chans, ch)
		pc.channels[ch] = true
	}
	clear(f.dirty)
	f.cur = pc
	f.unconfirmLocked()
	f.mu.Unlock()

	old.ps.Close() // ends receive's read on it
	if len(chans) > 0 {
		ctx, cancel := context.WithTimeout(f.ctx, subscribeTimeout)
		defer cancel()
		if err := pc.ps.Subscribe(ctx, chans...); err != nil {
			f.log.Debug("redis subscribe failed", "err", err)
		}
	}
}

// retryCatchUps runs again the catch-ups that failed.
func (f *Feed) retryCatchUps() {
	f.mu.Lock()
	var ids []string
	var gs []*group
	for id, g := range f.groups {
		if g.retry {
			g.retry = false
			ids = append(ids, id)
			gs = append(gs, g)
		}
	}
	f.mu.Unlock()
	for i, id := range ids {
		if err := f.catchUp(id, gs[i]); err != nil {
			f.mu.Lock()
			gs[i].retry = true
			f.mu.Unlock()
		}
	}
}

// cached returns a copy of the room's state when b is exactly the encoding
// the store last wrote or read for it, sparing a decode. Only rooms with
// subscribers here keep one (in their group), so the cache lives and dies
// with them. A copy, because callers change what they get.
func (f *Feed) cached(id string, b []byte) *room.State {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if g := f.groups[id]; g != nil && g.state != nil && bytes.Equal(g.raw, b) {
		return g.state.Clone()
	}
	return nil
}

// latest returns the newest state of the room the store has seen, or nil
// when it keeps none (nobody here subscribes to the room). It may be stale:
// another instance may have committed since. It is shared, so the caller
// must not change it.
func (f *Feed) latest(id string) *room.State {
	if f == nil {
		return nil
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if g := f.groups[id]; g != nil {
		return g.state
	}
	return nil
}

// remember keeps a copy of st, encoded as b, for cached and latest.
func (f *Feed) remember(id string, b []byte, st *room.State) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if g := f.groups[id]; g != nil {
		keepLocked(g, b, st.Clone())
	}
}

// keepLocked makes st, encoded as b, g's cached state unless g already
// holds a newer one: a read that overtook a commit must not set the cache
// back. (Versions only grow, and one version is one content.)
func keepLocked(g *group, b []byte, st *room.State) {
	if g.state == nil || st.Version >= g.state.Version {
		g.raw, g.state = b, st
	}
}

// committed tells the room's group here, if it has one, about a commit:
// it keeps the new state for cached, and hands the commit's events to the
// group's subscribers at once, before Update returns, when they have had
// everything up to after. Otherwise they would wait for the round trip
// through Pub/Sub, and the phone that acted would get its ack only after the
// edge read the log to find the events the ack must follow. The wake-up,
// when it comes back, finds them delivered and is skipped (deliverLocked). A
// group that is behind gets them in order through Pub/Sub and the log as
// before.
func (f *Feed) committed(id string, raw []byte, next *room.State, after uint64, evs []protocol.Event) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	g := f.groups[id]
	if g == nil {
		return
	}
	keepLocked(g, raw, next.Clone())
	if len(evs) > 0 && g.known && g.last == after {
		deliverLocked(g, evs, false)
	}
}

// forget drops the room's cached state: an erased room is erased here too.
func (f *Feed) forget(id string) {
	if f == nil {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if g := f.groups[id]; g != nil {
		g.raw, g.state = nil, nil
	}
}
