package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"softland/client"
	"softland/client/rules"
	"softland/server/protocol"
	"softland/server/redisstore/redistest"
	"softland/server/room"
)

// The fault tests put a bounded load on two real server processes that share
// one redis-server, inject one fault in the middle of it, and then check what
// every phone saw: each phone's events have consecutive offsets with nothing
// missing and nothing twice, across every reconnect, and match the room's log
// in Redis; every round was seen the same way by both phones; every pair
// finished the round the fault interrupted and went on to finish others.
//
// Each pair runs check-in rounds in a loop the way two phones would: open,
// both answer, both see the reveal, sometimes pause and unpause, close. A
// request whose answer was lost is sent again, after resuming when the
// connection went; the protocol answers a repetition with its natural answer
// (round_open, no_round, not_paused, an ack), which the driver accepts only
// when an earlier attempt may have taken effect.
//
// The sizes are the hardening issue's: 200 pairs for 30 seconds, the fault at
// 10 seconds. Every time limit below only turns a hang into a failure; none
// measures speed.
var (
	loadPairs = 200
)

const (
	loadDuration = 30 * time.Second
	faultAfter   = 10 * time.Second
	redisFrozen  = 5 * time.Second
	// Each pair starts a round every 1 to 2 seconds, jittered.
	roundGapMin = time.Second
	roundGapMax = 2 * time.Second
	// A person takes a moment between taps: up to this long before each
	// answer, pause and close. So a round spans a good part of its gap, and
	// the fault finds many pairs in the middle of one.
	thinkMax = 400 * time.Millisecond

	setupLimit = 3 * time.Minute // creating and joining every pair
	runLimit   = 5 * time.Minute // the load, the fault and the checks
	stepLimit  = 90 * time.Second
	callLimit  = 30 * time.Second
)

// placements says where a pair's two phones connect, by pair number modulo
// 4: seat 1 on instance one and seat 2 on instance two, the other way round,
// both on instance one, both on instance two. So when instance one dies, half
// the pairs lose one phone (a creator or a joiner), a quarter lose both at
// once, and a quarter lose neither, and both instances carry both seats.
var placements = [4][2]int{{0, 1}, {1, 0}, {0, 0}, {1, 1}}

// needsPool is what phones tap, a few at a time. Water is tapped often, so
// that reveals are often, but not always, non-empty.
var needsPool = []string{"be-held", "hold-partner", "cuddle", "blanket", "snack", "soft-music", "silence", "warm-drink", "space-10"}

// TestKillInstanceUnderLoad kills one of two instances with SIGKILL while 200
// pairs run rounds. Every phone that was on it resumes on the other instance
// from its saved offset and carries on; nothing is lost or seen twice.
func TestKillInstanceUnderLoad(t *testing.T) {
	lt := startLoad(t)
	lt.run(func() {
		// Phones resume on instance two from the moment instance one is
		// marked dead, so mark it first.
		lt.dead[0].Store(true)
		lt.markFault()
		must(t, lt.inst[0].cmd.Process.Signal(syscall.SIGKILL))
		lt.inst[0].cmd.Wait()
	})
	lt.check()
	moved, survivors := 0, 0
	for _, pr := range lt.pairs {
		for _, p := range pr.ph {
			switch {
			case p.home == 0 && (p.at != 1 || p.resumes == 0):
				t.Errorf("%s was on the killed instance and is on instance %d after %d resumes", p.name, p.at+1, p.resumes)
			case p.home == 0:
				moved++
			case p.resumes > 0:
				// Not wrong (a phone the server cannot serve in time is
				// closed and resumes), but worth knowing.
				survivors++
			}
		}
	}
	t.Logf("%d phones moved from the killed instance to the other; %d phones on the surviving instance reconnected", moved, survivors)
}

// TestPauseRedisUnderLoad freezes the redis-server (SIGSTOP) for 5 seconds
// while 200 pairs run rounds, then lets it run on (SIGCONT). Requests get
// unavailable or wait; sockets may close and resume. A commit whose answer
// timed out may still have landed when Redis woke up: the phone's retry then
// gets the natural answer to a repetition, and every event arrives once.
func TestPauseRedisUnderLoad(t *testing.T) {
	lt := startLoad(t)
	lt.run(func() {
		lt.markFault()
		must(t, lt.rs.Freeze())
		time.Sleep(redisFrozen)
		must(t, lt.rs.Thaw())
	})
	lt.check()
}

// loadTest is one run: the servers, the pairs and what went wrong.
type loadTest struct {
	t        *testing.T
	rs       *redistest.Server
	inst     [2]*instance
	dead     [2]atomic.Bool
	pairs    []*pair
	stopping atomic.Bool

	faultStart, faultEnd time.Time // set by run, read after the drivers end

	mu       sync.Mutex
	problems []string
	nProblem int
	counts   map[string]int
}

// problem records something a phone or a pair got wrong; check reports
// them all at the end.
func (lt *loadTest) problem(format string, args ...any) {
	lt.mu.Lock()
	defer lt.mu.Unlock()
	lt.nProblem++
	if len(lt.problems) < 40 {
		lt.problems = append(lt.problems, fmt.Sprintf(format, args...))
	}
}

func (lt *loadTest) count(what string) {
	lt.mu.Lock()
	lt.counts[what]++
	lt.mu.Unlock()
}

// startLoad starts Redis and two instances and pairs loadPairs pairs of
// phones. The per-address caps are raised: every phone here comes from
// 127.0.0.1.
func startLoad(t *testing.T) *loadTest {
	if testing.Short() {
		// The test command runs this package again without -short, so the
		// fault tests always run there and in CI (.ci/test).
		t.Skip("a 30-second fault test under load; runs without -short")
	}
	rs := redistest.Start(t)
	env := []string{
		"SOFTLAND_REDIS_URL=" + rs.URL(),
		"SOFTLAND_SOCKETS_PER_IP=100000",
		"SOFTLAND_ADMITS_PER_IP=100000",
		"SOFTLAND_LOG_LEVEL=warn",
	}
	lt := &loadTest{t: t, rs: rs, counts: make(map[string]int)}
	lt.inst[0] = startInstance(t, env...)
	lt.inst[1] = startInstance(t, env...)

	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), setupLimit)
	defer cancel()
	lt.pairs = make([]*pair, loadPairs)
	jobs := make(chan int)
	errs := make(chan error, loadPairs)
	var wg sync.WaitGroup
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				pr, err := lt.newPair(ctx, i)
				if err != nil {
					errs <- fmt.Errorf("pair %d: %w", i, err)
					continue
				}
				lt.pairs[i] = pr
			}
		}()
	}
	for i := range loadPairs {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	close(errs)
	t.Cleanup(lt.stop)
	for err := range errs {
		t.Fatal(err)
	}
	t.Logf("%d pairs on two instances in %v", loadPairs, time.Since(start).Round(time.Millisecond))
	return lt
}

// newPair creates a room on one instance and joins it on the other (or the
// same), and starts reading both phones' events.
func (lt *loadTest) newPair(ctx context.Context, i int) (*pair, error) {
	at := placements[i%len(placements)]
	a, link, err := client.Create(ctx, lt.inst[at[0]].url)
	if err != nil {
		return nil, err
	}
	// State counts an event as taken once it is offered, so the starting
	// offsets are read before the first event (paired) can arrive.
	baseA := a.State().Offset
	b, err := client.Join(ctx, lt.inst[at[1]].url, link)
	if err != nil {
		a.Close()
		return nil, err
	}
	base := [2]uint64{baseA, b.State().Offset}
	pr := &pair{lt: lt, id: i, room: a.Room(), rng: rand.New(rand.NewPCG(uint64(i), 1))}
	for s, c := range []*client.Client{a, b} {
		p := &phone{
			lt:      lt,
			name:    fmt.Sprintf("pair %d seat %d", i, s+1),
			seat:    s + 1,
			home:    at[s],
			at:      at[s],
			c:       c,
			changed: make(chan struct{}),
			base:    base[s],
			rounds:  make(map[string]*roundSeen),
			done:    make(chan struct{}),
		}
		p.last = p.base
		pr.ph[s] = p
		go p.run()
	}
	return pr, nil
}

// stop closes every phone and waits for their goroutines.
func (lt *loadTest) stop() {
	lt.stopping.Store(true)
	for _, pr := range lt.pairs {
		if pr == nil {
			continue
		}
		for _, p := range pr.ph {
			p.mu.Lock()
			c := p.c
			p.mu.Unlock()
			c.Close()
		}
	}
	for _, pr := range lt.pairs {
		if pr == nil {
			continue
		}
		for _, p := range pr.ph {
			select {
			case <-p.done:
			case <-time.After(stepLimit):
				lt.t.Errorf("%s: its reader did not stop", p.name)
			}
		}
	}
}

// run drives every pair for loadDuration and calls inject faultAfter into
// it. It returns when every pair has finished its last round.
func (lt *loadTest) run(inject func()) {
	ctx, cancel := context.WithTimeout(context.Background(), runLimit)
	defer cancel()
	start := time.Now()
	until := start.Add(loadDuration)
	var wg sync.WaitGroup
	for _, pr := range lt.pairs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			pr.drive(ctx, until)
		}()
	}
	select {
	case <-time.After(faultAfter):
	case <-ctx.Done():
	}
	lt.faultStart = time.Now()
	inject()
	lt.faultEnd = time.Now()
	wg.Wait()
	lt.t.Logf("load ran %v; fault at %v for %v", time.Since(start).Round(time.Millisecond),
		lt.faultStart.Sub(start).Round(time.Millisecond), lt.faultEnd.Sub(lt.faultStart).Round(time.Millisecond))
}

// markFault notes, for every pair, the round it has in flight as the fault
// begins.
func (lt *loadTest) markFault() {
	for _, pr := range lt.pairs {
		pr.mu.Lock()
		if pr.inRound {
			pr.atFault = pr.seq
		}
		pr.mu.Unlock()
	}
}

// check waits until every phone has every event its room logged, compares
// what each phone saw with the room's log in Redis and with its partner, and
// reports.
func (lt *loadTest) check() {
	t := lt.t
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), runLimit)
	defer cancel()
	rc := lt.rs.Client()
	var total, afterFault, inFlight, nonEmpty, pauses int
	var took []time.Duration
	for _, pr := range lt.pairs {
		st, log, err := roomLog(ctx, rc, pr.room)
		if err != nil {
			t.Errorf("pair %d: %v", pr.id, err)
			continue
		}
		for _, p := range pr.ph {
			if err := p.await(ctx, fmt.Sprintf("offset %d", st.Offset), func() bool { return p.last >= st.Offset }); err != nil {
				lt.problem("%v (it is at %d)", err, p.lastOffset())
			}
		}
		if st2, _, err := roomLog(ctx, rc, pr.room); err == nil && st2.Offset != st.Offset {
			lt.problem("pair %d: the room went on from offset %d to %d after the load", pr.id, st.Offset, st2.Offset)
		}
		pr.checkAgainstLog(st, log)
		n, ne := pr.checkRounds()
		total += n
		nonEmpty += ne
		pauses += pr.pauses[0] + pr.pauses[1]
		after := 0
		for _, r := range pr.done {
			took = append(took, r.end.Sub(r.start))
			if r.start.After(lt.faultEnd) {
				after++
			}
		}
		afterFault += after
		if after == 0 {
			lt.problem("pair %d finished no round after the fault (%d rounds in all)", pr.id, len(pr.done))
		}
		if pr.atFault != 0 {
			inFlight++
			if !slices.ContainsFunc(pr.done, func(r doneRound) bool { return r.seq == pr.atFault }) {
				lt.problem("pair %d did not finish round %d, in flight at the fault", pr.id, pr.atFault)
			}
		}
	}
	lt.mu.Lock()
	var counts []string
	for k, v := range lt.counts {
		counts = append(counts, fmt.Sprintf("%s: %d", k, v))
	}
	sort.Strings(counts)
	problems, nProblem := lt.problems, lt.nProblem
	lt.mu.Unlock()
	t.Logf("rounds completed: %d (%d after the fault; %d of them with a non-empty reveal); %d pairs had a round in flight at the fault and finished it; %d pauses", total, afterFault, nonEmpty, inFlight, pauses)
	t.Logf("along the way: %s", strings.Join(counts, ", "))
	if len(took) > 0 {
		slices.Sort(took)
		q := func(f float64) time.Duration { return took[int(f*float64(len(took)-1))].Round(time.Millisecond) }
		t.Logf("a round took %v at the median, %v at the 90th percentile, %v at most (for information only)", q(0.5), q(0.9), q(1))
	}
	for _, p := range problems {
		t.Error(p)
	}
	if nProblem > len(problems) {
		t.Errorf("... and %d more problems", nProblem-len(problems))
	}
	if nonEmpty == 0 {
		t.Error("no round had a non-empty reveal: the load does not exercise matching")
	}
}

// roomLog reads a room's state and every event its log in Redis still holds.
func roomLog(ctx context.Context, rc *redis.Client, id string) (*room.State, []protocol.Event, error) {
	b, err := rc.Get(ctx, "sl:{"+id+"}:state").Bytes()
	if err != nil {
		return nil, nil, fmt.Errorf("room state: %w", err)
	}
	st := new(room.State)
	if err := json.Unmarshal(b, st); err != nil {
		return nil, nil, err
	}
	msgs, err := rc.XRange(ctx, "sl:{"+id+"}:log", "-", "+").Result()
	if err != nil {
		return nil, nil, fmt.Errorf("room log: %w", err)
	}
	var log []protocol.Event
	for _, m := range msgs {
		var ev protocol.Event
		if s, ok := m.Values["e"].(string); !ok || json.Unmarshal([]byte(s), &ev) != nil {
			return nil, nil, fmt.Errorf("room log entry %s is not an event", m.ID)
		}
		if n := len(log); n > 0 && ev.Offset != log[n-1].Offset+1 {
			return nil, nil, fmt.Errorf("room log jumps from offset %d to %d", log[n-1].Offset, ev.Offset)
		}
		log = append(log, ev)
	}
	if n := len(log); n == 0 || log[n-1].Offset != st.Offset {
		return nil, nil, fmt.Errorf("room log does not end at the room's offset %d", st.Offset)
	}
	return st, log, nil
}

// pair is two phones sharing a room, and the driver that plays their rounds.
type pair struct {
	lt   *loadTest
	id   int
	room string
	ph   [2]*phone
	rng  *rand.Rand // the driver's only

	mu      sync.Mutex
	seq     int  // the number of the current or last round
	inRound bool // a round is between its open and its close
	atFault int  // the round in flight at the fault, 0 for none
	// Written by the driver, read once it has ended.
	done   []doneRound
	pauses [2]int // pauses by seat
}

type doneRound struct {
	seq        int
	id         string
	start, end time.Time
}

// drive plays rounds until until, one every roundGapMin to roundGapMax.
func (pr *pair) drive(ctx context.Context, until time.Time) {
	// Spread the pairs' starts over one gap.
	if !sleepCtx(ctx, rand.N(roundGapMax)) {
		return
	}
	for time.Now().Before(until) {
		start := time.Now()
		if err := pr.round(ctx); err != nil {
			pr.lt.problem("pair %d, round %d: %v", pr.id, pr.seq, err)
			return
		}
		gap := roundGapMin + rand.N(roundGapMax-roundGapMin)
		if !sleepCtx(ctx, time.Until(start.Add(gap))) {
			return
		}
	}
}

// round plays one check-in round to its end.
func (pr *pair) round(ctx context.Context) error {
	pr.mu.Lock()
	pr.seq++
	seq := pr.seq
	pr.inRound = true
	pr.mu.Unlock()
	start := time.Now()

	opener := pr.ph[pr.rng.IntN(2)]
	var id string
	refused, unsure, err := opener.call(ctx, protocol.TypeRoundOpen, func(ctx context.Context, c *client.Client) error {
		var err error
		id, err = c.OpenRound(ctx)
		return err
	})
	if err != nil {
		return err
	}
	if refused != nil {
		if refused.Code != protocol.CodeRoundOpen || !unsure {
			return fmt.Errorf("%s: %w", opener.name, refused)
		}
		// An attempt whose answer was lost opened it: its event names it.
		if err := opener.await(ctx, "the round an earlier attempt opened", func() bool { return opener.open != "" }); err != nil {
			return err
		}
		opener.mu.Lock()
		id = opener.open
		opener.mu.Unlock()
	}
	for _, p := range pr.ph {
		if err := p.await(ctx, "round.opened", func() bool { return p.rounds[id] != nil }); err != nil {
			return err
		}
	}

	// Both answer, each in their own time.
	errs := make(chan error, 2)
	for _, p := range pr.ph {
		needs := pr.needs()
		think := rand.N(thinkMax)
		go func() {
			if !sleepCtx(ctx, think) {
				errs <- ctx.Err()
				return
			}
			refused, _, err := p.call(ctx, protocol.TypeSubmit, func(ctx context.Context, c *client.Client) error {
				return c.SubmitNeeds(ctx, id, needs, rules.Plan{})
			})
			if err == nil && refused != nil {
				err = fmt.Errorf("%s: %w", p.name, refused)
			}
			errs <- err
		}()
	}
	err = errors.Join(<-errs, <-errs)
	if err != nil {
		return err
	}
	for _, p := range pr.ph {
		if err := p.await(ctx, "round.revealed", func() bool { return len(p.rounds[id].reveals) > 0 }); err != nil {
			return err
		}
	}

	if pr.rng.IntN(3) == 0 {
		if !sleepCtx(ctx, rand.N(thinkMax)) {
			return ctx.Err()
		}
		if err := pr.pauseAndUnpause(ctx, pr.ph[pr.rng.IntN(2)]); err != nil {
			return err
		}
	}

	if !sleepCtx(ctx, rand.N(thinkMax)) {
		return ctx.Err()
	}
	closer := pr.ph[pr.rng.IntN(2)]
	refused, unsure, err = closer.call(ctx, protocol.TypeRoundClose, func(ctx context.Context, c *client.Client) error {
		return c.CloseRound(ctx, id)
	})
	if err != nil {
		return err
	}
	if refused != nil && (refused.Code != protocol.CodeNoRound || !unsure) {
		return fmt.Errorf("%s: %w", closer.name, refused)
	}
	for _, p := range pr.ph {
		if err := p.await(ctx, "round.closed", func() bool { return p.rounds[id].closed > 0 }); err != nil {
			return err
		}
	}

	pr.mu.Lock()
	pr.done = append(pr.done, doneRound{seq: seq, id: id, start: start, end: time.Now()})
	pr.inRound = false
	pr.mu.Unlock()
	return nil
}

// pauseAndUnpause has p pause, waits until both phones see it, and lifts it.
func (pr *pair) pauseAndUnpause(ctx context.Context, p *phone) error {
	s := p.seat - 1
	pr.pauses[s]++
	n := pr.pauses[s]
	refused, _, err := p.call(ctx, protocol.TypePause, func(ctx context.Context, c *client.Client) error {
		return c.Pause(ctx)
	})
	if err != nil {
		return err
	}
	if refused != nil { // a repeated pause is acknowledged
		return fmt.Errorf("%s: %w", p.name, refused)
	}
	for _, q := range pr.ph {
		if err := q.await(ctx, "paused", func() bool { return q.paused[s] >= n }); err != nil {
			return err
		}
	}
	refused, unsure, err := p.call(ctx, protocol.TypeUnpause, func(ctx context.Context, c *client.Client) error {
		return c.Unpause(ctx)
	})
	if err != nil {
		return err
	}
	if refused != nil && (refused.Code != protocol.CodeNotPaused || !unsure) {
		return fmt.Errorf("%s: %w", p.name, refused)
	}
	for _, q := range pr.ph {
		if err := q.await(ctx, "unpaused", func() bool { return q.unpaused[s] >= n }); err != nil {
			return err
		}
	}
	return nil
}

// needs picks what one phone taps this round: often water, which both seats
// accept, and one or two others.
func (pr *pair) needs() []string {
	var n []string
	if pr.rng.IntN(2) == 0 {
		n = append(n, "water")
	}
	for range 1 + pr.rng.IntN(2) {
		if x := needsPool[pr.rng.IntN(len(needsPool))]; !slices.Contains(n, x) {
			n = append(n, x)
		}
	}
	return n
}

// checkAgainstLog compares every phone's events with the room's log: the
// same kind, seat and round at every offset the log still holds, and the
// phone at the room's offset.
func (pr *pair) checkAgainstLog(st *room.State, log []protocol.Event) {
	for _, p := range pr.ph {
		p.mu.Lock()
		if p.last != st.Offset {
			pr.lt.problem("%s ends at offset %d; its room is at %d", p.name, p.last, st.Offset)
		}
		for _, ev := range log {
			if ev.Offset <= p.base {
				continue
			}
			i := int(ev.Offset - p.base - 1)
			if i >= len(p.seen) {
				pr.lt.problem("%s never got event %d (%s)", p.name, ev.Offset, ev.Kind)
				break
			}
			got := p.seen[i]
			if got.offset != ev.Offset || got.kind != ev.Kind || got.seat != ev.Seat || got.round != ev.Round {
				pr.lt.problem("%s got %+v at offset %d; the log has %s seat %d round %s", p.name, got, ev.Offset, ev.Kind, ev.Seat, ev.Round)
				break
			}
		}
		p.mu.Unlock()
	}
}

// checkRounds checks every round the pair finished, as both phones saw it,
// and returns how many there were and how many had a non-empty reveal.
func (pr *pair) checkRounds() (rounds, nonEmpty int) {
	lt := pr.lt
	a, b := pr.ph[0], pr.ph[1]
	a.mu.Lock()
	defer a.mu.Unlock()
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, p := range pr.ph {
		if len(p.rounds) != len(pr.done) {
			lt.problem("%s saw %d rounds open; the pair played %d", p.name, len(p.rounds), len(pr.done))
		}
		for s := range 2 {
			if p.paused[s] != pr.pauses[s] || p.unpaused[s] != pr.pauses[s] {
				lt.problem("%s saw seat %d pause %d and unpause %d times; it paused %d times", p.name, s+1, p.paused[s], p.unpaused[s], pr.pauses[s])
			}
		}
	}
	for _, r := range pr.done {
		ra, rb := a.rounds[r.id], b.rounds[r.id]
		if ra == nil || rb == nil {
			lt.problem("pair %d: round %d missing at a phone", pr.id, r.seq)
			continue
		}
		for _, x := range []struct {
			p *phone
			r *roundSeen
		}{{a, ra}, {b, rb}} {
			if x.r.opened != 1 || x.r.closed != 1 || x.r.submitted != [2]int{1, 1} {
				lt.problem("%s, round %d: opened %d, closed %d, submitted %v times", x.p.name, r.seq, x.r.opened, x.r.closed, x.r.submitted)
			}
			for i, rv := range x.r.reveals {
				if rv.rev != i+1 || rv.unknown != 0 || rv.tokens != len(rv.ids) {
					lt.problem("%s, round %d: reveal %+v as number %d", x.p.name, r.seq, rv, i+1)
				}
			}
		}
		if !slices.EqualFunc(ra.reveals, rb.reveals, func(x, y revealSeen) bool { return x.rev == y.rev && slices.Equal(x.ids, y.ids) }) {
			lt.problem("pair %d, round %d: seat 1 saw reveals %v, seat 2 %v", pr.id, r.seq, ra.reveals, rb.reveals)
		}
		rounds++
		if n := len(ra.reveals); n > 0 && len(ra.reveals[n-1].ids) > 0 {
			nonEmpty++
		}
	}
	return rounds, nonEmpty
}

// phone is one seat: its current connection, and everything it has seen.
type phone struct {
	lt   *loadTest
	name string
	seat int
	home int // the instance it connected to first

	mu       sync.Mutex
	c        *client.Client
	at       int           // the instance c is on
	changed  chan struct{} // closed and replaced whenever anything below changes
	base     uint64        // the offset of its first welcome
	last     uint64        // the offset of the last event taken
	seen     []seenEvent   // every event taken, in order
	rounds   map[string]*roundSeen
	open     string // the open round as its events tell
	paused   [2]int // paused events by seat
	unpaused [2]int
	resumes  int

	done chan struct{} // closed when run ends
}

type seenEvent struct {
	offset uint64
	kind   string
	seat   int
	round  string
}

type roundSeen struct {
	opened, closed int
	submitted      [2]int
	reveals        []revealSeen
}

type revealSeen struct {
	rev     int
	ids     []string
	tokens  int
	unknown int
}

func (p *phone) lastOffset() uint64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// changedLocked wakes everyone waiting on the phone.
func (p *phone) changedLocked() {
	close(p.changed)
	p.changed = make(chan struct{})
}

// run reads the phone's events and, whenever its connection ends, resumes
// from the saved state, until the test stops it.
func (p *phone) run() {
	defer close(p.done)
	ctx, cancel := context.WithTimeout(context.Background(), setupLimit+runLimit)
	defer cancel()
	for {
		p.mu.Lock()
		c := p.c
		p.mu.Unlock()
		for e := range c.Events() {
			p.record(e)
		}
		err := c.Err()
		st := c.State()
		c.Close()
		if p.lt.stopping.Load() {
			return
		}
		if !client.ShouldResume(err) {
			p.lt.problem("%s: the connection ended for good: %v", p.name, err)
			return
		}
		p.lt.count("connections lost")
		if last := p.lastOffset(); st.Offset != last {
			p.lt.problem("%s: its state is at offset %d, its last event at %d", p.name, st.Offset, last)
		}
		nc, at := p.resume(ctx, st)
		if nc == nil {
			return
		}
		p.mu.Lock()
		p.c, p.at = nc, at
		p.resumes++
		p.changedLocked()
		p.mu.Unlock()
		if p.lt.stopping.Load() {
			nc.Close()
		}
	}
}

// resume comes back to the phone's seat from st, on its own instance or,
// when that one is dead, on the other, with backoff until it works.
func (p *phone) resume(ctx context.Context, st client.State) (*client.Client, int) {
	wait := 50 * time.Millisecond
	for {
		at := p.home
		if p.lt.dead[at].Load() {
			at = 1 - at
		}
		rctx, cancel := context.WithTimeout(ctx, callLimit)
		c, err := client.Resume(rctx, p.lt.inst[at].url, st)
		cancel()
		if err == nil {
			if c.Snapshot() != nil {
				p.lt.problem("%s: resumed from offset %d with a snapshot instead of a replay", p.name, st.Offset)
			}
			p.lt.count("resumes")
			return c, at
		}
		if ctx.Err() != nil || !client.ShouldResume(err) || p.lt.stopping.Load() {
			if !p.lt.stopping.Load() {
				p.lt.problem("%s: resume from offset %d failed: %v", p.name, st.Offset, err)
			}
			return nil, 0
		}
		p.lt.count("resume attempts that failed")
		if !sleepCtx(ctx, wait/2+rand.N(wait)) {
			return nil, 0
		}
		wait = min(2*wait, time.Second)
	}
}

// record takes one event: its offset must follow the last one's.
func (p *phone) record(e client.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.Offset != p.last+1 {
		p.lt.problem("%s: event %s at offset %d follows offset %d", p.name, e.Kind, e.Offset, p.last)
	}
	p.last = e.Offset
	p.seen = append(p.seen, seenEvent{offset: e.Offset, kind: e.Kind, seat: e.Seat, round: e.Round})
	r := p.rounds[e.Round]
	switch e.Kind {
	case protocol.KindRoundOpened:
		if r == nil {
			r = &roundSeen{}
			p.rounds[e.Round] = r
		}
		r.opened++
		p.open = e.Round
	case protocol.KindRoundSubmitted, protocol.KindRoundRevealed, protocol.KindRoundClosed:
		if r == nil {
			p.lt.problem("%s: %s for a round it never saw open", p.name, e.Kind)
			break
		}
		switch e.Kind {
		case protocol.KindRoundSubmitted:
			r.submitted[e.Seat-1]++
		case protocol.KindRoundRevealed:
			n := -1 // not a list of tokens
			if ts, err := protocol.DecodeTokens(e.Reveal); err == nil {
				n = len(ts)
			}
			r.reveals = append(r.reveals, revealSeen{rev: e.Rev, ids: e.Suggestions, tokens: n, unknown: e.Unknown})
		case protocol.KindRoundClosed:
			r.closed++
			if e.Reason != protocol.ReasonClosed {
				p.lt.problem("%s: round closed with reason %q", p.name, e.Reason)
			}
			if p.open == e.Round {
				p.open = ""
			}
		}
	case protocol.KindPaused:
		p.paused[e.Seat-1]++
	case protocol.KindUnpaused:
		p.unpaused[e.Seat-1]++
	case protocol.KindPresence:
		p.lt.count("presence events")
	case protocol.KindDelivered:
		// The clients confirm what they applied (client.Client sends seen
		// on its own); a receipt confirms only events logged before it.
		p.lt.count("delivered events")
		if e.Seen == 0 || e.Seen >= e.Offset {
			p.lt.problem("%s: delivered at offset %d confirms offset %d", p.name, e.Offset, e.Seen)
		}
	case protocol.KindPaired:
		if p.seat != 1 || e.Offset != 1 {
			p.lt.problem("%s: paired at offset %d", p.name, e.Offset)
		}
	default:
		p.lt.problem("%s: unexpected event %s", p.name, e.Kind)
	}
	p.changedLocked()
}

// await waits until ok, called with p.mu held, holds.
func (p *phone) await(ctx context.Context, what string, ok func() bool) error {
	limit := time.NewTimer(stepLimit)
	defer limit.Stop()
	for {
		p.mu.Lock()
		done, changed := ok(), p.changed
		p.mu.Unlock()
		if done {
			return nil
		}
		select {
		case <-changed:
		case <-limit.C:
			return fmt.Errorf("%s: no %s within %v", p.name, what, stepLimit)
		case <-ctx.Done():
			return fmt.Errorf("%s: waiting for %s: %w", p.name, what, ctx.Err())
		}
	}
}

// conn returns the phone's live connection, waiting while it resumes.
func (p *phone) conn(ctx context.Context) (*client.Client, error) {
	limit := time.NewTimer(stepLimit)
	defer limit.Stop()
	for {
		p.mu.Lock()
		c, changed := p.c, p.changed
		p.mu.Unlock()
		select {
		case <-c.Done():
		default:
			return c, nil
		}
		select {
		case <-changed:
		case <-limit.C:
			return nil, fmt.Errorf("%s: not connected again within %v", p.name, stepLimit)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// call sends a request until it gets an answer: after a lost connection it
// waits for the phone to resume and sends it again; after unavailable it
// backs off and sends it again. It returns the refusal that ended it, if
// any, and whether an earlier attempt may have taken effect.
func (p *phone) call(ctx context.Context, op string, f func(context.Context, *client.Client) error) (refused *client.Error, unsure bool, err error) {
	wait := 50 * time.Millisecond
	for {
		c, err := p.conn(ctx)
		if err != nil {
			return nil, unsure, fmt.Errorf("%s: %s: %w", p.name, op, err)
		}
		cctx, cancel := context.WithTimeout(ctx, callLimit)
		err = f(cctx, c)
		cancel()
		var e *client.Error
		switch {
		case err == nil:
			return nil, unsure, nil
		case errors.As(err, &e) && e.Code == protocol.CodeUnavailable:
			// Expected while Redis is frozen; otherwise it can only come
			// from a store command timing out on a starved machine, which
			// is a matter of speed: counted and retried, not a failure.
			p.lt.count(op + " unavailable")
		case errors.As(err, &e):
			if unsure {
				p.lt.count(op + " answered " + e.Code + " when repeated")
			}
			return e, unsure, nil
		case ctx.Err() != nil:
			return nil, unsure, fmt.Errorf("%s: %s: %w", p.name, op, err)
		default:
			select {
			case <-c.Done():
				p.lt.count(op + " lost with its connection")
			default:
				// The server answers every request, if only with
				// unavailable once its store has timed out.
				return nil, unsure, fmt.Errorf("%s: %s: no answer on a live connection: %w", p.name, op, err)
			}
		}
		unsure = true
		if !sleepCtx(ctx, wait/2+rand.N(wait)) {
			return nil, unsure, fmt.Errorf("%s: %s: %w", p.name, op, ctx.Err())
		}
		wait = min(2*wait, time.Second)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return ctx.Err() == nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
