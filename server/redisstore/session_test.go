package redisstore_test

import (
	"bytes"
	"errors"
	"fmt"
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
)

// instance starts a whole Softland server over its own client and Redis
// store, as one of several instances behind a load balancer would run.
func instance(t *testing.T, newClient func() redis.UniversalClient) *servertest.Server {
	t.Helper()
	c := newClient()
	t.Cleanup(func() { c.Close() })
	s := newStore(t, c, redisstore.Options{})
	return servertest.Start(t, servertest.Options{
		Store: s,
		// Every phone of these tests comes from 127.0.0.1.
		Edge: edge.Config{SocketsPerIP: 1000, AdmitsPerIP: 1000},
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

// TestKeyAudit runs a whole session through the real server and then looks
// at everything in Redis: only the room's two keys, each with a TTL, holding
// none of the secrets the phones sent, none of the round's unmatched tokens
// once it closed; and nothing at all after the room is erased.
func TestKeyAudit(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	rc := rs.Client()
	srv := instance(t, single(rs))
	a, b, joinKey := pair(t, srv, srv)

	a.ok(&protocol.Settings{Header: protocol.Header{Type: protocol.TypeSettings}, Blob: blob("settings")})
	b.until(protocol.KindSettings)
	round := openRound(t, a, b)
	ta, decoysA := tokens(tok("water"), tok("hold"))
	tb, decoysB := tokens(tok("hold"), tok("music"), tok("water"))
	a.ok(&protocol.Submit{Header: protocol.Header{Type: protocol.TypeSubmit}, Round: round, Tokens: ta})
	b.ok(&protocol.Submit{Header: protocol.Header{Type: protocol.TypeSubmit}, Round: round, Tokens: tb})
	ra, rb := a.until(protocol.KindRoundRevealed), b.until(protocol.KindRoundRevealed)
	if !slices.Equal(ra.Reveal, []string{tok("hold"), tok("water")}) || !slices.Equal(ra.Reveal, rb.Reveal) {
		t.Fatalf("reveal %v / %v", ra.Reveal, rb.Reveal)
	}
	b.ok(&protocol.Announce{Header: protocol.Header{Type: protocol.TypeAnnounce}, Blob: blob("space 20")})
	a.until(protocol.KindAnnounced)
	a.ok(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
	b.until(protocol.KindPaused)
	a.ok(&protocol.Unpause{Header: protocol.Header{Type: protocol.TypeUnpause}})
	b.until(protocol.KindUnpaused)
	a.ok(&protocol.RoundClose{Header: protocol.Header{Type: protocol.TypeRoundClose}, Round: round})
	b.until(protocol.KindRoundClosed)
	a.ok(&protocol.Debrief{Header: protocol.Header{Type: protocol.TypeDebrief}, Round: round, Blob: blob("debrief a")})
	b.ok(&protocol.Debrief{Header: protocol.Header{Type: protocol.TypeDebrief}, Round: round, Blob: blob("debrief b")})
	a.until(protocol.KindDebriefReleased)
	b.until(protocol.KindDebriefReleased)
	// b comes back on a new socket: its device token crosses the wire again.
	b.ws.CloseNow()
	b2, w := resume(t, srv, b, 0)
	if w.Type != protocol.TypeWelcome {
		t.Fatalf("resume: %s", w.raw)
	}

	keys, err := redistest.RoomKeys(ctx(t), rc)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(keys)
	if want := []string{"sl:{" + a.room + "}:log", "sl:{" + a.room + "}:state"}; !slices.Equal(keys, want) {
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
		if !strings.HasPrefix(k, "sl:{"+a.room+"}:") && !strings.HasPrefix(k, "sl:live:") && !strings.HasPrefix(k, "sl:held:") && k != "sl:instances" {
			t.Errorf("unexpected key %s", k)
		}
		vals, err := redistest.Values(ctx(t), rc, k)
		if err != nil {
			t.Error(err)
		}
		stored = append(stored, vals...)
	}
	all := strings.Join(stored, "\n")
	secrets := map[string]string{"join key": joinKey, "device token of seat 1": a.device, "device token of seat 2": b.device}
	for i, d := range append(decoysA, decoysB...) {
		secrets[fmt.Sprint("unmatched token ", i)] = d
	}
	secrets["unmatched real token"] = tok("music")
	for what, s := range secrets {
		if s == "" {
			t.Fatalf("%s is empty", what)
		}
		if strings.Contains(all, s) {
			t.Errorf("Redis holds the %s", what)
		}
	}

	a.send(&protocol.Erase{Header: protocol.Header{Type: protocol.TypeErase}})
	b2.until(protocol.KindErased)
	if code := b2.closed(); code != websocket.StatusCode(protocol.CloseErased) {
		t.Fatalf("partner closed with %d", code)
	}
	// The erased event goes out before the keys are deleted; the deletion
	// follows at once.
	eventually(t, "nothing of the room left after erase", func() bool {
		keys, err := redistest.Keys(ctx(t), rc)
		if err != nil {
			return false
		}
		for _, k := range keys {
			vals, _ := redistest.Values(ctx(t), rc, k)
			if strings.Contains(k+strings.Join(vals, " "), a.room) {
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
	a, b, _ := pair(t, srv1, srv2)

	round := openRound(t, b, a)
	ta, _ := tokens(tok("water"), tok("hold"), tok("music"))
	tb, _ := tokens(tok("music"), tok("water"))
	a.ok(&protocol.Submit{Header: protocol.Header{Type: protocol.TypeSubmit}, Round: round, Tokens: ta})
	b.ok(&protocol.Submit{Header: protocol.Header{Type: protocol.TypeSubmit}, Round: round, Tokens: tb})
	ra, rb := a.until(protocol.KindRoundRevealed), b.until(protocol.KindRoundRevealed)
	if !bytes.Equal(ra.raw, rb.raw) || !slices.Equal(ra.Reveal, []string{tok("water"), tok("music")}) {
		t.Fatalf("reveals differ or are wrong:\n%s\n%s", ra.raw, rb.raw)
	}

	b.ok(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
	if f := a.until(protocol.KindPaused); f.Seat != 2 {
		t.Fatalf("pause: %s", f.raw)
	}
	b.ok(&protocol.Unpause{Header: protocol.Header{Type: protocol.TypeUnpause}})
	a.until(protocol.KindUnpaused)

	a.ok(&protocol.RoundClose{Header: protocol.Header{Type: protocol.TypeRoundClose}, Round: round})
	b.until(protocol.KindRoundClosed)
	a.ok(&protocol.Debrief{Header: protocol.Header{Type: protocol.TypeDebrief}, Round: round, Blob: blob("helped: water")})
	b.until(protocol.KindDebriefSubmitted)
	b.ok(&protocol.Debrief{Header: protocol.Header{Type: protocol.TypeDebrief}, Round: round, Blob: blob("helped: music")})
	da, db := a.until(protocol.KindDebriefReleased), b.until(protocol.KindDebriefReleased)
	if !bytes.Equal(da.raw, db.raw) || len(da.Blobs) != 2 {
		t.Fatalf("debriefs differ:\n%s\n%s", da.raw, db.raw)
	}

	a.send(&protocol.Erase{Header: protocol.Header{Type: protocol.TypeErase}})
	a.until(protocol.KindErased)
	b.until(protocol.KindErased)
	for _, p := range []*phone{a, b} {
		if code := p.closed(); code != websocket.StatusCode(protocol.CloseErased) {
			t.Fatalf("closed with %d", code)
		}
	}
	// Every event reached both phones once, in order, across the instances.
	if a.gaps != 0 || b.gaps != 0 {
		t.Fatalf("event offsets jumped: %d on seat 1, %d on seat 2", a.gaps, b.gaps)
	}
	eventually(t, "room deleted", func() bool {
		_, err := srv2.Store.Load(ctx(t), a.room)
		return errors.Is(err, room.ErrNotFound)
	})
	p, w := resume(t, srv2, a, 0)
	if w.Code != protocol.CodeNotFound {
		t.Fatalf("resume after erase: %s", w.raw)
	}
	p.closed()
}

// TestJoinRace: 50 devices with the right link race for the second seat
// through two instances. Exactly one gets it; the room still has two seats.
func TestJoinRace(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	srv1, srv2 := instance(t, single(rs)), instance(t, single(rs))
	a := dial(t, srv1)
	joinKey := a.create()

	const n = 50
	phones := make([]*phone, n)
	for i := range phones {
		phones[i] = dial(t, []*servertest.Server{srv1, srv2}[i%2])
	}
	frame, _ := protocol.Marshal(&protocol.Join{Header: protocol.Header{Type: protocol.TypeJoin, ID: "j"}, Room: a.room, JoinKey: joinKey})
	start := make(chan struct{})
	var wg sync.WaitGroup
	for _, p := range phones {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			p.ws.Write(ctx(t), websocket.MessageText, frame)
		}()
	}
	close(start)
	wg.Wait()

	codes := map[string]int{}
	for _, p := range phones {
		f := p.next()
		switch f.Type {
		case protocol.TypeWelcome:
			codes["welcome"]++
		case protocol.TypeError:
			codes[f.Code]++
		default:
			t.Fatalf("unexpected answer %s", f.raw)
		}
	}
	if codes["welcome"] != 1 || codes[protocol.CodeRoomFull]+codes[protocol.CodeForbidden] != n-1 {
		t.Fatalf("answers %v", codes)
	}
	st, err := srv1.Store.Load(ctx(t), a.room)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Seats[0].Taken || !st.Seats[1].Taken || st.Seats[1].Gen != 1 || st.JoinKeyHash != "" {
		t.Fatalf("seats %+v", st.Seats)
	}
	a.until(protocol.KindPaired)
	a.sync()
	if a.count(protocol.KindPaired) != 1 {
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
			a, b, _ := pair(t, srv1, srv2)
			round := openRound(t, a, b)
			ta, _ := tokens(tok("calm"), tok("tea"))
			tb, _ := tokens(tok("tea"))
			a.ok(&protocol.Submit{Header: protocol.Header{Type: protocol.TypeSubmit}, Round: round, Tokens: ta})
			b.until(protocol.KindRoundSubmitted)

			rs.Stop()
			for _, srv := range []*servertest.Server{srv1, srv2} {
				if code := getStatus(t, srv.URL+"/readyz"); code != http.StatusServiceUnavailable {
					t.Fatalf("/readyz with Redis down: %d", code)
				}
			}
			f := b.answer(b.send(&protocol.Submit{Header: protocol.Header{Type: protocol.TypeSubmit}, Round: round, Tokens: tb}))
			if f.Code != protocol.CodeUnavailable {
				t.Fatalf("submit with Redis down: %s", f.raw)
			}

			rs.Restart()
			for _, srv := range []*servertest.Server{srv1, srv2} {
				eventually(t, "/readyz back to 200", func() bool { return getStatus(t, srv.URL+"/readyz") == http.StatusOK })
			}
			if !persist {
				f := b.answer(b.send(&protocol.Submit{Header: protocol.Header{Type: protocol.TypeSubmit}, Round: round, Tokens: tb}))
				if f.Code != protocol.CodeNotFound {
					t.Fatalf("submit to a room Redis forgot: %s", f.raw)
				}
				p, w := resume(t, srv1, a, 0)
				if w.Code != protocol.CodeNotFound {
					t.Fatalf("resume into a room Redis forgot: %s", w.raw)
				}
				p.closed()
				return
			}
			b.ok(&protocol.Submit{Header: protocol.Header{Type: protocol.TypeSubmit}, Round: round, Tokens: tb})
			ra, rb := a.until(protocol.KindRoundRevealed), b.until(protocol.KindRoundRevealed)
			if !bytes.Equal(ra.raw, rb.raw) || !slices.Equal(ra.Reveal, []string{tok("tea")}) {
				t.Fatalf("reveal after restart:\n%s\n%s", ra.raw, rb.raw)
			}
			// The wake-ups flow between the instances again, both ways.
			a.ok(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
			b.until(protocol.KindPaused)
			b.ok(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
			a.until(protocol.KindPaused)
			if a.gaps != 0 || b.gaps != 0 {
				t.Fatalf("event offsets jumped: %d on seat 1, %d on seat 2", a.gaps, b.gaps)
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
	a, b, _ := pair(t, srv1, srv2)
	round := openRound(t, a, b)
	ta, _ := tokens(tok("tea"), tok("walk"))
	tb, _ := tokens(tok("tea"), tok("walk"))
	a.ok(&protocol.Submit{Header: protocol.Header{Type: protocol.TypeSubmit}, Round: round, Tokens: ta})
	b.until(protocol.KindRoundSubmitted)
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
	b.ok(&protocol.Submit{Header: protocol.Header{Type: protocol.TypeSubmit}, Round: round, Tokens: tb})
	ra, rb := a.until(protocol.KindRoundRevealed), b.until(protocol.KindRoundRevealed)
	if !bytes.Equal(ra.raw, rb.raw) || !slices.Equal(ra.Reveal, []string{tok("tea"), tok("walk")}) {
		t.Fatalf("reveal after failover:\n%s\n%s", ra.raw, rb.raw)
	}
	b.ok(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
	a.until(protocol.KindPaused)
	if a.gaps != 0 || b.gaps != 0 {
		t.Fatalf("event offsets jumped: %d on seat 1, %d on seat 2", a.gaps, b.gaps)
	}
}
