package edge_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/coder/websocket"

	"softland/server/edge"
	"softland/server/memstore"
	"softland/server/protocol"
	"softland/server/room"
	"softland/server/servertest"
)

func TestPair(t *testing.T) {
	srv := servertest.Start(t)
	a, b := dial(t, srv), dial(t, srv)
	joinKey := a.create()
	w := b.join(a.room, joinKey)
	if w.Type != protocol.TypeWelcome || w.Seat != 2 || !w.Snapshot.Paired {
		t.Fatalf("join: %s", w.raw)
	}
	if w.Device == "" || w.Device == a.device {
		t.Fatalf("seat 2 needs its own device token")
	}
	p := a.expect(protocol.KindPaired)
	if p.Seat != 2 || p.Offset != 1 {
		t.Fatalf("paired event: %s", p.raw)
	}
	if w.Offset != 1 {
		t.Fatalf("joiner's welcome should be at offset 1, got %d", w.Offset)
	}
}

func TestThirdDeviceRefused(t *testing.T) {
	srv := servertest.Start(t)
	a, b := dial(t, srv), dial(t, srv)
	joinKey := a.create()
	b.join(a.room, joinKey)
	a.expect(protocol.KindPaired)

	// Even with the right link, the join key is dead once both seats are taken.
	c := dial(t, srv)
	if f := c.join(a.room, joinKey); f.Type != protocol.TypeError || f.Code != protocol.CodeRoomFull {
		t.Fatalf("third device: %s", f.raw)
	}
	c.expectClose(websocket.StatusCode(protocol.CloseAuthFailed))
	// The two partners heard nothing of it.
	a.sync()
	b.sync()
}

func TestWrongJoinKeyAndUnknownRoom(t *testing.T) {
	srv := servertest.Start(t)
	a := dial(t, srv)
	a.create()
	_, wrong := key()
	b := dial(t, srv)
	if f := b.join(a.room, wrong); f.Code != protocol.CodeForbidden {
		t.Fatalf("wrong key: %s", f.raw)
	}
	b.expectClose(websocket.StatusCode(protocol.CloseAuthFailed))

	c := dial(t, srv)
	if f := c.join("6f1c2f55-6f5a-4c5e-9a55-3b1f0e6f9d10", wrong); f.Code != protocol.CodeNotFound {
		t.Fatalf("unknown room: %s", f.raw)
	}
	d := dial(t, srv)
	_, device := key()
	d.send(&protocol.Resume{Header: protocol.Header{Type: protocol.TypeResume}, Room: a.room, Device: device})
	d.expectError(protocol.CodeForbidden)
}

func TestRevealOnlyWhenBothSubmittedAndIdentical(t *testing.T) {
	srv := servertest.Start(t)
	a, b := pair(t, srv)
	round := openRound(t, a, b)

	id := submit(a, round, tokens(tok("water"), tok("hold@2"), tok("music")))
	if f := a.expect(protocol.KindRoundSubmitted); f.Seat != 1 {
		t.Fatalf("submitted: %s", f.raw)
	}
	if f := a.expect(protocol.TypeAck); f.ID != id {
		t.Fatalf("ack: %s", f.raw)
	}
	b.expect(protocol.KindRoundSubmitted)
	// No reveal before the second answer.
	a.quiet()
	b.sync()

	submit(b, round, tokens(tok("music"), tok("water"), tok("blanket")))
	b.expect(protocol.KindRoundSubmitted)
	rb := b.expect(protocol.KindRoundRevealed)
	a.expect(protocol.KindRoundSubmitted)
	ra := a.expect(protocol.KindRoundRevealed)
	if !bytes.Equal(ra.raw, rb.raw) {
		t.Fatalf("reveal differs:\nA %s\nB %s", ra.raw, rb.raw)
	}
	// water: 0+1, music: 2+0 -> tie at 1? no: water 1, music 2.
	want := []string{tok("water"), tok("music")}
	if strings.Join(ra.Reveal, ",") != strings.Join(want, ",") {
		t.Fatalf("reveal %v, want %v", ra.Reveal, want)
	}
}

func TestRevealCappedAtK(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{Room: room.Options{RevealSize: 2}})
	a, b := pair(t, srv)
	round := openRound(t, a, b)
	all := []string{tok("a"), tok("b"), tok("c"), tok("d"), tok("e")}
	submit(a, round, tokens(all...))
	a.sync()
	submit(b, round, tokens(all...))
	a.expect(protocol.KindRoundSubmitted)
	r := a.expect(protocol.KindRoundRevealed)
	if len(r.Reveal) != 2 || r.Reveal[0] != tok("a") || r.Reveal[1] != tok("b") {
		t.Fatalf("want the two best, got %v", r.Reveal)
	}
}

func TestResubmitUpdatesLiveAndIsLimited(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{Room: room.Options{MaxSubmits: 3}})
	a, b := pair(t, srv)
	round := openRound(t, a, b)
	submit(a, round, tokens(tok("water"), tok("music")))
	a.sync()
	submit(b, round, tokens(tok("water")))
	b.sync()
	a.sync()

	// B changes its mind: the reveal changes on both phones.
	submit(b, round, tokens(tok("music")))
	rb := b.expect(protocol.KindRoundRevealed)
	ra := a.expect(protocol.KindRoundRevealed)
	if !bytes.Equal(ra.raw, rb.raw) || ra.Rev != 2 || ra.Reveal[0] != tok("music") {
		t.Fatalf("live update: %s", ra.raw)
	}
	b.expect(protocol.TypeAck)
	// A third submission is allowed, a fourth is not.
	submit(b, round, tokens(tok("music"), tok("nothing-mutual")))
	b.expect(protocol.TypeAck)
	submit(b, round, tokens(tok("water")))
	b.expectError(protocol.CodeLimit)
	// A heard nothing of the resubmission that changed nothing mutual.
	if got := a.sync(); len(got) != 0 {
		t.Fatalf("partner saw %d frames", len(got))
	}
}

// TestNonInterference runs the same session several times with a
// deterministic server. Seat A always does the same; seat B keeps the same
// mutual wishes but varies everything unmatched: other tokens, how many,
// their ranks, and resubmissions that change nothing mutual. Every frame A
// receives must be byte-identical across the runs.
func TestNonInterference(t *testing.T) {
	aTokens := []string{tok("water"), tok("hold@2"), tok("music"), tok("blanket")}
	variants := map[string][][]protocol.Token{
		"few unmatched": {
			withRanks(map[string]int{tok("water"): 0, tok("music"): 1}, 0),
		},
		"many unmatched": {
			withRanks(map[string]int{tok("water"): 0, tok("music"): 1, tok("x1"): 2, tok("x2"): 3, tok("x3"): 4}, 0),
		},
		"unmatched ranked first": {
			withRanks(map[string]int{tok("x9"): 0, tok("water"): 0, tok("music"): 1, tok("x8"): 1}, 7),
		},
		"resubmits unmatched only": {
			withRanks(map[string]int{tok("water"): 0, tok("music"): 1}, 0),
			withRanks(map[string]int{tok("water"): 0, tok("music"): 1, tok("y1"): 0}, 3),
			withRanks(map[string]int{tok("water"): 0, tok("music"): 1, tok("y2"): 2}, 5),
		},
	}
	var ref []byte
	var refName string
	for name, subs := range variants {
		got := runForSeatA(t, aTokens, subs)
		if ref == nil {
			ref, refName = got, name
			continue
		}
		if !bytes.Equal(ref, got) {
			t.Fatalf("seat A's frames differ between %q and %q:\n%s\n---\n%s", refName, name, ref, got)
		}
	}
}

// withRanks builds a submission whose real tokens are ordered by the given
// ranks (ties by token) and take ranks 0..n-1; decoys from a seeded generator
// take the remaining ranks in shuffled order, as a phone does.
func withRanks(real map[string]int, seed uint64) []protocol.Token {
	out := make([]protocol.Token, 0, protocol.TokenSetSize)
	for t, r := range real {
		out = append(out, protocol.Token{T: t, R: r})
	}
	sort.Slice(out, func(i, j int) bool {
		if out[i].R != out[j].R {
			return out[i].R < out[j].R
		}
		return out[i].T < out[j].T
	})
	for i := range out {
		out[i].R = i
	}
	rng := rand.New(rand.NewPCG(seed, 99))
	n := len(out)
	ranks := rng.Perm(protocol.TokenSetSize - n)
	for i := 0; len(out) < protocol.TokenSetSize; i++ {
		out = append(out, protocol.Token{T: tok(fmt.Sprintf("decoy %d %d %d", seed, i, rng.Uint64())), R: n + ranks[i]})
	}
	rng.Shuffle(len(out), func(i, j int) { out[i], out[j] = out[j], out[i] })
	return out
}

type seededReader struct{ r *rand.ChaCha8 }

func (s seededReader) Read(p []byte) (int, error) { return s.r.Read(p) }

func runForSeatA(t *testing.T, aTokens []string, bSubs [][]protocol.Token) []byte {
	t.Helper()
	clock := time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)
	var seed [32]byte
	srv := servertest.Start(t, servertest.Options{Room: room.Options{
		Now:  func() time.Time { return clock },
		Rand: seededReader{rand.NewChaCha8(seed)},
	}})
	a, b := dial(t, srv), dial(t, srv)
	var transcript bytes.Buffer
	a.send(&protocol.Create{Header: protocol.Header{Type: protocol.TypeCreate}, JoinKeyHash: hashB64([]byte("fixed join key for this test...."))})
	w := a.expect(protocol.TypeWelcome)
	transcript.Write(w.raw)
	a.room = w.Room
	b.join(a.room, base64url([]byte("fixed join key for this test....")))
	transcript.Write(a.expect(protocol.KindPaired).raw)

	a.send(&protocol.RoundOpen{Header: protocol.Header{Type: protocol.TypeRoundOpen}})
	for _, f := range a.sync() {
		transcript.Write(f.raw)
	}
	round := b.expect(protocol.KindRoundOpened).Round
	submit(a, round, tokens(aTokens...)[:0:0])
	t.Helper()
	return transcriptRest(t, a, b, round, aTokens, bSubs, &transcript)
}

func transcriptRest(t *testing.T, a, b *phone, round string, aTokens []string, bSubs [][]protocol.Token, tr *bytes.Buffer) []byte {
	t.Helper()
	// The empty submission above is refused; it is part of A's transcript.
	for _, f := range a.sync() {
		tr.Write(f.raw)
	}
	ranks := map[string]int{}
	for i, tk := range aTokens {
		ranks[tk] = i
	}
	submit(a, round, withRanks(ranks, 1))
	for _, f := range a.sync() {
		tr.Write(f.raw)
	}
	for _, s := range bSubs {
		submit(b, round, s)
		b.sync()
	}
	for _, f := range a.sync() {
		tr.Write(f.raw)
	}
	a.send(&protocol.RoundClose{Header: protocol.Header{Type: protocol.TypeRoundClose}, Round: round})
	for _, f := range a.sync() {
		tr.Write(f.raw)
	}
	return tr.Bytes()
}

func TestPauseReachesPartnerAndSurvivesReconnect(t *testing.T) {
	srv := servertest.Start(t)
	a, b := pair(t, srv)
	a.send(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
	if f := b.expect(protocol.KindPaused); f.Seat != 1 {
		t.Fatalf("paused: %s", f.raw)
	}
	// B cannot lift A's pause.
	b.send(&protocol.Unpause{Header: protocol.Header{Type: protocol.TypeUnpause}})
	b.expectError(protocol.CodeNotPaused)

	// B's phone drops and comes back with nothing: the snapshot holds the pause.
	b.ws.CloseNow()
	nb, w := resume(t, srv, b, 0)
	if w.Snapshot == nil || !w.Snapshot.Paused[0] || w.Snapshot.Paused[1] {
		t.Fatalf("snapshot after reconnect: %s", w.raw)
	}
	// A lifts it; the reconnected B hears it.
	a.send(&protocol.Unpause{Header: protocol.Header{Type: protocol.TypeUnpause}})
	nb.expect(protocol.KindUnpaused)
}

func TestDebriefReleasedOnlyWhenBothIn(t *testing.T) {
	srv := servertest.Start(t)
	a, b := pair(t, srv)
	round := openRound(t, a, b)
	blobA, blobB := base64url([]byte("sealed-a")), base64url([]byte("sealed-b"))
	a.send(&protocol.Debrief{Header: protocol.Header{Type: protocol.TypeDebrief}, Round: round, Blob: blobA})
	a.expect(protocol.KindDebriefSubmitted)
	if f := b.expect(protocol.KindDebriefSubmitted); f.Blob != "" || len(f.Blobs) != 0 {
		t.Fatalf("partner saw a debrief early: %s", f.raw)
	}
	a.sync()
	b.sync()
	b.send(&protocol.Debrief{Header: protocol.Header{Type: protocol.TypeDebrief}, Round: round, Blob: blobB})
	b.expect(protocol.KindDebriefSubmitted)
	rb := b.expect(protocol.KindDebriefReleased)
	a.expect(protocol.KindDebriefSubmitted)
	ra := a.expect(protocol.KindDebriefReleased)
	if !bytes.Equal(ra.raw, rb.raw) || len(ra.Blobs) != 2 || ra.Blobs[0] != blobA || ra.Blobs[1] != blobB {
		t.Fatalf("release: %s / %s", ra.raw, rb.raw)
	}
	b.expect(protocol.TypeAck)
	a.send(&protocol.Debrief{Header: protocol.Header{Type: protocol.TypeDebrief}, Round: round, Blob: blobA})
	a.expectError(protocol.CodeDebriefClosed)
}

// TestResumeReplaysExactlyTheMissedEvents drops seat B mid-round, lets A act,
// and resumes B from its last offset: B gets exactly the missed events, once,
// then live events continue without a gap or a repeat.
func TestResumeReplaysExactlyTheMissedEvents(t *testing.T) {
	srv := servertest.Start(t)
	a, b := pair(t, srv)
	round := openRound(t, a, b)
	submit(b, round, tokens(tok("water")))
	b.sync()
	last := b.offset
	b.ws.CloseNow()
	<-b.done

	// A sees B reconnecting, then acts while B is gone.
	a.until(protocol.KindPresence)
	submit(a, round, tokens(tok("water")))
	a.send(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
	a.send(&protocol.Announce{Header: protocol.Header{Type: protocol.TypeAnnounce}, Blob: base64url([]byte("space 20"))})
	a.sync()

	nb, w := resume(t, srv, b, last)
	if w.Snapshot != nil {
		t.Fatalf("want a replay, got a snapshot")
	}
	var kinds []string
	next := last + 1
	for _, ev := range w.Replay {
		if ev.Offset != next {
			t.Fatalf("replay offsets not consecutive: got %d want %d", ev.Offset, next)
		}
		next++
		kinds = append(kinds, ev.Kind)
	}
	want := []string{
		protocol.KindPresence, // B reconnecting
		protocol.KindRoundSubmitted,
		protocol.KindRoundRevealed,
		protocol.KindPaused,
		protocol.KindAnnounced,
		protocol.KindPresence, // B online again
	}
	if strings.Join(kinds, " ") != strings.Join(want, " ") {
		t.Fatalf("replayed %v, want %v", kinds, want)
	}
	// Nothing is sent twice after the welcome, and live events follow on.
	if got := nb.sync(); len(got) != 0 {
		t.Fatalf("frames after replay: %s", got[0].raw)
	}
	a.send(&protocol.Unpause{Header: protocol.Header{Type: protocol.TypeUnpause}})
	if f := nb.expect(protocol.KindUnpaused); f.Offset != w.Offset+1 {
		t.Fatalf("live event offset %d after welcome %d", f.Offset, w.Offset)
	}
}

func TestResumeTooOldGetsSnapshot(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{Mem: memstore.Options{LogSize: 4}})
	a, b := pair(t, srv)
	b.sync()
	last := b.offset
	b.ws.CloseNow()
	<-b.done
	for range 3 {
		a.send(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
		a.send(&protocol.Unpause{Header: protocol.Header{Type: protocol.TypeUnpause}})
	}
	a.send(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
	a.sync()
	_, w := resume(t, srv, b, last)
	if w.Snapshot == nil || len(w.Replay) != 0 {
		t.Fatalf("want a snapshot and no replay: %s", w.raw)
	}
	if !w.Snapshot.Paused[0] || !w.Snapshot.Paired {
		t.Fatalf("snapshot is not current: %s", w.raw)
	}
	// A wrong epoch also gets a snapshot, never a partial replay.
	b2 := *b
	b2.epoch = "not-this-epoch"
	_, w = resume(t, srv, &b2, last)
	if w.Snapshot == nil {
		t.Fatalf("wrong epoch must give a snapshot")
	}
}

func TestBadInput(t *testing.T) {
	srv := servertest.Start(t)
	cases := map[string]struct {
		frame string
		code  string
	}{
		"not json":         {`hello`, protocol.CodeBadRequest},
		"json array":       {`[1,2]`, protocol.CodeBadRequest},
		"wrong version":    {`{"v":9,"type":"ping","id":"1"}`, protocol.CodeVersion},
		"unknown type":     {`{"v":1,"type":"wish","id":"1"}`, protocol.CodeUnknownType},
		"unknown field":    {`{"v":1,"type":"ping","id":"1","extra":true}`, protocol.CodeBadRequest},
		"wrong field type": {`{"v":1,"type":"create","id":"1","joinKeyHash":5}`, protocol.CodeBadRequest},
		"short key":        {`{"v":1,"type":"create","id":"1","joinKeyHash":"abc"}`, protocol.CodeBadRequest},
		"bad room id":      {`{"v":1,"type":"join","id":"1","room":"ROOM","joinKey":"` + tok("k") + `"}`, protocol.CodeBadRequest},
		"trailing data":    {`{"v":1,"type":"ping","id":"1"} {}`, protocol.CodeBadRequest},
		"before auth":      {`{"v":1,"type":"pause","id":"1"}`, protocol.CodeNotAuthenticated},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := dial(t, srv)
			p.raw([]byte(tc.frame))
			f := p.expectError(tc.code)
			if f.Message == "" {
				t.Fatal("an error needs a message")
			}
			if strings.Contains(f.Message, tc.frame) && len(tc.frame) > 8 {
				t.Fatal("an error must not echo the frame")
			}
			// The socket stays usable after a refusal.
			p.sync()
		})
	}

	t.Run("binary frame", func(t *testing.T) {
		p := dial(t, srv)
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		p.ws.Write(ctx, websocket.MessageBinary, []byte(`{"v":1,"type":"ping"}`))
		p.expectError(protocol.CodeBadRequest)
	})
	t.Run("wrong token count", func(t *testing.T) {
		a, b := pair(t, srv)
		round := openRound(t, a, b)
		submit(a, round, tokens(tok("x"))[:10])
		a.expectError(protocol.CodeBadRequest)
		ts := tokens(tok("x"))
		ts[5] = ts[4]
		submit(a, round, ts)
		a.expectError(protocol.CodeBadRequest)
		ts = tokens(tok("x"))
		ts[3].R = protocol.TokenSetSize
		submit(a, round, ts)
		a.expectError(protocol.CodeBadRequest)
		ts = tokens(tok("x"))
		ts[3].R = ts[4].R
		submit(a, round, ts)
		a.expectError(protocol.CodeBadRequest)
		submit(a, "6f1c2f55-6f5a-4c5e-9a55-3b1f0e6f9d10", tokens(tok("x")))
		a.expectError(protocol.CodeStaleRound)
	})
	t.Run("oversized", func(t *testing.T) {
		p := dial(t, srv)
		p.raw([]byte(`{"v":1,"type":"ping","id":"` + strings.Repeat("x", protocol.MaxFrameBytes) + `"}`))
		p.expectClose(websocket.StatusMessageTooBig)
	})
	t.Run("second create on one socket", func(t *testing.T) {
		p := dial(t, srv)
		p.create()
		p.send(&protocol.Create{Header: protocol.Header{Type: protocol.TypeCreate}, JoinKeyHash: tok("k")})
		p.expectError(protocol.CodeAlreadyInRoom)
	})
}

func TestInviteExpires(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 11, 24, 22, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := servertest.Start(t, servertest.Options{Room: room.Options{Now: clock, InviteTTL: time.Hour}})
	a := dial(t, srv)
	joinKey := a.create()
	mu.Lock()
	now = now.Add(time.Hour + time.Second)
	mu.Unlock()
	b := dial(t, srv)
	if f := b.join(a.room, joinKey); f.Code != protocol.CodeInviteExpired {
		t.Fatalf("late join: %s", f.raw)
	}
	b.expectClose(websocket.StatusCode(protocol.CloseAuthFailed))
}

func TestRoundExpires(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := servertest.Start(t, servertest.Options{Room: room.Options{Now: clock, RoundWindow: time.Minute}})
	a, b := pair(t, srv)
	round := openRound(t, a, b)
	submit(a, round, tokens(tok("water")))
	a.sync()
	b.sync()
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	// The next action catches up: the round closes as expired first.
	submit(b, round, tokens(tok("water")))
	f := b.expect(protocol.KindRoundClosed)
	if f.Reason != protocol.ReasonExpired {
		t.Fatalf("closed: %s", f.raw)
	}
	b.expectError(protocol.CodeNoRound)
	a.expect(protocol.KindRoundClosed)
	st, err := srv.Store.Load(context.Background(), a.room)
	if err != nil || st.Round != nil {
		t.Fatalf("the round's tokens must be gone: %+v %v", st.Round, err)
	}
}

func TestErase(t *testing.T) {
	srv := servertest.Start(t)
	a, b := pair(t, srv)
	openRound(t, a, b)
	a.send(&protocol.Erase{Header: protocol.Header{Type: protocol.TypeErase}})
	b.expect(protocol.KindErased)
	b.expectClose(websocket.StatusCode(protocol.CloseErased))
	a.expect(protocol.KindErased)
	a.expectClose(websocket.StatusCode(protocol.CloseErased))
	if _, err := srv.Store.Load(context.Background(), a.room); err != room.ErrNotFound {
		t.Fatalf("room still there: %v", err)
	}
	c := dial(t, srv)
	c.send(&protocol.Resume{Header: protocol.Header{Type: protocol.TypeResume}, Room: a.room, Device: a.device})
	c.expectError(protocol.CodeNotFound)
}

func TestPresence(t *testing.T) {
	srv := servertest.Start(t)
	a, b := pair(t, srv)
	// A dropped socket is "reconnecting"; a goodbye is "away".
	b.ws.CloseNow()
	if f := a.expect(protocol.KindPresence); f.Seat != 2 || f.Presence != protocol.PresenceReconnecting {
		t.Fatalf("drop: %s", f.raw)
	}
	nb, _ := resume(t, srv, b, 0)
	if f := a.expect(protocol.KindPresence); f.Presence != protocol.PresenceOnline {
		t.Fatalf("back: %s", f.raw)
	}
	nb.send(&protocol.Bye{Header: protocol.Header{Type: protocol.TypeBye}})
	nb.expect(protocol.TypeAck)
	nb.ws.Close(websocket.StatusNormalClosure, "")
	if f := a.expect(protocol.KindPresence); f.Presence != protocol.PresenceAway {
		t.Fatalf("bye: %s", f.raw)
	}
}

func TestSecondSocketForSeatReplacesFirst(t *testing.T) {
	srv := servertest.Start(t)
	a, b := pair(t, srv)
	na, _ := resume(t, srv, a, a.offset)
	a.expectClose(websocket.StatusCode(protocol.CloseReplaced))
	// The partner sees no flicker: A stayed online throughout.
	if got := b.sync(); len(got) != 0 {
		t.Fatalf("partner saw %s", got[0].raw)
	}
	na.send(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
	b.expect(protocol.KindPaused)
}

func TestForeignOriginRefused(t *testing.T) {
	srv := servertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, srv.WSURL(), &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://elsewhere.example"}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %v %v", err, resp)
	}
	// The server's own origin is fine.
	p := dialHeader(t, srv, http.Header{"Origin": {srv.URL}})
	p.sync()
}

func TestUnauthenticatedSocketClosed(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{Edge: edge.Config{AuthTimeout: 200 * time.Millisecond}})
	p := dial(t, srv)
	p.expectClose(websocket.StatusCode(protocol.CloseAuthTimeout))
}

func TestFloodLimited(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{Edge: edge.Config{Rate: 1, Burst: 2}})
	p := dial(t, srv)
	for range 3 {
		p.raw([]byte(`{"v":1,"type":"ping"}`))
	}
	p.expect(protocol.TypePong)
	p.expect(protocol.TypePong)
	p.expectError(protocol.CodeRateLimited)
	// Keep flooding; the server closes the socket (writes may start failing
	// once it has).
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	for range 40 {
		if p.ws.Write(ctx, websocket.MessageText, []byte(`{"v":1,"type":"ping"}`)) != nil {
			break
		}
	}
	p.expectClose(websocket.StatusPolicyViolation)
}

// TestDeadPeerReaped: the server pings every socket and keeps pinging while
// the phone answers; a phone that stops answering is closed with 1008 and
// its partner sees it reconnecting. The phone here answers three pings and
// then goes silent, as one does when its network vanishes without a FIN.
func TestDeadPeerReaped(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{Edge: edge.Config{PingInterval: 50 * time.Millisecond, PingTimeout: 200 * time.Millisecond}})
	a := dial(t, srv)
	joinKey := a.create()
	var pings atomic.Int32
	b := dialOptions(t, srv, &websocket.DialOptions{
		OnPingReceived: func(context.Context, []byte) bool { return pings.Add(1) <= 3 },
	})
	b.join(a.room, joinKey)
	a.expect(protocol.KindPaired)
	b.expectClose(websocket.StatusPolicyViolation)
	if n := pings.Load(); n < 4 {
		t.Fatalf("closed after %d pings; want three answered and a fourth unanswered", n)
	}
	for {
		f := a.nextFrame()
		if f.Kind == protocol.KindPresence && f.Seat == 2 {
			if f.Presence != protocol.PresenceReconnecting {
				t.Fatalf("dead seat: %s", f.raw)
			}
			return
		}
	}
}

func TestShutdownClosesWithServiceRestart(t *testing.T) {
	srv := servertest.Start(t)
	a, _ := pair(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	if err := srv.Edge.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	a.expectClose(websocket.StatusServiceRestart)
}

// TestNoGoroutineLeak connects and disconnects 1,000 times, half of them
// through a whole create and resume, and checks that the goroutine count
// comes back to where it was.
func TestNoGoroutineLeak(t *testing.T) {
	srv := servertest.Start(t)
	a, b := pair(t, srv)
	a.sync()
	b.sync()
	base := runtime.NumGoroutine()
	ctx := context.Background()
	for i := range 1000 {
		ws, _, err := websocket.Dial(ctx, srv.WSURL(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			m, _ := protocol.Marshal(&protocol.Resume{Header: protocol.Header{Type: protocol.TypeResume}, Room: a.room, Device: a.device})
			ws.Write(ctx, websocket.MessageText, m)
			ws.Read(ctx)
		}
		if i%3 == 0 {
			ws.CloseNow()
		} else {
			ws.Close(websocket.StatusNormalClosure, "")
		}
	}
	deadline := time.Now().Add(waitFor)
	for {
		n := runtime.NumGoroutine()
		if n <= base+2 && srv.Edge.Conns() <= 2 {
			return
		}
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines %d, were %d; conns %d\n%s", n, base, srv.Edge.Conns(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestIdleSocketHoldsOnlyItsReader: between frames a socket keeps one
// goroutine, its reader; the writer and the pinger exist only while they
// have work. Tens of thousands of idle sockets would otherwise each hold
// their stacks.
func TestIdleSocketHoldsOnlyItsReader(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{Edge: edge.Config{PingInterval: 20 * time.Millisecond}})
	a, b := pair(t, srv)
	round := openRound(t, a, b)
	submit(a, round, tokens(tok("water")))
	submit(b, round, tokens(tok("water")))
	a.until(protocol.KindRoundRevealed)
	b.until(protocol.KindRoundRevealed)
	busy := func() (readers, others int) {
		buf := make([]byte, 1<<20)
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			switch {
			case strings.Contains(g, "edge.(*conn).write"), strings.Contains(g, "edge.(*conn).ping"):
				others++
			case strings.Contains(g, "edge.(*conn).read"):
				readers++
			}
		}
		return readers, others
	}
	deadline := time.Now().Add(waitFor)
	for {
		readers, others := busy()
		if readers == 2 && others == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("idle: %d readers, %d writer or pinger goroutines; want 2 and 0", readers, others)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestPerAddressCaps(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{Edge: edge.Config{SocketsPerIP: 3, AdmitsPerIP: 2, AdmitsPer: time.Hour}})
	t.Run("pairing attempts", func(t *testing.T) {
		p := dial(t, srv)
		p.create()
		q := dial(t, srv)
		q.create()
		r := dial(t, srv)
		r.send(&protocol.Create{Header: protocol.Header{Type: protocol.TypeCreate}, JoinKeyHash: tok("k")})
		r.expectError(protocol.CodeRateLimited)
		// Resuming is never limited: a phone on a flaky network gets back.
		r.send(&protocol.Resume{Header: protocol.Header{Type: protocol.TypeResume}, Room: p.room, Device: p.device, Epoch: p.epoch})
		r.expect(protocol.TypeWelcome)
	})
	t.Run("sockets", func(t *testing.T) {
		srv := servertest.Start(t, servertest.Options{Edge: edge.Config{SocketsPerIP: 3}})
		for range 3 {
			dial(t, srv).sync()
		}
		ctx, cancel := context.WithTimeout(context.Background(), waitFor)
		defer cancel()
		_, resp, err := websocket.Dial(ctx, srv.WSURL(), nil)
		if err == nil || resp == nil || resp.StatusCode != http.StatusTooManyRequests {
			t.Fatalf("fourth socket: %v %v", err, resp)
		}
	})
}

// TestLongGapGetsSnapshotNotHugeReplay: a replay that would not fit in the
// largest frame a client reads is sent as a snapshot instead.
func TestLongGapGetsSnapshotNotHugeReplay(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{Edge: edge.Config{Rate: 10000, Burst: 10000}})
	a, b := pair(t, srv)
	b.sync()
	last := b.offset
	b.ws.CloseNow()
	<-b.done
	blob := base64url(bytes.Repeat([]byte{7}, protocol.MaxBlobLen*3/4))
	for i := range protocol.MaxServerFrameBytes / protocol.MaxBlobLen {
		a.send(&protocol.Announce{Header: protocol.Header{Type: protocol.TypeAnnounce}, Blob: blob})
		if i%16 == 15 {
			// Now and then wait for the answers: sent all at once, the
			// events for A itself would overflow its own queue (1008).
			a.sync()
		}
	}
	a.sync()
	nb, w := resume(t, srv, b, last)
	if w.Snapshot == nil || len(w.Replay) != 0 {
		t.Fatalf("want a snapshot, got %d replayed events", len(w.Replay))
	}
	if len(w.raw) > protocol.MaxServerFrameBytes {
		t.Fatalf("welcome of %d bytes", len(w.raw))
	}
	if w.Snapshot.Announce[0] == nil || w.Snapshot.Announce[0].Blob != blob {
		t.Fatal("snapshot lacks the latest announcement")
	}
	nb.sync()
}

// TestRepeatedJoinWithNonce: a phone whose join welcome was lost repeats the
// join with the same nonce and gets its seat back; nobody else can, and the
// phone itself cannot once it has acted.
func TestRepeatedJoinWithNonce(t *testing.T) {
	srv := servertest.Start(t)
	a := dial(t, srv)
	joinKey := a.create()
	_, nonce := key()
	join := func(nonce string) frame {
		p := dial(t, srv)
		p.send(&protocol.Join{Header: protocol.Header{Type: protocol.TypeJoin}, Room: a.room, JoinKey: joinKey, Nonce: nonce})
		f := p.nextFrame()
		if f.Type == protocol.TypeWelcome {
			p.room, p.device, p.seat, p.epoch, p.offset = f.Room, f.Device, 2, f.Epoch, f.Offset
		}
		f.Device = p.device
		t.Cleanup(func() { p.ws.CloseNow() })
		return f
	}
	lost := join(nonce) // the welcome that "never arrived"
	if lost.Type != protocol.TypeWelcome {
		t.Fatalf("first join: %s", lost.raw)
	}
	a.expect(protocol.KindPaired)

	again := join(nonce)
	if again.Type != protocol.TypeWelcome || again.Seat != 2 || again.Device == lost.Device {
		t.Fatalf("repeated join: %s", again.raw)
	}
	_, other := key()
	if f := join(other); f.Code != protocol.CodeRoomFull {
		t.Fatalf("another nonce: %s", f.raw)
	}
	if f := join(""); f.Code != protocol.CodeRoomFull {
		t.Fatalf("no nonce: %s", f.raw)
	}
	// The lost token no longer works.
	d := dial(t, srv)
	d.send(&protocol.Resume{Header: protocol.Header{Type: protocol.TypeResume}, Room: a.room, Device: lost.Device})
	d.expectError(protocol.CodeForbidden)

	// Once seat 2 has acted with its token, the nonce is spent.
	b, _ := resume(t, srv, &phone{room: a.room, device: again.Device, seat: 2, epoch: again.Epoch}, 0)
	b.send(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
	b.until(protocol.TypeAck)
	if f := join(nonce); f.Code != protocol.CodeRoomFull {
		t.Fatalf("nonce after use: %s", f.raw)
	}
}

// TestSlowConsumerDropped: a phone that stops reading is disconnected when
// its queue fills, and its partner is not held back: the partner's own
// frames keep flowing and it sees the slow seat reconnecting.
func TestSlowConsumerDropped(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{Edge: edge.Config{SendQueue: 4, Rate: 1e6, Burst: 1e6}})
	a := dial(t, srv)
	joinKey := a.create()
	// B joins on a raw socket and then never reads again. Its receive buffer
	// is kept small: loopback buffers may grow to tens of MB, which would
	// take the server thousands of frames to fill before its queue for B
	// ever does.
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	dialer := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		return errors.Join(err, serr)
	}}
	small := &http.Client{Transport: &http.Transport{DialContext: dialer.DialContext}}
	ws, _, err := websocket.Dial(ctx, srv.WSURL(), &websocket.DialOptions{HTTPClient: small})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	join, _ := protocol.Marshal(&protocol.Join{Header: protocol.Header{Type: protocol.TypeJoin}, Room: a.room, JoinKey: joinKey})
	ws.Write(ctx, websocket.MessageText, join)
	a.expect(protocol.KindPaired)

	blob := base64url(bytes.Repeat([]byte{1}, protocol.MaxBlobLen*3/4))
	deadline := time.Now().Add(waitFor)
	for {
		a.send(&protocol.Announce{Header: protocol.Header{Type: protocol.TypeAnnounce}, Blob: blob})
		// A keeps getting its own frames; it reads until B is reported gone.
		for _, f := range a.sync() {
			if f.Kind == protocol.KindPresence && f.Seat == 2 {
				if f.Presence != protocol.PresenceReconnecting {
					t.Fatalf("slow seat: %s", f.raw)
				}
				return
			}
		}
		if time.Now().After(deadline) {
			t.Fatal("the slow phone was never dropped")
		}
	}
}

// TestDuplicateMessagesAreIdempotent: a phone that repeats a request (it
// could not tell whether the first arrived) changes nothing the second time,
// and a message for an old round is refused without effect.
func TestDuplicateMessagesAreIdempotent(t *testing.T) {
	srv := servertest.Start(t)
	a, b := pair(t, srv)
	round := openRound(t, a, b)
	ts := tokens(tok("water"))
	submit(a, round, ts)
	a.sync()
	submit(b, round, tokens(tok("water")))
	b.sync()
	a.sync()
	// The same submission again, the same pause twice: no new event for A.
	submit(a, round, ts)
	a.send(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
	a.send(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
	a.sync()
	got := b.sync()
	if len(got) != 1 || got[0].Kind != protocol.KindPaused {
		t.Fatalf("partner saw %d frames, want one pause", len(got))
	}
	// A close for the round, twice; then a submission for it, late.
	a.send(&protocol.RoundClose{Header: protocol.Header{Type: protocol.TypeRoundClose}, Round: round})
	a.send(&protocol.RoundClose{Header: protocol.Header{Type: protocol.TypeRoundClose}, Round: round})
	submit(a, round, ts)
	var codes []string
	for _, f := range a.sync() {
		if f.Type == protocol.TypeError {
			codes = append(codes, f.Code)
		}
	}
	if strings.Join(codes, " ") != "no_round no_round" {
		t.Fatalf("refusals %v", codes)
	}
	if got := b.sync(); len(got) != 1 || got[0].Kind != protocol.KindRoundClosed {
		t.Fatalf("partner saw %d frames, want one round.closed", len(got))
	}
}
