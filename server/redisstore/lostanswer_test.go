package redisstore_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"softland/server/edge"
	"softland/server/protocol"
	"softland/server/redisstore"
	"softland/server/redisstore/redistest"
	"softland/server/room"
	"softland/server/servertest"
	"softland/server/servertest/phonetest"
)

// freezeBeforeCommit is the Redis store with a trap: once armed, the next
// Update that has something to commit freezes Redis (SIGSTOP) after taking
// the room's state and before sending its commit. The commit then waits, unread, in
// Redis's socket; the client gives up on its answer, the phone is told
// unavailable, and when Redis is thawed the commit runs all the same.
type freezeBeforeCommit struct {
	*redisstore.Store
	t  *testing.T
	rs *redistest.Server

	mu    sync.Mutex
	armed bool
	hit   chan struct{}
}

func (f *freezeBeforeCommit) arm() chan struct{} {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.armed, f.hit = true, make(chan struct{})
	return f.hit
}

func (f *freezeBeforeCommit) Update(ctx context.Context, id string, fn func(*room.State) ([]protocol.Event, error)) (*room.State, []protocol.Event, error) {
	return f.Store.Update(ctx, id, func(st *room.State) ([]protocol.Event, error) {
		evs, err := fn(st)
		f.mu.Lock()
		defer f.mu.Unlock()
		if err == nil && len(evs) > 0 && f.armed {
			f.armed = false
			if err := f.rs.Freeze(); err != nil {
				f.t.Error(err)
			}
			close(f.hit)
		}
		return evs, err
	})
}

// TestCommitLandsAfterItsAnswerWasLost: a change whose commit reached
// Redis but whose answer never came back is reported to the phone as
// unavailable, yet takes effect once Redis runs again. Both phones then see
// its events exactly once, and the phone's retry gets the natural answer to
// a repetition (protocol §10) instead of doing it twice. Each step of a
// round is tried this way.
func TestCommitLandsAfterItsAnswerWasLost(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	// A short read timeout makes the client give up on a frozen Redis
	// quickly; the edge's own deadline is longer.
	c := redis.NewClient(&redis.Options{Addr: rs.Addr(), ContextTimeoutEnabled: true, ReadTimeout: 300 * time.Millisecond})
	t.Cleanup(func() { c.Close() })
	node := newStore(t, c, redisstore.Options{})
	trap := &freezeBeforeCommit{Store: node.Store, t: t, rs: rs}
	srv := servertest.Start(t, servertest.Options{
		Store: trap,
		Seats: node.Leases,
		Edge:  edge.Config{Feed: node.Feed, SocketsPerIP: 1000, AdmitsPerIP: 1000},
	})
	t.Cleanup(func() { rs.Thaw() }) // so that a failed test does not leave it frozen
	a, b := phonetest.Pair(t, srv)
	// The commit script is cached in Redis before the first trap, so the
	// trapped commit is a whole EVALSHA, not a NOSCRIPT answer.
	a.OK(&protocol.Announce{Header: protocol.Header{Type: protocol.TypeAnnounce}, Blob: blob("warm up")})
	b.Until(protocol.KindAnnounced)

	var round string
	ts := tokens(tok("water"), tok("blanket"))
	steps := []struct {
		name   string
		req    func() any
		kind   string // the event the lost commit logs
		repeat string // the error a repetition gets; "" for an ack
	}{
		{"pause", func() any { return &protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}} }, protocol.KindPaused, ""},
		{"unpause", func() any { return &protocol.Unpause{Header: protocol.Header{Type: protocol.TypeUnpause}} }, protocol.KindUnpaused, protocol.CodeNotPaused},
		{"open", func() any { return &protocol.RoundOpen{Header: protocol.Header{Type: protocol.TypeRoundOpen}} }, protocol.KindRoundOpened, protocol.CodeRoundOpen},
		{"submit", func() any {
			return &protocol.Submit{Header: protocol.Header{Type: protocol.TypeSubmit}, Round: round, Tokens: ts}
		}, protocol.KindRoundSubmitted, ""},
		{"close", func() any {
			return &protocol.RoundClose{Header: protocol.Header{Type: protocol.TypeRoundClose}, Round: round}
		}, protocol.KindRoundClosed, protocol.CodeNoRound},
	}
	for _, s := range steps {
		before := [2]int{a.Count(s.kind), b.Count(s.kind)}
		hit := trap.arm()
		f := a.Answer(a.Send(s.req()))
		select {
		case <-hit:
		default:
			t.Fatalf("%s: the trap was not sprung", s.name)
		}
		if f.Type != protocol.TypeError || f.Code != protocol.CodeUnavailable {
			t.Fatalf("%s with Redis frozen before its commit: %s, want unavailable", s.name, f.Raw)
		}
		if err := rs.Thaw(); err != nil {
			t.Fatal(err)
		}
		// The commit runs now; its event reaches both phones.
		ev := a.Until(s.kind)
		b.Until(s.kind)
		if s.kind == protocol.KindRoundOpened {
			round = ev.Round
		}
		// The phone repeats the request it got no answer to.
		f = a.Answer(a.Send(s.req()))
		switch {
		case s.repeat == "" && f.Type != protocol.TypeAck,
			s.repeat != "" && (f.Type != protocol.TypeError || f.Code != s.repeat):
			t.Fatalf("%s repeated: %s, want %q (an ack when empty)", s.name, f.Raw, s.repeat)
		}
		a.Sync()
		b.Sync()
		if got := [2]int{a.Count(s.kind), b.Count(s.kind)}; got != [2]int{before[0] + 1, before[1] + 1} {
			t.Fatalf("%s: the phones saw %s %v times, before %v", s.name, s.kind, got, before)
		}
		if s.kind == protocol.KindRoundSubmitted {
			// Seat 1's repeated answer stands once: seat 2's reveals.
			ts2 := tokens(tok("water"))
			b.OK(&protocol.Submit{Header: protocol.Header{Type: protocol.TypeSubmit}, Round: round, Tokens: ts2})
			a.Until(protocol.KindRoundRevealed)
			b.Until(protocol.KindRoundRevealed)
		}
	}
	if a.Count(protocol.KindRoundRevealed) != 1 || b.Count(protocol.KindRoundRevealed) != 1 {
		t.Fatalf("reveals seen: %d, %d", a.Count(protocol.KindRoundRevealed), b.Count(protocol.KindRoundRevealed))
	}
	if a.Gaps() != 0 || b.Gaps() != 0 {
		t.Fatalf("gaps in the event streams: %d, %d", a.Gaps(), b.Gaps())
	}
}
