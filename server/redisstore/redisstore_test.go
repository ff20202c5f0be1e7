package redisstore_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/redis/go-redis/v9"

	"softland/server/protocol"
	"softland/server/redisstore"
	"softland/server/redisstore/redistest"
	"softland/server/room"
	"softland/server/room/storetest"
)

// waitFor bounds how long a test waits for something that must happen. It
// guards against hanging and is never a speed assertion.
const waitFor = 15 * time.Second

// eventually polls cond until it holds, failing the test after waitFor.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(waitFor)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// blob stands for a sealed payload: the server only stores and passes it.
func blob(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), waitFor)
	t.Cleanup(cancel)
	return c
}

// newStore returns a node (store, feed and leases) over client, closed when
// the test ends.
func newStore(t *testing.T, client redis.UniversalClient, opts redisstore.Options) *redisstore.Node {
	t.Helper()
	s := redisstore.New(client, opts)
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
	})
	return s
}

func TestConformance(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	storetest.Run(t, storetest.Config{
		LogSize: 32,
		New: func(t *testing.T) (room.Store, storetest.Feed) {
			n := newStore(t, srv.Client(), redisstore.Options{LogSize: 32})
			return n.Store, n.Feed
		},
	})
}

// TestClusterConformance runs the suite on a Cluster, with updates that read
// first and, watched, with updates on the cached state.
func TestClusterConformance(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t, 3)
	for _, watched := range []bool{false, true} {
		t.Run(fmt.Sprintf("watched=%v", watched), func(t *testing.T) {
			storetest.Run(t, storetest.Config{
				LogSize: 32,
				New: func(t *testing.T) (room.Store, storetest.Feed) {
					c, err := redisstore.NewClient(redisstore.Config{Addrs: cl.Addrs()})
					if err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { c.Close() })
					n := newStore(t, c, redisstore.Options{LogSize: 32})
					if watched {
						return watchingStore{n.Store, n.Feed, t}, n.Feed
					}
					return n.Store, n.Feed
				},
			})
		})
	}
}

func newState() *room.State {
	st := &room.State{ID: uuid.NewString(), Epoch: "e1", CreatedAt: 1, InviteExpiresAt: 2}
	st.Seats[0] = room.Seat{Taken: true, DeviceHash: "d1", Presence: protocol.PresenceOnline, Gen: 1}
	st.Seats[1] = room.Seat{Presence: protocol.PresenceAway}
	return st
}

// announce is an update that logs n events the way the room logic does.
func announce(n int) func(*room.State) ([]protocol.Event, error) {
	return func(st *room.State) ([]protocol.Event, error) {
		var evs []protocol.Event
		for range n {
			st.Offset++
			st.Announce[0] = &protocol.Sealed{Seat: 1, Blob: blob(fmt.Sprint("a", st.Offset))}
			evs = append(evs, protocol.Event{V: protocol.Version, Type: protocol.TypeEvent, Epoch: st.Epoch, Offset: st.Offset, Kind: protocol.KindAnnounced, Seat: 1, Blob: st.Announce[0].Blob})
		}
		return evs, nil
	}
}

// mustUpdate runs Update and fails the test on an error.
func mustUpdate(t *testing.T, s room.Store, id string, fn func(*room.State) ([]protocol.Event, error)) {
	t.Helper()
	if _, _, err := s.Update(ctx(t), id, fn); err != nil {
		t.Fatal(err)
	}
}

// sneak appends events to a room the way a commit does, but publishes no
// wake-up: it is what subscribers miss when a wake-up is lost.
func sneak(t *testing.T, c *redis.Client, id string, n int) {
	t.Helper()
	sneakUpdate(t, c, id, announce(n))
}

func sneakUpdate(t *testing.T, c *redis.Client, id string, fn func(*room.State) ([]protocol.Event, error)) {
	t.Helper()
	key := "sl:{" + id + "}:state"
	b, err := c.Get(ctx(t), key).Bytes()
	if err != nil {
		t.Fatal(err)
	}
	var st room.State
	json.Unmarshal(b, &st)
	evs, _ := fn(&st)
	st.Version++
	b, _ = json.Marshal(&st)
	if err := c.Set(ctx(t), key, b, redis.KeepTTL).Err(); err != nil {
		t.Fatal(err)
	}
	for _, ev := range evs {
		ev = room.ForLog(ev)
		e, _ := json.Marshal(&ev)
		c.XAdd(ctx(t), &redis.XAddArgs{Stream: "sl:{" + id + "}:log", ID: fmt.Sprintf("%d-1", ev.Offset), Values: []any{"e", e}})
	}
}

// watchedRoom creates a room through creator and subscribes a recorder to
// it on s, returning once the subscription is confirmed. The subscription
// ends with the test.
func watchedRoom(t *testing.T, creator, s *redisstore.Node) (*room.State, *recorder) {
	t.Helper()
	st := newState()
	if err := creator.Create(ctx(t), st); err != nil {
		t.Fatal(err)
	}
	r := newRecorder()
	t.Cleanup(s.Subscribe(st.ID, r.deliver))
	if err := s.WaitSubscribed(ctx(t), st.ID); err != nil {
		t.Fatal(err)
	}
	return st, r
}

// recorder collects the offsets a subscriber is given.
type recorder struct {
	mu   sync.Mutex
	got  []uint64
	more chan struct{}
}

func newRecorder() *recorder { return &recorder{more: make(chan struct{}, 1000)} }

func (r *recorder) deliver(ev protocol.Event) {
	r.mu.Lock()
	r.got = append(r.got, ev.Offset)
	r.mu.Unlock()
	r.more <- struct{}{}
}

// wait waits until offsets 1..n were delivered and checks nothing else was.
func (r *recorder) wait(t *testing.T, n int) {
	t.Helper()
	want := make([]uint64, n)
	for i := range want {
		want[i] = uint64(i + 1)
	}
	deadline := time.After(waitFor)
	for {
		r.mu.Lock()
		got := slices.Clone(r.got)
		r.mu.Unlock()
		if len(got) >= n {
			if !slices.Equal(got, want) {
				t.Fatalf("delivered %v, want %v", got, want)
			}
			return
		}
		select {
		case <-r.more:
		case <-deadline:
			t.Fatalf("delivered %v, want %v", got, want)
		}
	}
}

func TestKeysAndTTL(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	s := newStore(t, c, redisstore.Options{IdleTTL: time.Hour})
	st := newState()
	if err := s.Create(ctx(t), st); err != nil {
		t.Fatal(err)
	}
	mustUpdate(t, s, st.ID, announce(3))
	keys, _ := redistest.RoomKeys(ctx(t), c)
	slices.Sort(keys)
	want := []string{"sl:{" + st.ID + "}:log", "sl:{" + st.ID + "}:state"}
	if !slices.Equal(keys, want) {
		t.Fatalf("keys %q, want %q", keys, want)
	}
	for _, k := range keys {
		ttl := c.PTTL(ctx(t), k).Val()
		if ttl <= 0 || ttl > time.Hour {
			t.Errorf("%s: TTL %v", k, ttl)
		}
	}
	msgs := c.XRange(ctx(t), want[0], "-", "+").Val()
	var ids []string
	for _, m := range msgs {
		ids = append(ids, m.ID)
		if _, ok := m.Values["e"]; !ok || len(m.Values) != 1 {
			t.Errorf("entry %s: fields %v", m.ID, m.Values)
		}
	}
	if fmt.Sprint(ids) != "[1-1 2-1 3-1]" {
		t.Fatalf("stream ids %v", ids)
	}
	// A second Create of the same id is refused and changes nothing.
	if err := s.Create(ctx(t), st); err == nil {
		t.Fatal("create over an existing room succeeded")
	}
	if got, _ := s.Load(ctx(t), st.ID); got.Offset != 3 {
		t.Fatalf("create clobbered the room: %+v", got)
	}
	if err := s.Delete(ctx(t), st.ID); err != nil {
		t.Fatal(err)
	}
	if keys, _ := redistest.RoomKeys(ctx(t), c); len(keys) != 0 {
		t.Fatalf("keys left after delete: %q", keys)
	}
}

// TestUpdateRerunsAfterConflict makes another writer win the race inside
// the first attempt: the commit must be refused and the function rerun on
// the new state, so no change is lost.
func TestUpdateRerunsAfterConflict(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s1 := newStore(t, srv.Client(), redisstore.Options{})
	s2 := newStore(t, srv.Client(), redisstore.Options{})
	st := newState()
	if err := s1.Create(ctx(t), st); err != nil {
		t.Fatal(err)
	}
	calls := 0
	got, evs, err := s1.Update(ctx(t), st.ID, func(st *room.State) ([]protocol.Event, error) {
		calls++
		if calls == 1 {
			if _, _, err := s2.Update(ctx(t), st.ID, announce(2)); err != nil {
				t.Error(err)
			}
		}
		return announce(1)(st)
	})
	if err != nil {
		t.Fatal(err)
	}
	if calls != 2 || got.Offset != 3 || got.Version != 2 || len(evs) != 1 || evs[0].Offset != 3 {
		t.Fatalf("calls %d, state offset %d version %d, events %v", calls, got.Offset, got.Version, evs)
	}
	evs, complete, err := s1.Since(ctx(t), st.ID, st.Epoch, 0)
	if err != nil || !complete || len(evs) != 3 {
		t.Fatalf("log: %v %v %v", evs, complete, err)
	}
}

// TestUpdateRefusesBadOffsets: the log must stay consecutive, so an update
// whose events do not continue the room's offsets is an error, not a commit.
func TestUpdateRefusesBadOffsets(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := newStore(t, srv.Client(), redisstore.Options{})
	st := newState()
	s.Create(ctx(t), st)
	_, _, err := s.Update(ctx(t), st.ID, func(st *room.State) ([]protocol.Event, error) {
		st.Offset = 5
		return []protocol.Event{{Epoch: st.Epoch, Offset: 5, Kind: protocol.KindPaused}}, nil
	})
	if err == nil || room.IsRefusal(err) {
		t.Fatalf("want a store error, got %v", err)
	}
	if got, _ := s.Load(ctx(t), st.ID); got.Version != 0 {
		t.Fatal("a bad update was saved")
	}
}

// TestGapFilledFromLog: when a wake-up is lost, the next one reveals the gap
// and the store reads the missing events from the log before delivering.
func TestGapFilledFromLog(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	s := newStore(t, srv.Client(), redisstore.Options{})
	st, r := watchedRoom(t, s, s)
	sneak(t, c, st.ID, 2)
	mustUpdate(t, s, st.ID, announce(1))
	r.wait(t, 3)
}

// TestResubscribeCatchesUp kills the store's Pub/Sub connection after events
// were logged without a wake-up: the new subscription's confirmation alone
// must bring them.
func TestResubscribeCatchesUp(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	s := newStore(t, srv.Client(), redisstore.Options{})
	st, r := watchedRoom(t, s, s)
	sneak(t, c, st.ID, 2)
	if n := c.ClientKillByFilter(ctx(t), "TYPE", "pubsub").Val(); n != 1 {
		t.Fatalf("killed %d pubsub connections, want 1", n)
	}
	r.wait(t, 2)
	mustUpdate(t, s, st.ID, announce(1))
	r.wait(t, 3)
}

// TestSubscribersShareAChannel: two subscribers of one room on one store
// get every event; after one cancels, the other still does; after both
// cancel, the store unsubscribes from the channel.
func TestSubscribersShareAChannel(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	s := newStore(t, srv.Client(), redisstore.Options{})
	st := newState()
	s.Create(ctx(t), st)
	r1, r2 := newRecorder(), newRecorder()
	cancel1 := s.Subscribe(st.ID, r1.deliver)
	cancel2 := s.Subscribe(st.ID, r2.deliver)
	if err := s.WaitSubscribed(ctx(t), st.ID); err != nil {
		t.Fatal(err)
	}
	channels := func() []string { return c.PubSubChannels(ctx(t), "sl:*").Val() }
	if ch := channels(); len(ch) != 1 || ch[0] != "sl:{"+st.ID+"}:wake" {
		t.Fatalf("channels %q", ch)
	}
	s.Update(ctx(t), st.ID, announce(2))
	r1.wait(t, 2)
	r2.wait(t, 2)
	cancel1()
	s.Update(ctx(t), st.ID, announce(1))
	r2.wait(t, 3)
	cancel2()
	eventually(t, "channel unsubscribed", func() bool { return len(channels()) == 0 })
	r1.mu.Lock()
	defer r1.mu.Unlock()
	if len(r1.got) != 2 {
		t.Fatalf("cancelled subscriber got %v", r1.got)
	}
}

// TestSilentConnectionReplaced puts the store behind a proxy that stops
// forwarding without closing anything, as a dead network path does. The
// store must notice the silence, open a new Pub/Sub connection and catch up.
func TestSilentConnectionReplaced(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	p := newProxy(t, srv.Addr())
	c := redis.NewClient(&redis.Options{Addr: p.addr(), ContextTimeoutEnabled: true, ReadTimeout: 500 * time.Millisecond, WriteTimeout: 500 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	s := newStore(t, c, redisstore.Options{HealthInterval: 200 * time.Millisecond})
	direct := newStore(t, srv.Client(), redisstore.Options{})
	st, r := watchedRoom(t, direct, s)
	p.freeze() // connections open so far hang; new ones work
	mustUpdate(t, direct, st.ID, announce(2))
	r.wait(t, 2)
}

// proxy forwards TCP connections to a target; freeze makes every connection
// open at that moment hang silently.
type proxy struct {
	ln     net.Listener
	target string

	mu     sync.Mutex
	frozen []chan struct{}
	conns  []net.Conn
	gate   chan struct{} // closed while traffic flows; see stall
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, gate: make(chan struct{})}
	close(p.gate)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go p.serve(c)
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
	})
	return p
}

func (p *proxy) addr() string { return p.ln.Addr().String() }

func (p *proxy) serve(c net.Conn) {
	up, err := net.Dial("tcp", p.target)
	if err != nil {
		c.Close()
		return
	}
	stop := make(chan struct{})
	p.mu.Lock()
	p.conns = append(p.conns, c, up)
	p.frozen = append(p.frozen, stop)
	p.mu.Unlock()
	pipe := func(dst, src net.Conn) {
		buf := make([]byte, 32<<10)
		for {
			n, err := src.Read(buf)
			select {
			case <-stop:
				io.Copy(io.Discard, src) // swallow, never answer
				return
			default:
			}
			if n > 0 {
				p.mu.Lock()
				gate := p.gate
				p.mu.Unlock()
				<-gate
				dst.Write(buf[:n])
			}
			if err != nil {
				dst.Close()
				return
			}
		}
	}
	go pipe(up, c)
	go pipe(c, up)
}

// stall holds every byte in both directions until the returned function is
// called, as a process that stopped running would, and then lets them
// through.
func (p *proxy) stall() (resume func()) {
	gate := make(chan struct{})
	p.mu.Lock()
	p.gate = gate
	p.mu.Unlock()
	return sync.OnceFunc(func() { close(gate) })
}

func (p *proxy) freeze() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.frozen {
		close(s)
	}
	p.frozen = nil
}

// TestRedisDown: while Redis is unreachable every operation fails with a
// wrapped store error (never a refusal, never carrying the room id), and
// Ping says so; once it is back, the store works again without a restart.
func TestRedisDown(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t, "--appendonly", "yes")
	s := newStore(t, srv.Client(), redisstore.Options{})
	st := newState()
	if err := s.Create(ctx(t), st); err != nil {
		t.Fatal(err)
	}
	srv.Stop()
	short := func() context.Context {
		c, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		t.Cleanup(cancel)
		return c
	}
	// Each fails only after the client's own dial retries; run them at once.
	var errU, errL, errS, errD, errP error
	var wg sync.WaitGroup
	for _, op := range []func(){
		func() { _, _, errU = s.Update(short(), st.ID, announce(1)) },
		func() { _, errL = s.Load(short(), st.ID) },
		func() { _, _, errS = s.Since(short(), st.ID, st.Epoch, 0) },
		func() { errD = s.Delete(short(), st.ID) },
		func() { errP = s.Ping(short()) },
	} {
		wg.Add(1)
		go func() { defer wg.Done(); op() }()
	}
	wg.Wait()
	for name, err := range map[string]error{"update": errU, "load": errL, "since": errS, "delete": errD, "ping": errP} {
		if err == nil || room.IsRefusal(err) || !strings.HasPrefix(err.Error(), "redisstore: "+name+": ") || strings.Contains(err.Error(), st.ID) {
			t.Errorf("%s while down: %v", name, err)
		}
	}
	srv.Restart()
	eventually(t, "ping after restart", func() bool { return s.Ping(short()) == nil })
	if _, _, err := s.Update(ctx(t), st.ID, announce(1)); err != nil {
		t.Fatalf("update after restart: %v", err)
	}
}

func TestNewClient(t *testing.T) {
	t.Parallel()
	for name, cfg := range map[string]redisstore.Config{
		"nothing":            {},
		"url and addrs":      {URL: "redis://127.0.0.1:1", Addrs: []string{"127.0.0.1:2"}},
		"url and password":   {URL: "redis://127.0.0.1:1", Password: "x"},
		"url and master":     {URL: "redis://127.0.0.1:1", MasterName: "m"},
		"not a url":          {URL: "http://user:secret@127.0.0.1:1"},
		"url in addrs":       {Addrs: []string{"redis://127.0.0.1:1"}},
		"empty address":      {Addrs: []string{""}},
		"master and no addr": {MasterName: "m"},
	} {
		c, err := redisstore.NewClient(cfg)
		if err == nil {
			c.Close()
			t.Errorf("%s: accepted", name)
		} else if strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error shows the password: %v", name, err)
		}
	}
	for name, tc := range map[string]struct {
		cfg  redisstore.Config
		want any
	}{
		"url":      {redisstore.Config{URL: "rediss://u:p@127.0.0.1:1/2"}, &redis.Client{}},
		"sentinel": {redisstore.Config{Addrs: []string{"127.0.0.1:1", "127.0.0.1:2"}, MasterName: "m"}, &redis.Client{}},
		"cluster":  {redisstore.Config{Addrs: []string{"127.0.0.1:1"}}, &redis.ClusterClient{}},
	} {
		c, err := redisstore.NewClient(tc.cfg)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		if fmt.Sprintf("%T", c) != fmt.Sprintf("%T", tc.want) {
			t.Errorf("%s: got a %T", name, c)
		}
		c.Close()
	}
	// PoolSize reaches every kind of client.
	for name, cfg := range map[string]redisstore.Config{
		"url":      {URL: "redis://127.0.0.1:1?pool_size=3", PoolSize: 7},
		"sentinel": {Addrs: []string{"127.0.0.1:1"}, MasterName: "m", PoolSize: 7},
		"cluster":  {Addrs: []string{"127.0.0.1:1"}, PoolSize: 7},
	} {
		c, err := redisstore.NewClient(cfg)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var got int
		switch c := c.(type) {
		case *redis.Client:
			got = c.Options().PoolSize
		case *redis.ClusterClient:
			got = c.Options().PoolSize
		}
		c.Close()
		if got != 7 {
			t.Errorf("%s: pool size %d, want 7", name, got)
		}
	}
}

// TestDeleteOutlivesCancel: the edge may cancel a socket's context while
// Erase is still deleting; the room must go all the same.
func TestDeleteOutlivesCancel(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	s := newStore(t, c, redisstore.Options{})
	st := newState()
	s.Create(ctx(t), st)
	s.Update(ctx(t), st.ID, announce(2))
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	if err := s.Delete(cancelled, st.ID); err != nil {
		t.Fatal(err)
	}
	if keys, _ := redistest.RoomKeys(ctx(t), c); len(keys) != 0 {
		t.Fatalf("keys left: %q", keys)
	}
}

// TestCloseEndsGoroutines closes a store whose Pub/Sub connection is busy
// reconnecting to a Redis that went away: Close returns and none of the
// store's goroutines is left. It does not run in parallel, so the stacks it
// looks at are its own.
func TestCloseEndsGoroutines(t *testing.T) {
	srv := redistest.Start(t)
	c := srv.Client()
	s := redisstore.New(c, redisstore.Options{HealthInterval: 100 * time.Millisecond})
	st := newState()
	s.Create(ctx(t), st)
	cancel := s.Subscribe(st.ID, func(protocol.Event) {})
	defer cancel()
	if err := s.WaitSubscribed(ctx(t), st.ID); err != nil {
		t.Fatal(err)
	}
	srv.Kill()
	time.Sleep(300 * time.Millisecond) // let it notice and start reconnecting
	closed := make(chan error, 1)
	go func() { closed <- s.Close() }()
	select {
	case err := <-closed:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(waitFor):
		t.Fatal("Close did not return")
	}
	if err := s.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	buf := make([]byte, 1<<20)
	stacks := string(buf[:runtime.Stack(buf, true)])
	if strings.Contains(stacks, "redisstore.(*Store)") {
		t.Fatalf("goroutines left:\n%s", stacks)
	}
}

// reveal is an update that reveals tokens (in wire form, though the store
// reads none) in the open round, the way the room logic does.
func reveal(tokens string) func(*room.State) ([]protocol.Event, error) {
	return func(st *room.State) ([]protocol.Event, error) {
		r := st.Round
		r.Rev++
		r.Reveal = tokens
		r.Reveals = append(r.Reveals, tokens)
		st.Offset++
		return []protocol.Event{{V: protocol.Version, Type: protocol.TypeEvent, Epoch: st.Epoch, Offset: st.Offset, Kind: protocol.KindRoundRevealed, Round: r.ID, Reveal: tokens, Rev: r.Rev}}, nil
	}
}

// TestRevealsStayOutOfTheLog: subscribers get revealed tokens, whether from
// the wake-up or read back from the log after a lost one; the log itself
// never holds them.
func TestRevealsStayOutOfTheLog(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	s := newStore(t, c, redisstore.Options{})
	st := newState()
	st.Round = &room.Round{ID: uuid.NewString()}
	s.Create(ctx(t), st)
	got := make(chan protocol.Event, 10)
	defer s.Subscribe(st.ID, func(ev protocol.Event) { got <- ev })()
	if err := s.WaitSubscribed(ctx(t), st.ID); err != nil {
		t.Fatal(err)
	}
	next := func() protocol.Event {
		select {
		case ev := <-got:
			return ev
		case <-time.After(waitFor):
			t.Fatal("event not delivered")
		}
		return protocol.Event{}
	}
	if _, _, err := s.Update(ctx(t), st.ID, reveal("T-one-T-two")); err != nil {
		t.Fatal(err)
	}
	if ev := next(); ev.Reveal != "T-one-T-two" {
		t.Fatalf("live reveal %v", ev.Reveal)
	}
	// A reveal whose wake-up is lost comes back from the log, whole.
	sneakUpdate(t, c, st.ID, reveal("T-three"))
	c.ClientKillByFilter(ctx(t), "TYPE", "pubsub")
	if ev := next(); ev.Offset != 2 || ev.Reveal != "T-three" {
		t.Fatalf("caught-up reveal %+v", ev)
	}
	evs, complete, err := s.Since(ctx(t), st.ID, st.Epoch, 0)
	if err != nil || !complete || len(evs) != 2 || evs[0].Reveal != "" || evs[0].Rev != 1 {
		t.Fatalf("since: %+v %v %v", evs, complete, err)
	}
	for _, m := range c.XRange(ctx(t), "sl:{"+st.ID+"}:log", "-", "+").Val() {
		if e := fmt.Sprint(m.Values); strings.Contains(e, "T-") {
			t.Fatalf("the log holds revealed tokens: %s", e)
		}
	}
}

// TestCommitReadsAnyLayout: the commit script reads the version from the
// prefix Go's encoder writes, and decodes the whole value when the layout
// differs; either way a stale version loses.
func TestCommitReadsAnyLayout(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	s := newStore(t, c, redisstore.Options{})
	st := newState()
	s.Create(ctx(t), st)
	// Rewrite the stored state with its keys in another order (a map's
	// are sorted: "announce" comes first).
	b, _ := json.Marshal(st)
	var m map[string]any
	json.Unmarshal(b, &m)
	m["version"] = 7
	reordered := string(mustJSON(t, m))
	if strings.HasPrefix(reordered, `{"id"`) {
		t.Fatal("the layout did not change")
	}
	c.Set(ctx(t), "sl:{"+st.ID+"}:state", reordered, time.Hour)
	calls := 0
	got, _, err := s.Update(ctx(t), st.ID, func(st *room.State) ([]protocol.Event, error) {
		calls++
		if calls == 1 {
			// Another writer bumps the version under this one's feet.
			c.Set(ctx(t), "sl:{"+st.ID+"}:state", strings.Replace(reordered, `"version":7`, `"version":8`, 1), time.Hour)
		}
		return announce(1)(st)
	})
	if err != nil || calls != 2 || got.Version != 9 {
		t.Fatalf("calls %d, version %d, err %v", calls, got.Version, err)
	}
}

func mustJSON(t *testing.T, v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestOwnCommitsDeliveredAtOnce: a store's own subscribers have a commit's
// events by the time Update returns, without waiting for the Pub/Sub round
// trip, and the wake-up that follows delivers nothing twice. Events
// committed by another store still arrive through Pub/Sub, in order.
func TestOwnCommitsDeliveredAtOnce(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := newStore(t, srv.Client(), redisstore.Options{})
	other := newStore(t, srv.Client(), redisstore.Options{})
	st, r := watchedRoom(t, s, s)
	mustUpdate(t, s, st.ID, announce(2))
	r.mu.Lock()
	got := slices.Clone(r.got)
	r.mu.Unlock()
	if !slices.Equal(got, []uint64{1, 2}) {
		t.Fatalf("delivered %v when Update returned, want [1 2]", got)
	}
	// The other store's commit comes after this store's own wake-up on the
	// same channel, so once it is delivered the wake-up has been handled.
	mustUpdate(t, other, st.ID, announce(1))
	r.wait(t, 3)
	mustUpdate(t, s, st.ID, announce(1))
	r.wait(t, 4)
}

// TestStateCacheFollowsOtherWriters: a store that keeps the state it last
// wrote must still see every change another instance made since.
func TestStateCacheFollowsOtherWriters(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := newStore(t, srv.Client(), redisstore.Options{})
	other := newStore(t, srv.Client(), redisstore.Options{})
	st := newState()
	s.Create(ctx(t), st)
	defer s.Subscribe(st.ID, func(protocol.Event) {})() // rooms watched here are cached
	for i := range 3 {
		mustUpdate(t, s, st.ID, announce(1))
		mustUpdate(t, other, st.ID, announce(1))
		got, err := s.Load(ctx(t), st.ID)
		if err != nil {
			t.Fatal(err)
		}
		if want := uint64(2*i + 2); got.Offset != want || got.Announce[0].Blob != blob(fmt.Sprint("a", want)) {
			t.Fatalf("store sees offset %d, want %d", got.Offset, want)
		}
	}
}

// TestStaleCacheVerdictsAreChecked: an update function that refuses, or
// finds nothing to change, on the state this store cached is asked again on
// the stored state, which another instance changed meanwhile; only a commit
// is checked by the script itself.
func TestStaleCacheVerdictsAreChecked(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	s := newStore(t, srv.Client(), redisstore.Options{})
	other := newStore(t, srv.Client(), redisstore.Options{})
	st := newState()
	s.Create(ctx(t), st)
	defer s.Subscribe(st.ID, func(protocol.Event) {})()
	mustUpdate(t, s, st.ID, announce(1)) // cached at offset 1
	mustUpdate(t, other, st.ID, announce(1))

	refused := &room.Error{Code: protocol.CodeLimit, Msg: "too early"}
	next, evs, err := s.Update(ctx(t), st.ID, func(st *room.State) ([]protocol.Event, error) {
		if st.Offset < 2 {
			return nil, refused
		}
		return announce(1)(st)
	})
	if err != nil || next.Offset != 3 || len(evs) != 1 || evs[0].Offset != 3 {
		t.Fatalf("update refused on a stale cache: %v", err)
	}

	mustUpdate(t, other, st.ID, announce(1))
	cur, evs, err := s.Update(ctx(t), st.ID, func(st *room.State) ([]protocol.Event, error) {
		if st.Offset < 4 {
			return announce(1)(st)
		}
		return nil, room.ErrUnchanged
	})
	if err != nil || cur.Offset != 4 || len(evs) != 0 {
		t.Fatalf("unchanged: got offset %d, %d events, %v; want the stored offset 4 and nothing", cur.Offset, len(evs), err)
	}
}

// TestUpdateRoundTrips: an update of a room watched here is one round trip
// (the compare-and-set on the cached state). When the cache is behind
// without this store knowing, the failed compare-and-set brings the stored
// state along, so it is two; when a wake-up has shown another writer's
// commit, the cache is dropped and the update reads the room first: also two,
// without sending a commit bound to fail.
func TestUpdateRoundTrips(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	c := srv.Client()
	trips := new(tripCounter)
	c.AddHook(trips)
	s := newStore(t, c, redisstore.Options{})
	other := newStore(t, srv.Client(), redisstore.Options{})
	st, r := watchedRoom(t, s, s)
	mustUpdate(t, s, st.ID, announce(1)) // the first reads the state
	r.wait(t, 1)
	check := func(name string, want ...string) {
		t.Helper()
		trips.reset()
		mustUpdate(t, s, st.ID, announce(1))
		if got := trips.sent(); !slices.Equal(got, want) {
			t.Errorf("%s: sent %v, want %v", name, got, want)
		}
	}
	check("cached", "evalsha")
	r.wait(t, 2)
	sneak(t, srv.Client(), st.ID, 1) // no wake-up: the store cannot know
	check("behind", "evalsha", "evalsha")
	r.wait(t, 4)
	mustUpdate(t, other, st.ID, announce(1))
	r.wait(t, 5)
	check("another writer seen", "get", "evalsha")
}

// watchingStore subscribes to every room it creates, so that its updates
// take the cached path; TestCachedConformance runs the suite through it.
type watchingStore struct {
	*redisstore.Store
	feed *redisstore.Feed
	t    *testing.T
}

func (w watchingStore) Create(ctx context.Context, st *room.State) error {
	err := w.Store.Create(ctx, st)
	if err == nil {
		w.t.Cleanup(w.feed.Subscribe(st.ID, func(protocol.Event) {}))
	}
	return err
}

func TestCachedConformance(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	storetest.Run(t, storetest.Config{
		LogSize: 32,
		New: func(t *testing.T) (room.Store, storetest.Feed) {
			n := newStore(t, srv.Client(), redisstore.Options{LogSize: 32})
			return watchingStore{n.Store, n.Feed, t}, n.Feed
		},
	})
}
