package redisstore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"

	"softland/server/edge"
	"softland/server/protocol"
	"softland/server/redisstore"
	"softland/server/redisstore/redistest"
	"softland/server/room"
	"softland/server/servertest"
	"softland/server/servertest/phonetest"
)

// tok and tokens build the submissions of the rounds below; short names
// keep those lines readable.
var (
	tok    = phonetest.Tok
	tokens = phonetest.Tokens
)

// instance starts a whole Softland server over its own client and Redis
// store, as one of several instances behind a load balancer would run.
func instance(t *testing.T, newClient func() redis.UniversalClient) *servertest.Server {
	t.Helper()
	c := newClient()
	t.Cleanup(func() { c.Close() })
	s := newStore(t, c, redisstore.Options{})
	return servertest.Start(t, servertest.Options{
		Store: s.Store,
		Seats: s.Leases,
		// Every phone of these tests comes from 127.0.0.1.
		Edge: edge.Config{Feed: s.Feed, SocketsPerIP: 1000, AdmitsPerIP: 1000},
	})
}

func single(srv *redistest.Server) func() redis.UniversalClient {
	return func() redis.UniversalClient {
		c, err := redisstore.NewClient(redisstore.Config{URL: srv.URL()})
		if err != nil {
			panic(err)
		}
		return c
	}
}

// getStatus returns the status of GET url.
func getStatus(t *testing.T, url string) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestKeyAudit runs a whole session through the real server and then looks
// at everything in Redis: only the room's two keys, each with a TTL, holding
// none of the secrets the phones sent, none of the round's unmatched tokens
// once it closed; and nothing at all after the room is erased.
func TestKeyAudit(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	rc := rs.Client()
	srv := instance(t, single(rs))
	a, b := phonetest.Pair(t, srv)

	a.OK(&protocol.Settings{Header: protocol.Header{Type: protocol.TypeSettings}, Blob: blob("settings")})
	b.Until(protocol.KindSettings)
	round := phonetest.OpenRound(t, a, b)
	ta := tokens(tok("water"), tok("hold"))
	tb := tokens(tok("hold"), tok("music"), tok("water"))
	a.OK(&protocol.Submit{Header: protocol.Header{Type: protocol.TypeSubmit}, Round: round, Tokens: ta})
	b.OK(&protocol.Submit{Header: protocol.Header{Type: protocol.TypeSubmit}, Round: round, Tokens: tb})
	ra, rb := a.Until(protocol.KindRoundRevealed), b.Until(protocol.KindRoundRevealed)
	if !slices.Equal(phonetest.Revealed(ra.Reveal), []string{tok("hold"), tok("water")}) || ra.Reveal != rb.Reveal {
		t.Fatalf("reveal %v / %v", ra.Reveal, rb.Reveal)
	}
	b.OK(&protocol.Announce{Header: protocol.Header{Type: protocol.TypeAnnounce}, Blob: blob("space 20")})
	a.Until(protocol.KindAnnounced)
	a.OK(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
	b.Until(protocol.KindPaused)
	a.OK(&protocol.Unpause{Header: protocol.Header{Type: protocol.TypeUnpause}})
	b.Until(protocol.KindUnpaused)
	a.OK(&protocol.RoundClose{Header: protocol.Header{Type: protocol.TypeRoundClose}, Round: round})
	b.Until(protocol.KindRoundClosed)
	a.OK(&protocol.Debrief{Header: protocol.Header{Type: protocol.TypeDebrief}, Round: round, Blob: blob("debrief a")})
	b.OK(&protocol.Debrief{Header: protocol.Header{Type: protocol.TypeDebrief}, Round: round, Blob: blob("debrief b")})
	a.Until(protocol.KindDebriefReleased)
	b.Until(protocol.KindDebriefReleased)
	// b comes back on a new socket: its device token crosses the wire again.
	b.Drop()
	b2, _ := phonetest.Reconnect(t, srv, b.Credentials, 0)

	keys, err := redistest.RoomKeys(ctx(t), rc)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	if want := []string{"sl:{" + a.Room + "}:log", "sl:{" + a.Room + "}:state"}; !slices.Equal(keys, want) {
		t.Fatalf("keys %q, want %q", keys, want)
	}
	// Besides the room, only the instance's own keys (lease.go).
	keys, err = redistest.Keys(ctx(t), rc)
	if err != nil {
		t.Fatal(err)
	}
	var stored []string
	for _, k := range keys {
		if ttl := rc.PTTL(ctx(t), k).Val(); ttl <= 0 {
			t.Errorf("%s has no TTL (%v)", k, ttl)
		}
		if !strings.HasPrefix(k, "sl:{"+a.Room+"}:") && !strings.HasPrefix(k, "sl:live:") && !strings.HasPrefix(k, "sl:held:") && k != "sl:instances" {
			t.Errorf("unexpected key %s", k)
		}
		vals, err := redistest.Values(ctx(t), rc, k)
		if err != nil {
			t.Error(err)
		}
		stored = append(stored, vals...)
	}
	all := strings.Join(stored, "\n")
	secrets := map[string]string{"join key": a.JoinKey, "device token of seat 1": a.Device, "device token of seat 2": b.Device}
	// The decoys follow the real tokens of each submission.
	secrets["submission of seat 1"], secrets["submission of seat 2"] = ta, tb
	unmatched := []string{tok("music")}
	for _, sub := range []struct {
		set  string
		real int
	}{{ta, 2}, {tb, 3}} {
		for _, d := range phonetest.Revealed(sub.set)[sub.real:] {
			unmatched = append(unmatched, d)
			if !slices.ContainsFunc(phonetest.TextForms(d), func(f string) bool { return strings.Contains(sub.set, f) }) {
				t.Fatal("TextForms misses a token in its own submission")
			}
		}
	}
	for i, d := range unmatched {
		for j, form := range phonetest.TextForms(d) {
			secrets[fmt.Sprint("unmatched token ", i, " (form ", j, ")")] = form
		}
	}
	for what, s := range secrets {
		if s == "" {
			t.Fatalf("%s is empty", what)
		}
		if strings.Contains(all, s) {
			t.Errorf("Redis holds the %s", what)
		}
	}

	a.Send(&protocol.Erase{Header: protocol.Header{Type: protocol.TypeErase}})
	b2.Until(protocol.KindErased)
	b2.ExpectClose(websocket.StatusCode(protocol.CloseErased))
	// The erased event goes out before the keys are deleted; the deletion
	// follows at once.
	eventually(t, "nothing of the room left after erase", func() bool {
		keys, err := redistest.Keys(ctx(t), rc)
		if err != nil {
			return false
		}
		for _, k := range keys {
			vals, _ := redistest.Values(ctx(t), rc, k)
			if strings.Contains(k+strings.Join(vals, " "), a.Room) {
				return false
			}
		}
		return true
	})
}

// TestTwoInstances pairs two phones on two instances sharing one Redis and
// runs a whole session across them.
func TestTwoInstances(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	twoInstances(t, single(rs))
}

// TestClusterTwoInstances is TestTwoInstances on a three-master Redis
// Cluster: a room's keys share a slot, and wake-ups published on one node
// reach subscribers on any.
func TestClusterTwoInstances(t *testing.T) {
	t.Parallel()
	cl := redistest.StartCluster(t, 3)
	twoInstances(t, func() redis.UniversalClient {
		c, err := redisstore.NewClient(redisstore.Config{Addrs: cl.Addrs()})
		if err != nil {
			panic(err)
		}
		return c
	})
}

func twoInstances(t *testing.T, newClient func() redis.UniversalClient) {
	srv1, srv2 := instance(t, newClient), instance(t, newClient)
	a, b := phonetest.Pair(t, srv1, srv2)

	round := phonetest.OpenRound(t, b, a)
	ta := tokens(tok("water"), tok("hold"), tok("music"))
	tb := tokens(tok("music"), tok("water"))
	a.OK(&protocol.Submit{Header: protocol.Header{Type: protocol.TypeSubmit}, Round: round, Tokens: ta})
	b.OK(&protocol.Submit{Header: protocol.Header{Type: protocol.TypeSubmit}, Round: round, Tokens: tb})
	ra, rb := a.Until(protocol.KindRoundRevealed), b.Until(protocol.KindRoundRevealed)
	if !bytes.Equal(ra.Raw, rb.Raw) || !slices.Equal(phonetest.Revealed(ra.Reveal), []string{tok("water"), tok("music")}) {
		t.Fatalf("reveals differ or are wrong:\n%s\n%s", ra.Raw, rb.Raw)
	}

	b.OK(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
	if f := a.Until(protocol.KindPaused); f.Seat != 2 {
		t.Fatalf("pause: %s", f.Raw)
	}
	b.OK(&protocol.Unpause{Header: protocol.Header{Type: protocol.TypeUnpause}})
	a.Until(protocol.KindUnpaused)

	a.OK(&protocol.RoundClose{Header: protocol.Header{Type: protocol.TypeRoundClose}, Round: round})
	b.Until(protocol.KindRoundClosed)
	a.OK(&protocol.Debrief{Header: protocol.Header{Type: protocol.TypeDebrief}, Round: round, Blob: blob("helped: water")})
	b.Until(protocol.KindDebriefSubmitted)
	b.OK(&protocol.Debrief{Header: protocol.Header{Type: protocol.TypeDebrief}, Round: round, Blob: blob("helped: music")})
	da, db := a.Until(protocol.KindDebriefReleased), b.Until(protocol.KindDebriefReleased)
	if !bytes.Equal(da.Raw, db.Raw) || len(da.Blobs) != 2 {
		t.Fatalf("debriefs differ:\n%s\n%s", da.Raw, db.Raw)
	}

	a.Send(&protocol.Erase{Header: protocol.Header{Type: protocol.TypeErase}})
	a.Until(protocol.KindErased)
	b.Until(protocol.KindErased)
	for _, p := range []*phonetest.Phone{a, b} {
		p.ExpectClose(websocket.StatusCode(protocol.CloseErased))
	}
	// Every event reached both phones once, in order, across the instances.
	if a.Gaps() != 0 || b.Gaps() != 0 {
		t.Fatalf("event offsets jumped: %d on seat 1, %d on seat 2", a.Gaps(), b.Gaps())
	}
	eventually(t, "room deleted", func() bool {
		_, err := srv2.Store.Load(ctx(t), a.Room)
		return errors.Is(err, room.ErrNotFound)
	})
	p := phonetest.Dial(t, srv2)
	if w := p.Resume(a.Credentials, 0); w.Code != protocol.CodeNotFound {
		t.Fatalf("resume after erase: %s", w.Raw)
	}
	p.Closed()
}

// TestJoinRace: 50 devices with the right link race for the second seat
// through two instances. Exactly one gets it; the room still has two seats.
func TestJoinRace(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	srv1, srv2 := instance(t, single(rs)), instance(t, single(rs))
	a := phonetest.Dial(t, srv1)
	joinKey := a.Create()

	const n = 50
	phones := make([]*phonetest.Phone, n)
	for i := range phones {
		phones[i] = phonetest.Dial(t, []*servertest.Server{srv1, srv2}[i%2])
	}
	frame, _ := protocol.Marshal(&protocol.Join{Header: protocol.Header{Type: protocol.TypeJoin, ID: "j"}, Room: a.Room, JoinKey: joinKey})
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, p := range phones {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			p.Conn.Write(ctx(t), websocket.MessageText, frame)
		}()
	}
	close(start)
	wg.Wait()

	codes := map[string]int{}
	for _, p := range phones {
		f := p.Next()
		switch f.Type {
		case protocol.TypeWelcome:
			codes["welcome"]++
		case protocol.TypeError:
			codes[f.Code]++
		default:
			t.Fatalf("unexpected answer %s", f.Raw)
		}
	}
	if codes["welcome"] != 1 || codes[protocol.CodeRoomFull]+codes[protocol.CodeForbidden] != n-1 {
		t.Fatalf("answers %v", codes)
	}
	st, err := srv1.Store.Load(ctx(t), a.Room)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Seats[0].Taken || !st.Seats[1].Taken || st.Seats[1].Gen != 1 || st.JoinKeyHash != "" {
		t.Fatalf("seats %+v", st.Seats)
	}
	a.Until(protocol.KindPaired)
	a.Sync()
	if a.Count(protocol.KindPaired) != 1 {
		t.Fatal("the creator heard of more than one partner")
	}
}

// TestRedisRestart stops Redis for a moment in the middle of a round. The
// instances are not restarted: while Redis is away /readyz says 503 and
// requests fail as unavailable; once it is back both instances serve again.
// What the phones find then depends on Redis: with persistence (AOF) the room
// survived and the round completes; without it Redis came back empty, so the
// room is gone and the phones are told not_found. The store promises no more
// than Redis keeps.
func TestRedisRestart(t *testing.T) {
	t.Parallel()
	for name, persist := range map[string]bool{"with persistence": true, "without persistence": false} {
		t.Run(name, func(t *testing.T) {
			var args []string
			if persist {
				args = []string{"--appendonly", "yes"}
			}
			rs := redistest.Start(t, args...)
			srv1, srv2 := instance(t, single(rs)), instance(t, single(rs))
			a, b := phonetest.Pair(t, srv1, srv2)
			round := phonetest.OpenRound(t, a, b)
			ta := tokens(tok("calm"), tok("tea"))
			tb := tokens(tok("tea"))
			a.OK(&protocol.Submit{Header: protocol.Header{Type: protocol.TypeSubmit}, Round: round, Tokens: ta})
			b.Until(protocol.KindRoundSubmitted)

			rs.Stop()
			for _, srv := range []*servertest.Server{srv1, srv2} {
				if code := getStatus(t, srv.URL+"/readyz"); code != http.StatusServiceUnavailable {
					t.Fatalf("/readyz with Redis down: %d", code)
				}
			}
			f := b.Answer(b.Send(&protocol.Submit{Header: protocol.Header{Type: protocol.TypeSubmit}, Round: round, Tokens: tb}))
			if f.Code != protocol.CodeUnavailable {
				t.Fatalf("submit with Redis down: %s", f.Raw)
			}

			rs.Restart()
			for _, srv := range []*servertest.Server{srv1, srv2} {
				eventually(t, "/readyz back to 200", func() bool { return getStatus(t, srv.URL+"/readyz") == http.StatusOK })
			}
			if !persist {
				f := b.Answer(b.Send(&protocol.Submit{Header: protocol.Header{Type: protocol.TypeSubmit}, Round: round, Tokens: tb}))
				if f.Code != protocol.CodeNotFound {
					t.Fatalf("submit to a room Redis forgot: %s", f.Raw)
				}
				p := phonetest.Dial(t, srv1)
				if w := p.Resume(a.Credentials, 0); w.Code != protocol.CodeNotFound {
					t.Fatalf("resume into a room Redis forgot: %s", w.Raw)
				}
				p.Closed()
				return
			}
			b.OK(&protocol.Submit{Header: protocol.Header{Type: protocol.TypeSubmit}, Round: round, Tokens: tb})
			ra, rb := a.Until(protocol.KindRoundRevealed), b.Until(protocol.KindRoundRevealed)
			if !bytes.Equal(ra.Raw, rb.Raw) || !slices.Equal(phonetest.Revealed(ra.Reveal), []string{tok("tea")}) {
				t.Fatalf("reveal after restart:\n%s\n%s", ra.Raw, rb.Raw)
			}
			// The wake-ups flow between the instances again, both ways.
			a.OK(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
			b.Until(protocol.KindPaused)
			b.OK(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
			a.Until(protocol.KindPaused)
			if a.Gaps() != 0 || b.Gaps() != 0 {
				t.Fatalf("event offsets jumped: %d on seat 1, %d on seat 2", a.Gaps(), b.Gaps())
			}
		})
	}
}

// TestSentinelFailover runs two instances through a Sentinel. Mid-round the
// master dies; the Sentinel promotes its replica, and both instances follow
// it without a restart: the round completes and wake-ups flow again.
func TestSentinelFailover(t *testing.T) {
	t.Parallel()
	master := redistest.Start(t)
	replica := redistest.Start(t, "--replicaof", "127.0.0.1", strconv.Itoa(master.Port))
	rc := replica.Client()
	eventually(t, "replica in sync", func() bool {
		return strings.Contains(rc.Info(ctx(t), "replication").Val(), "master_link_status:up")
	})
	sentinel := redistest.StartSentinel(t, "softland", master)
	sc := redis.NewSentinelClient(&redis.Options{Addr: sentinel.Addr()})
	t.Cleanup(func() { sc.Close() })
	eventually(t, "sentinel sees the replica", func() bool {
		r, err := sc.Replicas(ctx(t), "softland").Result()
		return err == nil && len(r) == 1
	})
	newClient := func() redis.UniversalClient {
		c, err := redisstore.NewClient(redisstore.Config{Addrs: []string{sentinel.Addr()}, MasterName: "softland"})
		if err != nil {
			panic(err)
		}
		return c
	}
	srv1, srv2 := instance(t, newClient), instance(t, newClient)
	a, b := phonetest.Pair(t, srv1, srv2)
	round := phonetest.OpenRound(t, a, b)
	ta := tokens(tok("tea"), tok("walk"))
	tb := tokens(tok("tea"), tok("walk"))
	a.OK(&protocol.Submit{Header: protocol.Header{Type: protocol.TypeSubmit}, Round: round, Tokens: ta})
	b.Until(protocol.KindRoundSubmitted)
	// Everything so far must be on the replica before the master dies.
	if n := master.Client().Wait(ctx(t), 1, 5*time.Second).Val(); n != 1 {
		t.Fatalf("replica acknowledged %d", n)
	}

	master.Kill()
	eventually(t, "sentinel promotes the replica", func() bool {
		addr, err := sc.GetMasterAddrByName(ctx(t), "softland").Result()
		return err == nil && len(addr) == 2 && addr[1] == strconv.Itoa(replica.Port)
	})
	for _, srv := range []*servertest.Server{srv1, srv2} {
		eventually(t, "/readyz back to 200", func() bool { return getStatus(t, srv.URL+"/readyz") == http.StatusOK })
	}
	b.OK(&protocol.Submit{Header: protocol.Header{Type: protocol.TypeSubmit}, Round: round, Tokens: tb})
	ra, rb := a.Until(protocol.KindRoundRevealed), b.Until(protocol.KindRoundRevealed)
	if !bytes.Equal(ra.Raw, rb.Raw) || !slices.Equal(phonetest.Revealed(ra.Reveal), []string{tok("tea"), tok("walk")}) {
		t.Fatalf("reveal after failover:\n%s\n%s", ra.Raw, rb.Raw)
	}
	b.OK(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
	a.Until(protocol.KindPaused)
	if a.Gaps() != 0 || b.Gaps() != 0 {
		t.Fatalf("event offsets jumped: %d on seat 1, %d on seat 2", a.Gaps(), b.Gaps())
	}
}

// TestLivenessAcrossInstances: the instance holding a seat's socket decides
// whether the seat is online or unreachable, and only for the seat's newest
// connection. Alex is on instance 1, Sam first on instance 2, then on
// instance 1 again while the old socket on instance 2 is still open.
func TestLivenessAcrossInstances(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	const window = 300 * time.Millisecond
	start := func() *servertest.Server {
		c := single(rs)()
		t.Cleanup(func() { c.Close() })
		s := newStore(t, c, redisstore.Options{})
		return servertest.Start(t, servertest.Options{
			Store: s.Store,
			Seats: s.Leases,
			Edge:  edge.Config{Feed: s.Feed, SocketsPerIP: 1000, AdmitsPerIP: 1000, LivenessWindow: window},
		})
	}
	srv1, srv2 := start(), start()
	a, b := phonetest.Pair(t, srv1, srv2)
	seat2 := func() string {
		st, err := srv1.Store.Load(ctx(t), a.Room)
		if err != nil {
			t.Fatal(err)
		}
		return st.Seats[1].Presence
	}

	// Sam's socket on instance 2 goes silent: instance 2 says so.
	eventually(t, "seat 2 unreachable", func() bool { return seat2() == protocol.PresenceUnreachable })
	// Sam comes back on instance 1; the old socket on instance 2 stays open.
	nb, _ := phonetest.Reconnect(t, srv1, b.Credentials, 0)
	if p := seat2(); p != protocol.PresenceOnline {
		t.Fatalf("after the resume seat 2 is %s", p)
	}
	// The new socket goes silent too: instance 1 marks it unreachable.
	eventually(t, "seat 2 unreachable again", func() bool { return seat2() == protocol.PresenceUnreachable })
	// A message on the old socket must not bring the seat back: that
	// connection is not the seat's any more. (It is refused and closed.)
	id := b.Send(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
	if f := b.Answer(id); f.Code != protocol.CodeForbidden {
		t.Fatalf("the replaced socket's request: %s", f.Raw)
	}
	b.ExpectClose(websocket.StatusCode(protocol.CloseReplaced))
	if p := seat2(); p != protocol.PresenceUnreachable {
		t.Fatalf("a message on the replaced socket made seat 2 %s", p)
	}
	// A message on the new one does.
	nb.Sync()
	if p := seat2(); p != protocol.PresenceOnline {
		t.Fatalf("a message on the seat's socket left seat 2 %s", p)
	}
}
