package redisstore_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"softland/server/redisstore"
	"softland/server/redisstore/redistest"
	"softland/server/room"
)

// TestDeadInstanceSeatsOrphaned: when an instance stops renewing its lease
// without closing (here its network to Redis is cut, as when it is killed),
// another instance hands each seat it held, once, to OnOrphaned. Seats of
// live instances and of an instance that closed normally are never handed
// over.
func TestDeadInstanceSeatsOrphaned(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	const lease = 300 * time.Millisecond
	live := newStore(t, srv.Client(), redisstore.Options{Lease: lease})
	var (
		mu  sync.Mutex
		got []room.Member
	)
	live.OnOrphaned(func(_ context.Context, m room.Member) error {
		mu.Lock()
		defer mu.Unlock()
		got = append(got, m)
		return nil
	})

	p := newProxy(t, srv.Addr())
	c := redis.NewClient(&redis.Options{Addr: p.addr(), ContextTimeoutEnabled: true, MaxRetries: -1, DialTimeout: 100 * time.Millisecond, ReadTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	dying := newStore(t, c, redisstore.Options{Lease: lease})
	closing := newStore(t, srv.Client(), redisstore.Options{Lease: lease})

	ids := []string{newState().ID, newState().ID, newState().ID}
	held := []room.Member{{Room: ids[0], Seat: 2, Gen: 3}, {Room: ids[1], Seat: 1, Gen: 1}}
	for _, m := range held {
		dying.Hold(ctx(t), m)
	}
	dying.Hold(ctx(t), room.Member{Room: ids[1], Seat: 2, Gen: 9})
	dying.Release(ctx(t), room.Member{Room: ids[1], Seat: 2, Gen: 9}) // left normally
	live.Hold(ctx(t), room.Member{Room: ids[2], Seat: 1, Gen: 1})
	closing.Hold(ctx(t), room.Member{Room: ids[2], Seat: 2, Gen: 1})

	rc := srv.Client()
	eventually(t, "every instance has a lease", func() bool {
		n, _ := rc.SCard(ctx(t), "sl:instances").Result()
		return n == 3
	})
	if err := closing.Close(); err != nil {
		t.Fatal(err)
	}
	if n, _ := rc.Exists(ctx(t), "sl:live:"+closing.Instance(), "sl:held:"+closing.Instance()).Result(); n != 0 {
		t.Fatal("a closed instance left its lease or held set")
	}
	p.ln.Close() // no new connections to Redis for the dying instance
	p.freeze()   // and the open ones hang
	eventually(t, "the dead instance's seats handed over", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) >= len(held)
	})
	// Let a few more sweeps run: nothing is handed over twice, or more.
	time.Sleep(3 * lease)
	mu.Lock()
	defer mu.Unlock()
	slices.SortFunc(got, func(a, b room.Member) int { return a.Seat - b.Seat })
	want := []room.Member{held[1], held[0]}
	if !slices.Equal(got, want) {
		t.Fatalf("orphaned %v, want %v", got, want)
	}
	if n, _ := rc.Exists(ctx(t), "sl:held:"+dying.Instance()).Result(); n != 0 {
		t.Error("the dead instance's held set is still there")
	}
	if members, _ := rc.SMembers(ctx(t), "sl:instances").Result(); !slices.Equal(members, []string{live.Instance()}) {
		t.Errorf("instances %v, want only the live one", members)
	}
}

// TestStalledInstanceRevived: an instance that stalls for longer than its
// lease is taken for dead, and its seats are marked reconnecting; when it
// runs again it finds out, hands each seat it still holds to OnRevived and
// writes its held set back, so that a later real death is still noticed.
func TestStalledInstanceRevived(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	const lease = 300 * time.Millisecond
	var (
		mu                sync.Mutex
		orphaned, revived []room.Member
	)
	live := newStore(t, srv.Client(), redisstore.Options{Lease: lease})
	live.OnOrphaned(func(_ context.Context, m room.Member) error {
		mu.Lock()
		defer mu.Unlock()
		orphaned = append(orphaned, m)
		return nil
	})
	p := newProxy(t, srv.Addr())
	c := redis.NewClient(&redis.Options{Addr: p.addr(), ContextTimeoutEnabled: true, MaxRetries: -1, DialTimeout: 100 * time.Millisecond, ReadTimeout: 100 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	stalled := newStore(t, c, redisstore.Options{Lease: lease})
	stalled.OnRevived(func(_ context.Context, m room.Member) error {
		mu.Lock()
		defer mu.Unlock()
		revived = append(revived, m)
		return nil
	})
	m := room.Member{Room: newState().ID, Seat: 2, Gen: 4}
	stalled.Hold(ctx(t), m)
	rc := srv.Client()
	eventually(t, "both instances have leases", func() bool {
		n, _ := rc.SCard(ctx(t), "sl:instances").Result()
		return n == 2
	})

	resume := p.stall()
	eventually(t, "the stalled instance's seat orphaned", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(orphaned) == 1
	})
	if n, _ := rc.Exists(ctx(t), "sl:held:"+stalled.Instance()).Result(); n != 0 {
		t.Fatal("the sweep left the held set")
	}
	mu.Lock()
	if len(revived) != 0 {
		t.Fatalf("revived %v while stalled", revived)
	}
	mu.Unlock()
	resume()
	eventually(t, "the seat revived", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(revived) > 0
	})
	held := fmt.Sprintf("%s %d %d", m.Room, m.Seat, m.Gen)
	eventually(t, "the held set written back", func() bool {
		ok, _ := rc.SIsMember(ctx(t), "sl:held:"+stalled.Instance(), held).Result()
		return ok
	})
	time.Sleep(3 * lease)
	mu.Lock()
	defer mu.Unlock()
	if !slices.Equal(orphaned, []room.Member{m}) {
		t.Fatalf("orphaned %v, want %v once", orphaned, m)
	}
	for _, r := range revived {
		if r != m {
			t.Fatalf("revived %v, want only %v", revived, m)
		}
	}
	if ok, _ := rc.SIsMember(ctx(t), "sl:held:"+stalled.Instance(), held).Result(); !ok {
		t.Fatal("the held set lost the seat again")
	}
}

// TestUnwiredLeasesJudgeNobody: an instance whose Leases has no OnOrphaned
// yet (the command wires it after building its Service) leaves a dead
// instance's seats alone instead of claiming them with nothing to hand them
// to; once wired, it hands them over.
func TestUnwiredLeasesJudgeNobody(t *testing.T) {
	t.Parallel()
	srv := redistest.Start(t)
	const lease = 300 * time.Millisecond
	rc := srv.Client()
	live := redisstore.NewLeases(srv.Client(), redisstore.Options{Lease: lease})
	t.Cleanup(live.Close)

	dead := redisstore.NewLeases(srv.Client(), redisstore.Options{Lease: lease})
	m := room.Member{Room: newState().ID, Seat: 1, Gen: 1}
	dead.Hold(ctx(t), m)
	// Dying without a word: its lease key goes, its held set and its id in
	// sl:instances stay, as after SIGKILL.
	deadID := dead.Instance()
	dead.Close()
	rc.SAdd(ctx(t), "sl:instances", deadID)
	rc.SAdd(ctx(t), "sl:held:"+deadID, fmt.Sprintf("%s %d %d", m.Room, m.Seat, m.Gen))

	time.Sleep(6 * lease) // a healthy lease for a whole Lease, then sweeps
	if ok, _ := rc.SIsMember(ctx(t), "sl:instances", deadID).Result(); !ok {
		t.Fatal("an instance with nothing to hand seats to judged a dead one")
	}
	got := make(chan room.Member, 4)
	live.OnOrphaned(func(_ context.Context, m room.Member) error {
		got <- m
		return nil
	})
	select {
	case g := <-got:
		if g != m {
			t.Fatalf("orphaned %v, want %v", g, m)
		}
	case <-time.After(waitFor):
		t.Fatal("the dead instance's seat was never handed over")
	}
}
