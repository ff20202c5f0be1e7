// Package redisstore keeps rooms in Redis, so that several Softland instances
// behind a load balancer share them: the two partners of a room may sit on
// different instances and still see every event of the room, in order.
//
// It has three parts, which New builds over one client as a Node: the Store
// (room.Store: the rooms' states and event logs, this file), the Feed (the
// rooms' live events over Pub/Sub, with catch-up from the log, for the edge;
// feed.go) and the Leases (room.SeatHolder: this instance's lease and the
// seats it holds, and the sweep for instances that died; lease.go).
//
// # Keys
//
// A room is two keys with one hash tag, so that it lives in one Cluster slot
// and every script below may touch both:
//
//	sl:{<roomID>}:state  the room.State as JSON
//	sl:{<roomID>}:log    a stream, the room's event log: entry <offset>-1, field "e" = the event as JSON
//
// The log keeps each event as room.ForLog makes it, without revealed tokens;
// those live only in the state, while their round is open. Every commit sets
// both keys' TTL to the idle TTL, so a room nobody uses expires whole.
// Nothing else is stored of a room (its seats' Web Push subscriptions are
// in its state); each instance keeps a lease and the list of connections it
// holds (lease.go), which name rooms but hold nothing of them, and all share
// one VAPID key, sl:vapid (vapid.go), which names no room. Wake-ups travel
// on the Pub/Sub channel sl:{<roomID>}:wake, which is not a key; they carry
// the events whole.
//
// # Why compare-and-set and not one script per operation
//
// The room logic (take at most two seats, submit and intersect, pause,
// release debriefs together, ...) is written once, in Go, in package room, and
// the memory store and this store run the very same code. Rewriting each step
// in Lua would mean two implementations that must never drift. Instead Update
// is optimistic: it takes the state, runs the room's update function on a
// private copy in Go, and commits with one Lua script that writes only if the
// stored Version is still the one it started from. The script saves the new
// state, appends the events to the log, refreshes the TTLs and publishes the
// wake-up, all atomically; when another writer won the race, it answers with
// the state as stored, and Update reruns the function on that (room.Store
// allows that), with a small jittered backoff and a bounded number of
// attempts. So every step of the room logic is atomic in Redis exactly as it
// is under the memory store's lock, and the logic stays in one place; the
// script checks versions, never rules. A room has few writers (two phones
// and their housekeeping), so conflicts are rare and cheap.
//
// Where the state comes from decides the cost. A room with a phone
// connected here is watched (Subscribe), and its latest state is cached with
// its subscribers, so Update goes straight to the commit: one round trip.
// Otherwise, or when the cache was behind, it is two (a read, or the failed
// commit that brings the state, then the commit); the version check keeps a
// stale cache from ever committing. Keeping the token sets in keys of their
// own would shrink what most commits send, but not the round trips;
// intersecting them in Redis (sorted sets) would also move part of the room's
// rules into the scripts.
//
// A commit is sent at most once: go-redis does not retry it. A commit whose
// answer is lost may have landed, and sent again it would look like a lost
// race and make Update apply the change twice; so it is an error for the
// caller, as any unreachable store is.
//
// # Wake-ups and the lossless log
//
// The log stream is the source of truth; Pub/Sub only wakes other instances
// up. Each commit publishes the committed events themselves, so the common
// path needs no second round trip, and the Feed's own subscribers of the
// room get a commit's events straight from Update (Feed.committed). A
// Feed multiplexes every room its subscribers watch over one classic
// Pub/Sub connection (not sharded Pub/Sub).
// Whenever Redis confirms a subscription, first or again after a reconnect,
// the feed reads the log from the last offset it delivered for that room and
// delivers what it missed, so a dropped connection loses no event. A message
// whose first event does not follow the last one delivered also makes the
// feed read the gap from the log first. Events read back from the log get
// their revealed tokens from the state's open round, as room.Service.Since
// does for phones that resume.
//
// # What survives a Redis restart
//
// Rooms survive a restart of Redis only when Redis persists data (AOF or
// snapshots, set up by the operator). A Redis that restarts without
// persistence comes back empty: every room is gone and phones are told
// not_found, exactly as if their room had expired. Either way the instances
// reconnect by themselves; while Redis is unreachable, requests fail with
// "unavailable" and /readyz reports 503.
//
// # Connecting
//
// NewClient builds the client from a Config, which the command fills from
// its flags and their environment twins:
//
//	one node   SOFTLAND_REDIS_URL=redis://[user:password@]host:6379[/db]   (rediss:// for TLS)
//	Sentinel   SOFTLAND_REDIS_ADDRS=s1:26379,s2:26379,s3:26379 SOFTLAND_REDIS_MASTER=mymaster
//	Cluster    SOFTLAND_REDIS_ADDRS=n1:6379,n2:6379,n3:6379   (no master name)
//
// With addresses, SOFTLAND_REDIS_USERNAME, SOFTLAND_REDIS_PASSWORD,
// SOFTLAND_REDIS_SENTINEL_PASSWORD and SOFTLAND_REDIS_TLS=true complete them.
// go-redis's own log lines can name Pub/Sub channels, hence room ids; the
// command silences them, and the store logs connection trouble without them.
package redisstore

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strconv"
	"strings"
	"time"

	jsonv2 "github.com/go-json-experiment/json"
	"github.com/redis/go-redis/v9"

	"softland/server/protocol"
	"softland/server/room"
)

// Defaults for Options.
const (
	DefaultLogSize        = 256
	DefaultIdleTTL        = room.DefaultIdleTTL
	DefaultHealthInterval = 5 * time.Second

	// maxAttempts bounds how often Update reruns after losing a race.
	maxAttempts = 64
	// backoffBase and backoffCap bound the jittered wait between attempts.
	backoffBase = time.Millisecond
	backoffCap  = 64 * time.Millisecond
	// subscribeTimeout bounds the one read Subscribe makes for a new room,
	// and each catch-up read.
	subscribeTimeout = 2 * time.Second
	// deleteTimeout bounds Delete, which outlives its caller's context.
	deleteTimeout = 10 * time.Second
)

// Options configure a Store. Zero values take the defaults.
type Options struct {
	// LogSize is how many recent events each room keeps for resume. A phone
	// further behind gets a snapshot. Redis trims the stream approximately,
	// so it may hold a few more entries; Since never uses them.
	LogSize int
	// IdleTTL is how long a room lives after its last change.
	IdleTTL time.Duration
	// HealthInterval is how long the Pub/Sub connection may stay silent
	// before the store pings it; a ping unanswered for as long again makes
	// the store replace the connection (and catch up from the log).
	HealthInterval time.Duration
	// Logger receives connection problems. Lines never carry room ids,
	// tokens or payloads. Nil discards them.
	Logger *slog.Logger
	// Lease is how long this instance is taken for alive after it last
	// renewed its lease (see lease.go); it renews every Lease/3.
	Lease time.Duration
}

// Store is the Redis room store: rooms' states and event logs (room.Store).
// It is safe for concurrent use. Its live events travel through a Feed, and
// the instance's seats through Leases; New builds all three.
type Store struct {
	client redis.UniversalClient
	opt    Options
	// feed caches the states of the rooms it watches, which spares Update a
	// read (see Update), and hands a commit's events to its subscribers at
	// once. Nil: every update reads first, and events come through Pub/Sub.
	feed *Feed
}

var _ room.Store = (*Store)(nil)

// NewStore returns a Store over client. feed, when not nil, is the Feed of
// this instance over the same Redis.
func NewStore(client redis.UniversalClient, opts Options, feed *Feed) *Store {
	return &Store{client: client, opt: opts.withDefaults(), feed: feed}
}

// Node is one instance's part of Redis, over one client: the room store, the
// feed of live events, and the instance's lease and held seats. Its methods
// are its parts'; Close closes the feed and the lease. Wire it as
// main does: the Store to room.Options.Store, the Leases to
// room.Options.Seats and their OnOrphaned and OnRevived to the Service's
// Orphaned and Revived, and the Feed to the edge.
type Node struct {
	*Store
	*Feed
	*Leases
}

// New returns a Node over client and starts its goroutines; Close stops
// them. The client stays the caller's to close, after the Node. It takes this
// instance's lease first, waiting up to Lease/2 for Redis.
//
// Give the client ContextTimeoutEnabled (NewClient does), so that the
// deadlines of callers, such as /readyz's, bound each command.
func New(client redis.UniversalClient, opts Options) *Node {
	feed := NewFeed(client, opts)
	return &Node{Store: NewStore(client, opts, feed), Feed: feed, Leases: NewLeases(client, opts)}
}

// Close stops the feed and gives up the lease. The node must not be used
// afterwards.
func (n *Node) Close() error {
	err := n.Feed.Close()
	n.Leases.Close()
	return err
}

// Ping reports whether Redis answers.
func (n *Node) Ping(ctx context.Context) error { return n.Store.Ping(ctx) }

func (o Options) withDefaults() Options {
	if o.LogSize <= 0 {
		o.LogSize = DefaultLogSize
	}
	if o.IdleTTL <= 0 {
		o.IdleTTL = DefaultIdleTTL
	}
	if o.HealthInterval <= 0 {
		o.HealthInterval = DefaultHealthInterval
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	if o.Lease <= 0 {
		o.Lease = DefaultLease
	}
	return o
}

// Keys. The hash tag {id} puts all of a room in one Cluster slot.
func stateKey(id string) string { return "sl:{" + id + "}:state" }
func logKey(id string) string   { return "sl:{" + id + "}:log" }
func wakeChannel(id string) string {
	return "sl:{" + id + "}:wake"
}

// roomOfChannel returns the room id of a wake channel.
func roomOfChannel(ch string) (string, bool) {
	id, ok := strings.CutPrefix(ch, "sl:{")
	if !ok {
		return "", false
	}
	return strings.CutSuffix(id, "}:wake")
}

// validID keeps a room id from reaching into another key's name. Room ids
// are UUIDs; the edge refuses anything else before it gets here.
func validID(id string) bool { return id != "" && !strings.ContainsAny(id, "{}") }

// Scripts. Each touches only the keys of one room, named in KEYS.
var (
	// createScript saves a new room unless the id is taken, and drops any
	// stray log of that id. KEYS: state, log. ARGV: state JSON, TTL (ms).
	createScript = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  redis.call('DEL', KEYS[2])
  return 1
end
return 0
`)

	// lastScript returns the offset of the newest logged event, 0 for none.
	// KEYS: log.
	lastScript = redis.NewScript(`
local r = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
if #r == 0 then return 0 end
return tonumber(string.match(r[1][1], '^(%d+)'))
`)
)

// commitSrc is Update's compare-and-set. It commits only if the stored
// state's version is still ARGV[1]: it saves the new state, appends each event
// to the log under its offset, refreshes both TTLs and publishes the wake-up
// on the wake channel. It returns 1 when it committed, 0 when
// another writer was first, -1 when the room is gone.
//
// The version is read with an anchored pattern over the prefix Go's encoder
// writes ({"id":..,"epoch":..,"version":N), which costs nothing however large
// the state; should the layout ever change, cjson decodes the whole value.
//
// KEYS: state, log. ARGV: version read, new state, TTL (ms), log size,
// channel, the wake-up (wakeUp: the last offset, then the events whole as
// one JSON array), then pairs of stream id and the event as the log keeps it.
const commitSrc = `
local cur = redis.call('GET', KEYS[1])
if not cur then return -1 end
local v = string.match(cur, '^{"id":"[^"]*","epoch":"[^"]*","version":(%d+)[,}]')
if v then v = tonumber(v) else v = cjson.decode(cur)['version'] end
if v ~= tonumber(ARGV[1]) then return cur end
redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3])
for i = 7, #ARGV, 2 do
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[4], ARGV[i], 'e', ARGV[i+1])
end
redis.call('PEXPIRE', KEYS[2], ARGV[3])
if #ARGV >= 7 then
  redis.call('PUBLISH', ARGV[5], ARGV[6])
end
return 1
`

var commitSHA = redis.NewScript(commitSrc).Hash()

// noRetry is a command go-redis must send at most once. A commit whose
// answer was lost may have committed; sent again it would find its own
// version gone, report a conflict, and Update would apply the change twice.
// So a commit that fails in transit is an error for the caller instead.
type noRetry struct{ *redis.Cmd }

func (noRetry) NoRetry() bool { return true }

// evalOnce runs a script with EVALSHA, or EVAL when Redis does not have it
// cached, without go-redis's retries.
func evalOnce(ctx context.Context, c redis.UniversalClient, sha, src string, keys []string, args ...any) *redis.Cmd {
	build := func(verb, body string) *redis.Cmd {
		a := make([]any, 0, 3+len(keys)+len(args))
		a = append(a, verb, body, len(keys))
		for _, k := range keys {
			a = append(a, k)
		}
		return redis.NewCmd(ctx, append(a, args...)...)
	}
	cmd := build("evalsha", sha)
	c.Process(ctx, noRetry{cmd})
	if redis.HasErrorPrefix(cmd.Err(), "NOSCRIPT") {
		cmd = build("eval", src)
		c.Process(ctx, noRetry{cmd})
	}
	return cmd
}

// Create implements room.Store.
func (s *Store) Create(ctx context.Context, st *room.State) error {
	if !validID(st.ID) {
		return &room.Error{Code: protocol.CodeInternal, Msg: "bad room id"}
	}
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("redisstore: create: %w", err)
	}
	n, err := createScript.Run(ctx, s.client, []string{stateKey(st.ID), logKey(st.ID)}, b, s.ttl()).Int()
	if err != nil {
		return fmt.Errorf("redisstore: create: %w", err)
	}
	if n != 1 {
		return &room.Error{Code: protocol.CodeInternal, Msg: "room id collision"}
	}
	return nil
}

func (s *Store) ttl() int64 { return s.opt.IdleTTL.Milliseconds() }

// Load implements room.Store.
func (s *Store) Load(ctx context.Context, id string) (*room.State, error) {
	st, err := s.get(ctx, id)
	if err != nil {
		return nil, wrap("load", err)
	}
	return st, nil
}

// get reads and decodes a room's state.
func (s *Store) get(ctx context.Context, id string) (*room.State, error) {
	if !validID(id) {
		return nil, room.ErrNotFound
	}
	b, err := s.client.Get(ctx, stateKey(id)).Bytes()
	if errors.Is(err, redis.Nil) {
		return nil, room.ErrNotFound
	}
	if err != nil {
		return nil, err
	}
	return s.decode(id, b)
}

// decode decodes a stored state of room id, sparing the work when b is the
// encoding this store last saw of it (cached).
func (s *Store) decode(id string, b []byte) (*room.State, error) {
	if st := s.feed.cached(id, b); st != nil {
		return st, nil
	}
	st, err := decodeState(b)
	if err == nil {
		s.feed.remember(id, b, st)
	}
	return st, err
}

// decodeState decodes a stored state with json v2, which decodes it about
// three times as fast as encoding/json (the state of an answered round holds
// two sets of 64 tokens). It is the store's own encoding/json output, so the
// two agree on every field: v2 only adds that names must match exactly and
// once, which that output always does.
func decodeState(b []byte) (*room.State, error) {
	st := new(room.State)
	if err := jsonv2.Unmarshal(b, st); err != nil {
		// Saved by a protocol version 1 server, with a round open?
		return room.StateFromV1(b)
	}
	return st, nil
}

// wrap names the operation in a store failure; refusals pass as they are.
func wrap(op string, err error) error {
	if err == nil || room.IsRefusal(err) {
		return err
	}
	return fmt.Errorf("redisstore: %s: %w", op, err)
}

// Update implements room.Store. fn runs on a fresh copy of the room's state
// on every attempt; see the package comment for why.
//
// The common path is one round trip. When this store watches the room (a
// phone of it is connected here), it keeps the room's latest state, and
// Update runs fn on that and goes straight to the compare-and-set. The cache
// may be stale (the partner's instance committed since): then the script
// finds another version, commits nothing and answers with the state as
// stored, which the next attempt runs on without reading it again. So a
// stale cache costs the two round trips a read and a commit cost, and can
// never commit over a newer state. (Once a wake-up shows another writer's
// commit, the feed drops the cached state, and Update reads first: the same
// two round trips, without sending a commit bound to fail.) Only a commit is checked that way: when fn
// refuses, or finds nothing to change, on the cached state, that verdict may
// rest on a stale state, so Update reads the room and asks fn again.
func (s *Store) Update(ctx context.Context, id string, fn func(*room.State) ([]protocol.Event, error)) (*room.State, []protocol.Event, error) {
	if !validID(id) {
		return nil, nil, room.ErrNotFound
	}
	cur := s.feed.latest(id)
	cached := cur != nil
	for attempt := 0; ; attempt++ {
		if cur == nil {
			var err error
			if cur, err = s.get(ctx, id); err != nil {
				return nil, nil, wrap("update", err)
			}
		}
		next := cur.Clone()
		evs, err := fn(next)
		if err != nil && cached {
			cur, cached = nil, false // confirm the verdict on the stored state
			continue
		}
		if err == room.ErrUnchanged {
			return cur, nil, nil
		}
		if err != nil {
			return nil, nil, err
		}
		raw, stored, err := s.commit(ctx, cur, next, evs)
		if err != nil {
			return nil, nil, wrap("update", err)
		}
		if raw != nil {
			s.feed.committed(id, raw, next, cur.Offset, evs)
			return next, evs, nil
		}
		if cur, err = s.decode(id, stored); err != nil {
			return nil, nil, wrap("update", err)
		}
		if attempt+1 >= maxAttempts {
			return nil, nil, fmt.Errorf("redisstore: update: still racing other writers after %d attempts", maxAttempts)
		}
		if cached {
			// Not a race, most likely: the cache was behind. Retry at once.
			cached = false
			continue
		}
		if err := sleep(ctx, backoff(attempt)); err != nil {
			return nil, nil, wrap("update", err)
		}
	}
}

// commit runs the compare-and-set script. It returns the state as stored
// when it committed; when another writer changed the room since cur, it
// returns nil and the state Redis holds instead.
func (s *Store) commit(ctx context.Context, cur, next *room.State, evs []protocol.Event) (committed, stored []byte, err error) {
	// The log must stay a run of consecutive offsets ending at the state's.
	off := cur.Offset
	for _, ev := range evs {
		if ev.Offset != off+1 {
			return nil, nil, errors.New("events do not continue the room's offsets")
		}
		off = ev.Offset
	}
	if next.Offset != off {
		return nil, nil, errors.New("state offset does not match its events")
	}
	next.Version = cur.Version + 1
	b, err := json.Marshal(next)
	if err != nil {
		return nil, nil, err
	}
	events, err := json.Marshal(evs)
	if err != nil {
		return nil, nil, err
	}
	wake := wakeUp(next.Offset, events)
	args := make([]any, 0, 6+2*len(evs))
	args = append(args, cur.Version, b, s.ttl(), s.opt.LogSize, wakeChannel(next.ID), wake)
	for _, ev := range evs {
		logged := room.ForLog(ev)
		e, err := json.Marshal(&logged)
		if err != nil {
			return nil, nil, err
		}
		args = append(args, strconv.FormatUint(ev.Offset, 10)+"-1", e)
	}
	res, err := evalOnce(ctx, s.client, commitSHA, commitSrc, []string{stateKey(next.ID), logKey(next.ID)}, args...).Result()
	if err != nil {
		return nil, nil, err
	}
	switch r := res.(type) {
	case int64:
		if r == 1 {
			return b, nil, nil
		}
		return nil, nil, room.ErrNotFound
	case string:
		return nil, []byte(r), nil
	}
	return nil, nil, fmt.Errorf("commit script answered %T", res)
}

// backoff returns a random wait before attempt+1, growing with attempt.
func backoff(attempt int) time.Duration {
	d := backoffCap
	if attempt < 6 {
		d = min(backoffBase<<attempt, backoffCap)
	}
	return d/2 + rand.N(d/2+1)
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Since implements room.Store. The state and the log are read in one
// transaction. The log is the last LogSize offsets up to the state's, even
// when Redis's approximate trimming kept a few more.
func (s *Store) Since(ctx context.Context, id, epoch string, after uint64) ([]protocol.Event, bool, error) {
	st, evs, err := readLog(ctx, s.client, id, after+1)
	if err != nil {
		return nil, false, wrap("since", err)
	}
	switch {
	case epoch != st.Epoch || after > st.Offset:
		return nil, false, nil
	case after == st.Offset:
		return nil, true, nil
	case st.Offset-after > uint64(s.opt.LogSize):
		return nil, false, nil
	}
	for i, ev := range evs {
		if ev.Offset != after+1+uint64(i) {
			return nil, false, nil
		}
	}
	if len(evs) == 0 || evs[len(evs)-1].Offset < st.Offset {
		return nil, false, nil
	}
	return evs, true, nil
}

// decodeEntries decodes log entries into events.
func decodeEntries(msgs []redis.XMessage) ([]protocol.Event, error) {
	evs := make([]protocol.Event, 0, len(msgs))
	for _, m := range msgs {
		e, ok := m.Values["e"].(string)
		if !ok {
			return nil, errors.New("log entry without an event")
		}
		var ev protocol.Event
		if err := json.Unmarshal([]byte(e), &ev); err != nil {
			return nil, errors.New("log entry is not a valid event")
		}
		evs = append(evs, ev)
	}
	return evs, nil
}

// readLog returns the room's state and its logged events from offset from
// on, read in one transaction. The events are as the log keeps them.
func readLog(ctx context.Context, c redis.UniversalClient, id string, from uint64) (*room.State, []protocol.Event, error) {
	if !validID(id) {
		return nil, nil, room.ErrNotFound
	}
	var get *redis.StringCmd
	var xr *redis.XMessageSliceCmd
	_, err := c.TxPipelined(ctx, func(p redis.Pipeliner) error {
		get = p.Get(ctx, stateKey(id))
		xr = p.XRange(ctx, logKey(id), strconv.FormatUint(from, 10)+"-0", "+")
		return nil
	})
	if errors.Is(get.Err(), redis.Nil) {
		return nil, nil, room.ErrNotFound
	}
	if err != nil {
		return nil, nil, err
	}
	b, _ := get.Bytes()
	st, err := decodeState(b)
	if err != nil {
		return nil, nil, err
	}
	evs, err := decodeEntries(xr.Val())
	if err != nil {
		return nil, nil, err
	}
	return st, evs, nil
}

// lastOffset returns the offset of the room's newest logged event, 0 when
// it has none (or does not exist yet).
func lastOffset(ctx context.Context, c redis.UniversalClient, id string) (uint64, error) {
	n, err := lastScript.Run(ctx, c, []string{logKey(id)}).Int64()
	if err != nil {
		return 0, err
	}
	return uint64(n), nil
}

// Delete implements room.Store: both keys go in one command (they share a
// slot). Erasing is the one write that must never be half abandoned, so
// Delete runs to the end even when ctx is cancelled meanwhile (the edge
// cancels a socket's context as soon as the erased event closes it, which
// can be while Erase is still deleting); deleteTimeout bounds it instead.
func (s *Store) Delete(ctx context.Context, id string) error {
	if !validID(id) {
		return nil
	}
	s.feed.forget(id) // erased here too, not only in Redis
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), deleteTimeout)
	defer cancel()
	if err := s.client.Del(ctx, stateKey(id), logKey(id)).Err(); err != nil {
		return fmt.Errorf("redisstore: delete: %w", err)
	}
	return nil
}

// Ping implements room.Store.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx).Err(); err != nil {
		return fmt.Errorf("redisstore: ping: %w", err)
	}
	return nil
}

// wakeUp is a commit's message on the wake channel: the room's offset after
// the commit, a colon, then the events whole as one JSON array. The offset
// comes first so that a Feed that already has every event up to it (the
// committing instance, which delivered them at once) skips the message
// without decoding it.
func wakeUp(last uint64, events []byte) []byte {
	b := make([]byte, 0, 21+len(events))
	b = strconv.AppendUint(b, last, 10)
	b = append(b, ':')
	return append(b, events...)
}

// parseWakeUp splits a wake-up into its offset and its events' JSON. A
// bare JSON array, as instances of the previous release publish it, has
// last 0 (no commit with events ends at offset 0): it is decoded whole.
func parseWakeUp(msg string) (last uint64, events string, ok bool) {
	if strings.HasPrefix(msg, "[") {
		return 0, msg, true
	}
	n, events, found := strings.Cut(msg, ":")
	if !found {
		return 0, "", false
	}
	last, err := strconv.ParseUint(n, 10, 64)
	return last, events, err == nil
}
