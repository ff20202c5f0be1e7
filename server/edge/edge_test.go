package edge_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
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
	"softland/server/servertest/phonetest"
)

// tok and tokens build the submissions of nearly every round below; short
// names keep those lines readable.
var (
	tok    = phonetest.Tok
	tokens = phonetest.Tokens
)

func base64url(b []byte) string { return base64.RawURLEncoding.EncodeToString(b) }

func TestPair(t *testing.T) {
	srv := servertest.Start(t)
	a, b := phonetest.Dial(t, srv), phonetest.Dial(t, srv)
	joinKey := a.Create()
	w := b.Join(a.Room, joinKey)
	if w.Type != protocol.TypeWelcome || w.Seat != 2 || !w.Snapshot.Paired {
		t.Fatalf("join: %s", w.Raw)
	}
	if w.Device == "" || w.Device == a.Device {
		t.Fatalf("seat 2 needs its own device token")
	}
	p := a.Expect(protocol.KindPaired)
	if p.Seat != 2 || p.Offset != 1 {
		t.Fatalf("paired event: %s", p.Raw)
	}
	if w.Offset != 1 {
		t.Fatalf("joiner's welcome should be at offset 1, got %d", w.Offset)
	}
}

func TestThirdDeviceRefused(t *testing.T) {
	srv := servertest.Start(t)
	a, b := phonetest.Dial(t, srv), phonetest.Dial(t, srv)
	joinKey := a.Create()
	b.Join(a.Room, joinKey)
	a.Expect(protocol.KindPaired)

	// Even with the right link, the join key is dead once both seats are taken.
	c := phonetest.Dial(t, srv)
	if f := c.Join(a.Room, joinKey); f.Type != protocol.TypeError || f.Code != protocol.CodeRoomFull {
		t.Fatalf("third device: %s", f.Raw)
	}
	c.ExpectClose(websocket.StatusCode(protocol.CloseAuthFailed))
	// The two partners heard nothing of it.
	a.Sync()
	b.Sync()
}

func TestWrongJoinKeyAndUnknownRoom(t *testing.T) {
	srv := servertest.Start(t)
	a := phonetest.Dial(t, srv)
	a.Create()
	_, wrong := phonetest.NewKey()
	b := phonetest.Dial(t, srv)
	if f := b.Join(a.Room, wrong); f.Code != protocol.CodeForbidden {
		t.Fatalf("wrong key: %s", f.Raw)
	}
	b.ExpectClose(websocket.StatusCode(protocol.CloseAuthFailed))

	c := phonetest.Dial(t, srv)
	if f := c.Join("6f1c2f55-6f5a-4c5e-9a55-3b1f0e6f9d10", wrong); f.Code != protocol.CodeNotFound {
		t.Fatalf("unknown room: %s", f.Raw)
	}
	d := phonetest.Dial(t, srv)
	_, device := phonetest.NewKey()
	d.Send(&protocol.Resume{Header: protocol.Header{Type: protocol.TypeResume}, Room: a.Room, Device: device})
	d.ExpectError(protocol.CodeForbidden)
}

func TestRevealOnlyWhenBothSubmittedAndIdentical(t *testing.T) {
	srv := servertest.Start(t)
	a, b := phonetest.Pair(t, srv)
	round := phonetest.OpenRound(t, a, b)

	id := a.Submit(round, tokens(tok("water"), tok("hold@2"), tok("music")))
	if f := a.Expect(protocol.KindRoundSubmitted); f.Seat != 1 {
		t.Fatalf("submitted: %s", f.Raw)
	}
	if f := a.Expect(protocol.TypeAck); f.ID != id {
		t.Fatalf("ack: %s", f.Raw)
	}
	b.Expect(protocol.KindRoundSubmitted)
	// No reveal before the second answer.
	a.Quiet()
	b.Sync()

	b.Submit(round, tokens(tok("music"), tok("water"), tok("blanket")))
	b.Expect(protocol.KindRoundSubmitted)
	rb := b.Expect(protocol.KindRoundRevealed)
	a.Expect(protocol.KindRoundSubmitted)
	ra := a.Expect(protocol.KindRoundRevealed)
	if !bytes.Equal(ra.Raw, rb.Raw) {
		t.Fatalf("reveal differs:\nA %s\nB %s", ra.Raw, rb.Raw)
	}
	// water: 0+1, music: 2+0 -> tie at 1? no: water 1, music 2.
	want := []string{tok("water"), tok("music")}
	if strings.Join(phonetest.Revealed(ra.Reveal), ",") != strings.Join(want, ",") {
		t.Fatalf("reveal %v, want %v", ra.Reveal, want)
	}
}

func TestRevealCappedAtK(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{Room: room.Options{RevealSize: 2}})
	a, b := phonetest.Pair(t, srv)
	round := phonetest.OpenRound(t, a, b)
	all := []string{tok("a"), tok("b"), tok("c"), tok("d"), tok("e")}
	a.Submit(round, tokens(all...))
	a.Sync()
	b.Submit(round, tokens(all...))
	a.Expect(protocol.KindRoundSubmitted)
	r := a.Expect(protocol.KindRoundRevealed)
	if got := phonetest.Revealed(r.Reveal); len(got) != 2 || got[0] != tok("a") || got[1] != tok("b") {
		t.Fatalf("want the two best, got %v", r.Reveal)
	}
}

func TestResubmitUpdatesLiveAndIsLimited(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{Room: room.Options{MaxSubmits: 3}})
	a, b := phonetest.Pair(t, srv)
	round := phonetest.OpenRound(t, a, b)
	a.Submit(round, tokens(tok("water"), tok("music")))
	a.Sync()
	b.Submit(round, tokens(tok("water")))
	b.Sync()
	a.Sync()

	// B changes its mind: the reveal changes on both phones.
	b.Submit(round, tokens(tok("music")))
	rb := b.Expect(protocol.KindRoundRevealed)
	ra := a.Expect(protocol.KindRoundRevealed)
	if !bytes.Equal(ra.Raw, rb.Raw) || ra.Rev != 2 || phonetest.Revealed(ra.Reveal)[0] != tok("music") {
		t.Fatalf("live update: %s", ra.Raw)
	}
	b.Expect(protocol.TypeAck)
	// A third submission is allowed, a fourth is not.
	b.Submit(round, tokens(tok("music"), tok("nothing-mutual")))
	b.Expect(protocol.TypeAck)
	b.Submit(round, tokens(tok("water")))
	b.ExpectError(protocol.CodeLimit)
	// A heard nothing of the resubmission that changed nothing mutual.
	if got := a.Sync(); len(got) != 0 {
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
	variants := map[string][]string{
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
// ranks (ties by token) and take positions 0..n-1; decoys from a seeded
// generator take the remaining positions, as a phone does.
func withRanks(real map[string]int, seed uint64) string {
	names := make([]string, 0, len(real))
	for t := range real {
		names = append(names, t)
	}
	sort.Slice(names, func(i, j int) bool {
		if real[names[i]] != real[names[j]] {
			return real[names[i]] < real[names[j]]
		}
		return names[i] < names[j]
	})
	rng := rand.New(rand.NewPCG(seed, 99))
	for i := 0; len(names) < protocol.TokenSetSize; i++ {
		names = append(names, tok(fmt.Sprintf("decoy %d %d %d", seed, i, rng.Uint64())))
	}
	return tokens(names...)
}

type seededReader struct{ r *rand.ChaCha8 }

func (s seededReader) Read(p []byte) (int, error) { return s.r.Read(p) }

func runForSeatA(t *testing.T, aTokens []string, bSubs []string) []byte {
	t.Helper()
	clock := time.Date(2026, 11, 24, 23, 0, 0, 0, time.UTC)
	var seed [32]byte
	srv := servertest.Start(t, servertest.Options{Room: room.Options{
		Now:  func() time.Time { return clock },
		Rand: seededReader{rand.NewChaCha8(seed)},
	}})
	a, b := phonetest.Dial(t, srv), phonetest.Dial(t, srv)
	var transcript bytes.Buffer
	a.Send(&protocol.Create{Header: protocol.Header{Type: protocol.TypeCreate}, JoinKeyHash: phonetest.KeyHash([]byte("fixed join key for this test...."))})
	w := a.Expect(protocol.TypeWelcome)
	transcript.Write(w.Raw)
	a.Room = w.Room
	b.Join(a.Room, base64url([]byte("fixed join key for this test....")))
	transcript.Write(a.Expect(protocol.KindPaired).Raw)

	a.Send(&protocol.RoundOpen{Header: protocol.Header{Type: protocol.TypeRoundOpen}})
	for _, f := range a.Sync() {
		transcript.Write(f.Raw)
	}
	round := b.Expect(protocol.KindRoundOpened).Round
	a.Submit(round, "")
	t.Helper()
	return transcriptRest(t, a, b, round, aTokens, bSubs, &transcript)
}

func transcriptRest(t *testing.T, a, b *phonetest.Phone, round string, aTokens []string, bSubs []string, tr *bytes.Buffer) []byte {
	t.Helper()
	// The empty submission above is refused; it is part of A's transcript.
	for _, f := range a.Sync() {
		tr.Write(f.Raw)
	}
	ranks := map[string]int{}
	for i, tk := range aTokens {
		ranks[tk] = i
	}
	a.Submit(round, withRanks(ranks, 1))
	for _, f := range a.Sync() {
		tr.Write(f.Raw)
	}
	for _, s := range bSubs {
		b.Submit(round, s)
		b.Sync()
	}
	for _, f := range a.Sync() {
		tr.Write(f.Raw)
	}
	a.Send(&protocol.RoundClose{Header: protocol.Header{Type: protocol.TypeRoundClose}, Round: round})
	for _, f := range a.Sync() {
		tr.Write(f.Raw)
	}
	return tr.Bytes()
}

func TestPauseReachesPartnerAndSurvivesReconnect(t *testing.T) {
	srv := servertest.Start(t)
	a, b := phonetest.Pair(t, srv)
	a.Send(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
	if f := b.Expect(protocol.KindPaused); f.Seat != 1 {
		t.Fatalf("paused: %s", f.Raw)
	}
	// B cannot lift A's pause.
	b.Send(&protocol.Unpause{Header: protocol.Header{Type: protocol.TypeUnpause}})
	b.ExpectError(protocol.CodeNotPaused)

	// B's phone drops and comes back with nothing: the snapshot holds the pause.
	b.Drop()
	nb, w := phonetest.Reconnect(t, srv, b.Credentials, 0)
	if w.Snapshot == nil || !w.Snapshot.Paused[0] || w.Snapshot.Paused[1] {
		t.Fatalf("snapshot after reconnect: %s", w.Raw)
	}
	// A lifts it; the reconnected B hears it.
	a.Send(&protocol.Unpause{Header: protocol.Header{Type: protocol.TypeUnpause}})
	nb.Expect(protocol.KindUnpaused)
}

// TestDeliveryReceipt: the partner's receipt of a pause reaches the pausing
// phone as a delivered event; a receipt of only receipts, or a repeated
// one, is acknowledged and logs nothing; the snapshot keeps what each seat
// confirmed.
func TestDeliveryReceipt(t *testing.T) {
	srv := servertest.Start(t)
	a, b := phonetest.Pair(t, srv)
	a.Send(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
	paused := b.Expect(protocol.KindPaused)
	a.Until(protocol.TypeAck)
	seen := func(p *phonetest.Phone, offset uint64) string {
		return p.Send(&protocol.Seen{Header: protocol.Header{Type: protocol.TypeSeen}, Offset: offset})
	}

	id := seen(b, paused.Offset)
	d := b.Expect(protocol.KindDelivered)
	if d.Seat != 2 || d.Seen != paused.Offset || d.Offset != paused.Offset+1 {
		t.Fatalf("delivered: %s", d.Raw)
	}
	if ack := b.Expect(protocol.TypeAck); ack.ID != id || ack.Offset != d.Offset {
		t.Fatalf("ack: %s", ack.Raw)
	}
	if got := a.Until(protocol.KindDelivered); !bytes.Equal(got.Raw, d.Raw) {
		t.Fatalf("seat 1 got %s, seat 2 %s", got.Raw, d.Raw)
	}

	// Seat 2 again, and seat 2 over the receipt alone: acks, nothing logged.
	for _, off := range []uint64{paused.Offset, d.Offset, d.Offset + 50} {
		id := seen(b, off)
		if ack := b.Expect(protocol.TypeAck); ack.ID != id || ack.Offset != d.Offset {
			t.Fatalf("ack of seen %d: %s", off, ack.Raw)
		}
	}
	// Seat 1 over its own pause and the receipt: nothing worth a receipt
	// since the pairing, which it confirms with them.
	a.OK(&protocol.Seen{Header: protocol.Header{Type: protocol.TypeSeen}, Offset: d.Offset})
	a.Sync()
	b.Sync()
	if a.Count(protocol.KindDelivered) != 2 || b.Count(protocol.KindDelivered) != 2 {
		t.Fatalf("delivered events: seat 1 read %d, seat 2 %d; want 2 each (the pause's and the pairing's)",
			a.Count(protocol.KindDelivered), b.Count(protocol.KindDelivered))
	}

	// A phone coming back with nothing learns from the snapshot what each
	// seat confirmed.
	a.Drop()
	_, w := phonetest.Reconnect(t, srv, a.Credentials, 0)
	if w.Snapshot == nil || w.Snapshot.Seen != [2]uint64{d.Offset, d.Offset} {
		t.Fatalf("snapshot: %s", w.Raw)
	}
}

func TestDebriefReleasedOnlyWhenBothIn(t *testing.T) {
	srv := servertest.Start(t)
	a, b := phonetest.Pair(t, srv)
	round := phonetest.OpenRound(t, a, b)
	blobA, blobB := base64url([]byte("sealed-a")), base64url([]byte("sealed-b"))
	a.Send(&protocol.Debrief{Header: protocol.Header{Type: protocol.TypeDebrief}, Round: round, Blob: blobA})
	a.Expect(protocol.KindDebriefSubmitted)
	if f := b.Expect(protocol.KindDebriefSubmitted); f.Blob != "" || len(f.Blobs) != 0 {
		t.Fatalf("partner saw a debrief early: %s", f.Raw)
	}
	a.Sync()
	b.Sync()
	b.Send(&protocol.Debrief{Header: protocol.Header{Type: protocol.TypeDebrief}, Round: round, Blob: blobB})
	b.Expect(protocol.KindDebriefSubmitted)
	rb := b.Expect(protocol.KindDebriefReleased)
	a.Expect(protocol.KindDebriefSubmitted)
	ra := a.Expect(protocol.KindDebriefReleased)
	if !bytes.Equal(ra.Raw, rb.Raw) || len(ra.Blobs) != 2 || ra.Blobs[0] != blobA || ra.Blobs[1] != blobB {
		t.Fatalf("release: %s / %s", ra.Raw, rb.Raw)
	}
	b.Expect(protocol.TypeAck)
	a.Send(&protocol.Debrief{Header: protocol.Header{Type: protocol.TypeDebrief}, Round: round, Blob: blobA})
	a.ExpectError(protocol.CodeDebriefClosed)
}

// TestResumeReplaysExactlyTheMissedEvents drops seat B mid-round, lets A act,
// and resumes B from its last offset: B gets exactly the missed events, once,
// then live events continue without a gap or a repeat.
func TestResumeReplaysExactlyTheMissedEvents(t *testing.T) {
	srv := servertest.Start(t)
	a, b := phonetest.Pair(t, srv)
	round := phonetest.OpenRound(t, a, b)
	b.Submit(round, tokens(tok("water")))
	b.Sync()
	last := b.Offset
	b.Drop()

	// A sees B reconnecting, then acts while B is gone.
	a.Until(protocol.KindPresence)
	a.Submit(round, tokens(tok("water")))
	a.Send(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
	a.Send(&protocol.Announce{Header: protocol.Header{Type: protocol.TypeAnnounce}, Blob: base64url([]byte("space 20"))})
	a.Sync()

	nb, w := phonetest.Reconnect(t, srv, b.Credentials, last)
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
	if got := nb.Sync(); len(got) != 0 {
		t.Fatalf("frames after replay: %s", got[0].Raw)
	}
	a.Send(&protocol.Unpause{Header: protocol.Header{Type: protocol.TypeUnpause}})
	if f := nb.Expect(protocol.KindUnpaused); f.Offset != w.Offset+1 {
		t.Fatalf("live event offset %d after welcome %d", f.Offset, w.Offset)
	}
}

func TestResumeTooOldGetsSnapshot(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{Mem: memstore.Options{LogSize: 4}})
	a, b := phonetest.Pair(t, srv)
	b.Sync()
	last := b.Offset
	b.Drop()
	for range 3 {
		a.Send(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
		a.Send(&protocol.Unpause{Header: protocol.Header{Type: protocol.TypeUnpause}})
	}
	a.Send(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
	a.Sync()
	_, w := phonetest.Reconnect(t, srv, b.Credentials, last)
	if w.Snapshot == nil || len(w.Replay) != 0 {
		t.Fatalf("want a snapshot and no replay: %s", w.Raw)
	}
	if !w.Snapshot.Paused[0] || !w.Snapshot.Paired {
		t.Fatalf("snapshot is not current: %s", w.Raw)
	}
	// A wrong epoch also gets a snapshot, never a partial replay.
	wrong := b.Credentials
	wrong.Epoch = "not-this-epoch"
	_, w = phonetest.Reconnect(t, srv, wrong, last)
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
		"version 1 submit": {`{"v":1,"type":"round.submit","id":"1","round":"` + "6f1c2f55-6f5a-4c5e-9a55-3b1f0e6f9d10" + `","tokens":[{"t":"` + tok("k") + `","r":0}]}`, protocol.CodeVersion},
		"unknown type":     {`{"v":2,"type":"wish","id":"1"}`, protocol.CodeUnknownType},
		"unknown field":    {`{"v":2,"type":"ping","id":"1","extra":true}`, protocol.CodeBadRequest},
		"wrong field type": {`{"v":2,"type":"create","id":"1","joinKeyHash":5}`, protocol.CodeBadRequest},
		"short key":        {`{"v":2,"type":"create","id":"1","joinKeyHash":"abc"}`, protocol.CodeBadRequest},
		"bad room id":      {`{"v":2,"type":"join","id":"1","room":"ROOM","joinKey":"` + phonetest.KeyHash([]byte("k")) + `"}`, protocol.CodeBadRequest},
		"trailing data":    {`{"v":2,"type":"ping","id":"1"} {}`, protocol.CodeBadRequest},
		"before auth":      {`{"v":2,"type":"pause","id":"1"}`, protocol.CodeNotAuthenticated},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			p := phonetest.Dial(t, srv)
			p.SendRaw([]byte(tc.frame))
			f := p.ExpectError(tc.code)
			if f.Message == "" {
				t.Fatal("an error needs a message")
			}
			if strings.Contains(f.Message, tc.frame) && len(tc.frame) > 8 {
				t.Fatal("an error must not echo the frame")
			}
			// The socket stays usable after a refusal.
			p.Sync()
		})
	}

	t.Run("binary frame", func(t *testing.T) {
		p := phonetest.Dial(t, srv)
		ctx, cancel := context.WithTimeout(context.Background(), phonetest.WaitFor)
		defer cancel()
		p.Conn.Write(ctx, websocket.MessageBinary, []byte(`{"v":2,"type":"ping"}`))
		p.ExpectError(protocol.CodeBadRequest)
	})
	t.Run("wrong token count", func(t *testing.T) {
		a, b := phonetest.Pair(t, srv)
		round := phonetest.OpenRound(t, a, b)
		a.Submit(round, tokens(tok("x"))[:10])
		a.ExpectError(protocol.CodeBadRequest)
		ts := phonetest.TokenSet(tok("x"))
		a.Submit(round, protocol.EncodeTokens(ts[:protocol.TokenSetSize-1]))
		a.ExpectError(protocol.CodeBadRequest)
		a.Submit(round, protocol.EncodeTokens(append(ts, ts[0])))
		a.ExpectError(protocol.CodeBadRequest)
		ts[5] = ts[4]
		a.Submit(round, protocol.EncodeTokens(ts))
		a.ExpectError(protocol.CodeBadRequest)
		a.Submit("6f1c2f55-6f5a-4c5e-9a55-3b1f0e6f9d10", tokens(tok("x")))
		a.ExpectError(protocol.CodeStaleRound)
	})
	t.Run("oversized", func(t *testing.T) {
		p := phonetest.Dial(t, srv)
		p.SendRaw([]byte(`{"v":2,"type":"ping","id":"` + strings.Repeat("x", protocol.MaxFrameBytes) + `"}`))
		p.ExpectClose(websocket.StatusMessageTooBig)
	})
	t.Run("second create on one socket", func(t *testing.T) {
		p := phonetest.Dial(t, srv)
		p.Create()
		p.Send(&protocol.Create{Header: protocol.Header{Type: protocol.TypeCreate}, JoinKeyHash: phonetest.KeyHash([]byte("k"))})
		p.ExpectError(protocol.CodeAlreadyInRoom)
	})
}

func TestInviteExpires(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2026, 11, 24, 22, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := servertest.Start(t, servertest.Options{Room: room.Options{Now: clock, InviteTTL: time.Hour}})
	a := phonetest.Dial(t, srv)
	joinKey := a.Create()
	mu.Lock()
	now = now.Add(time.Hour + time.Second)
	mu.Unlock()
	b := phonetest.Dial(t, srv)
	if f := b.Join(a.Room, joinKey); f.Code != protocol.CodeInviteExpired {
		t.Fatalf("late join: %s", f.Raw)
	}
	b.ExpectClose(websocket.StatusCode(protocol.CloseAuthFailed))
}

func TestRoundExpires(t *testing.T) {
	var mu sync.Mutex
	now := time.Now()
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	srv := servertest.Start(t, servertest.Options{Room: room.Options{Now: clock, RoundWindow: time.Minute}})
	a, b := phonetest.Pair(t, srv)
	round := phonetest.OpenRound(t, a, b)
	a.Submit(round, tokens(tok("water")))
	a.Sync()
	b.Sync()
	mu.Lock()
	now = now.Add(2 * time.Minute)
	mu.Unlock()
	// The next action catches up: the round closes as expired first.
	b.Submit(round, tokens(tok("water")))
	f := b.Expect(protocol.KindRoundClosed)
	if f.Reason != protocol.ReasonExpired {
		t.Fatalf("closed: %s", f.Raw)
	}
	b.ExpectError(protocol.CodeNoRound)
	a.Expect(protocol.KindRoundClosed)
	st, err := srv.Store.Load(context.Background(), a.Room)
	if err != nil || st.Round != nil {
		t.Fatalf("the round's tokens must be gone: %+v %v", st.Round, err)
	}
}

func TestErase(t *testing.T) {
	srv := servertest.Start(t)
	a, b := phonetest.Pair(t, srv)
	phonetest.OpenRound(t, a, b)
	a.Send(&protocol.Erase{Header: protocol.Header{Type: protocol.TypeErase}})
	b.Expect(protocol.KindErased)
	b.ExpectClose(websocket.StatusCode(protocol.CloseErased))
	a.Expect(protocol.KindErased)
	a.ExpectClose(websocket.StatusCode(protocol.CloseErased))
	if _, err := srv.Store.Load(context.Background(), a.Room); err != room.ErrNotFound {
		t.Fatalf("room still there: %v", err)
	}
	c := phonetest.Dial(t, srv)
	c.Send(&protocol.Resume{Header: protocol.Header{Type: protocol.TypeResume}, Room: a.Room, Device: a.Device})
	c.ExpectError(protocol.CodeNotFound)
}

func TestPresence(t *testing.T) {
	srv := servertest.Start(t)
	a, b := phonetest.Pair(t, srv)
	// A dropped socket is "reconnecting"; a goodbye is "away".
	b.Drop()
	if f := a.Expect(protocol.KindPresence); f.Seat != 2 || f.Presence != protocol.PresenceReconnecting {
		t.Fatalf("drop: %s", f.Raw)
	}
	nb, _ := phonetest.Reconnect(t, srv, b.Credentials, 0)
	if f := a.Expect(protocol.KindPresence); f.Presence != protocol.PresenceOnline {
		t.Fatalf("back: %s", f.Raw)
	}
	nb.Send(&protocol.Bye{Header: protocol.Header{Type: protocol.TypeBye}})
	nb.Expect(protocol.TypeAck)
	nb.Conn.Close(websocket.StatusNormalClosure, "")
	if f := a.Expect(protocol.KindPresence); f.Presence != protocol.PresenceAway {
		t.Fatalf("bye: %s", f.Raw)
	}
}

// TestLiveness: a socket that stays open but sends nothing for the liveness
// window makes its seat unreachable for the partner, and its next message
// makes it online again, before that message is answered. Alex keeps
// talking throughout; Sam says nothing after joining.
func TestLiveness(t *testing.T) {
	const window = 300 * time.Millisecond
	srv := servertest.Start(t, servertest.Options{Edge: edge.Config{LivenessWindow: window}})
	a, b := phonetest.Pair(t, srv)
	start := time.Now()
	var gone phonetest.Frame
	for gone.Kind == "" {
		if time.Since(start) > phonetest.WaitFor {
			t.Fatal("the silent seat never became unreachable")
		}
		for _, f := range a.Sync() {
			if f.Kind == protocol.KindPresence && f.Seat == 2 {
				gone = f
				break
			}
		}
		time.Sleep(window / 4)
	}
	if gone.Presence != protocol.PresenceUnreachable {
		t.Fatalf("silent seat: %s", gone.Raw)
	}
	if since := time.Since(start); since < window {
		t.Fatalf("unreachable after %v, before the window of %v had passed", since, window)
	}
	// The silent socket is open: it hears about itself too.
	if f := b.Until(protocol.KindPresence); f.Seat != 2 || f.Presence != protocol.PresenceUnreachable {
		t.Fatalf("the silent phone's own view: %s", f.Raw)
	}
	// Sam's next message brings the seat back, ahead of its answer.
	id := b.Send(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
	if f := b.Expect(protocol.KindPresence); f.Seat != 2 || f.Presence != protocol.PresenceOnline {
		t.Fatalf("back: %s", f.Raw)
	}
	b.Expect(protocol.KindPaused)
	if f := b.Expect(protocol.TypeAck); f.ID != id {
		t.Fatalf("ack: %s", f.Raw)
	}
	if f := seatPresence(a, 2); f.Presence != protocol.PresenceOnline {
		t.Fatalf("partner after the message: %s", f.Raw)
	}
	// Sam, silent again, becomes unreachable again (and so does Alex, who
	// stopped talking too); a resume on a new socket is online at once.
	if f := seatPresence(a, 2); f.Presence != protocol.PresenceUnreachable {
		t.Fatalf("silent again: %s", f.Raw)
	}
	b.Drop()
	nb, w := phonetest.Reconnect(t, srv, b.Credentials, 0)
	if w.Snapshot == nil || w.Snapshot.Presence[1] != protocol.PresenceOnline {
		t.Fatalf("resumed: %s", w.Raw)
	}
	nb.Sync()
}

// seatPresence reads p's frames until a presence event about seat and
// returns it.
func seatPresence(p *phonetest.Phone, seat int) phonetest.Frame {
	for {
		if f := p.Next(); f.Kind == protocol.KindPresence && f.Seat == seat {
			return f
		}
	}
}

func TestSecondSocketForSeatReplacesFirst(t *testing.T) {
	srv := servertest.Start(t)
	a, b := phonetest.Pair(t, srv)
	na, _ := phonetest.Reconnect(t, srv, a.Credentials, a.Offset)
	a.ExpectClose(websocket.StatusCode(protocol.CloseReplaced))
	// The partner sees no flicker: A stayed online throughout.
	if got := b.Sync(); len(got) != 0 {
		t.Fatalf("partner saw %s", got[0].Raw)
	}
	na.Send(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
	b.Expect(protocol.KindPaused)
}

func TestForeignOriginRefused(t *testing.T) {
	srv := servertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), phonetest.WaitFor)
	defer cancel()
	_, resp, err := websocket.Dial(ctx, srv.WSURL(), &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {"https://elsewhere.example"}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("foreign origin: %v %v", err, resp)
	}
	// The server's own origin is fine.
	p := phonetest.Dial(t, srv, &websocket.DialOptions{HTTPHeader: http.Header{"Origin": {srv.URL}}})
	p.Sync()
}

func TestUnauthenticatedSocketClosed(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{Edge: edge.Config{AuthTimeout: 200 * time.Millisecond}})
	p := phonetest.Dial(t, srv)
	p.ExpectClose(websocket.StatusCode(protocol.CloseAuthTimeout))
}

func TestFloodLimited(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{Edge: edge.Config{Rate: 1, Burst: 2}})
	p := phonetest.Dial(t, srv)
	for range 3 {
		p.SendRaw([]byte(`{"v":2,"type":"ping"}`))
	}
	p.Expect(protocol.TypePong)
	p.Expect(protocol.TypePong)
	p.ExpectError(protocol.CodeRateLimited)
	// Keep flooding; the server closes the socket (writes may start failing
	// once it has).
	ctx, cancel := context.WithTimeout(context.Background(), phonetest.WaitFor)
	defer cancel()
	for range 40 {
		if p.Conn.Write(ctx, websocket.MessageText, []byte(`{"v":2,"type":"ping"}`)) != nil {
			break
		}
	}
	p.ExpectClose(websocket.StatusPolicyViolation)
}

// TestFloodAnswersEverything: a phone in a room sends 200 pings at once
// without reading. With the default limits (20 a second, bursts of 40) the
// first 40 or so are answered with pong, then each dropped one with
// rate_limited carrying its id, and the 20th drop in a row closes the
// socket with 1008 — after every one of those answers. What the phone sent
// after that is discarded unread: the answered ids are exactly 1…n, in
// order, each answered once.
func TestFloodAnswersEverything(t *testing.T) {
	srv := servertest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), phonetest.WaitFor)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, srv.WSURL(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	raw, _ := phonetest.NewKey()
	create, _ := protocol.Marshal(&protocol.Create{Header: protocol.Header{Type: protocol.TypeCreate, ID: "c"}, JoinKeyHash: phonetest.KeyHash(raw)})
	if err := ws.Write(ctx, websocket.MessageText, create); err != nil {
		t.Fatal(err)
	}
	if _, b, err := ws.Read(ctx); err != nil || !bytes.Contains(b, []byte(`"welcome"`)) {
		t.Fatalf("create: %s %v", b, err)
	}
	const sent = 200
	for i := 1; i <= sent; i++ {
		frame := fmt.Sprintf(`{"v":2,"type":"ping","id":"p%d"}`, i)
		if ws.Write(ctx, websocket.MessageText, []byte(frame)) != nil {
			break // the server has closed: the rest would be discarded anyway
		}
	}
	var answers []phonetest.Frame
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			if got := websocket.CloseStatus(err); got != websocket.StatusPolicyViolation {
				t.Fatalf("socket ended with %v, want close 1008", err)
			}
			break
		}
		var f phonetest.Frame
		if err := json.Unmarshal(b, &f); err != nil {
			t.Fatalf("bad frame %s: %v", b, err)
		}
		f.Raw = b
		answers = append(answers, f)
	}
	pongs, limited, run := 0, 0, 0
	for i, f := range answers {
		if want := fmt.Sprintf("p%d", i+1); f.ID != want {
			t.Fatalf("answer %d is %s, want the answer to %s: every request up to the last answered gets one answer, in order", i+1, f.Raw, want)
		}
		switch {
		case f.Type == protocol.TypePong:
			pongs++
			run = 0
		case f.Type == protocol.TypeError && f.Code == protocol.CodeRateLimited:
			limited++
			run++
		default:
			t.Fatalf("answer %d: %s", i+1, f.Raw)
		}
	}
	t.Logf("%d pongs, %d rate_limited, %d of %d pings discarded after the close", pongs, limited, sent-len(answers), sent)
	// The burst covers every message, the create included.
	if pongs < edge.DefaultBurst-1 {
		t.Errorf("%d pongs; the rest of the burst of %d after the create is owed a pong each", pongs, edge.DefaultBurst)
	}
	if run != 20 {
		t.Errorf("the answers end with %d rate_limited in a row; the socket closes after the 20th", run)
	}
}

// TestDeadPeerReaped: the server pings every socket and keeps pinging while
// the phone answers; a phone that stops answering is closed with 1008 and
// its partner sees it reconnecting. The phone here answers three pings and
// then goes silent, as one does when its network vanishes without a FIN.
func TestDeadPeerReaped(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{Edge: edge.Config{PingInterval: 50 * time.Millisecond, PingTimeout: 200 * time.Millisecond}})
	a := phonetest.Dial(t, srv)
	joinKey := a.Create()
	var pings atomic.Int32
	b := phonetest.Dial(t, srv, &websocket.DialOptions{
		OnPingReceived: func(context.Context, []byte) bool { return pings.Add(1) <= 3 },
	})
	b.Join(a.Room, joinKey)
	a.Expect(protocol.KindPaired)
	b.ExpectClose(websocket.StatusPolicyViolation)
	if n := pings.Load(); n < 4 {
		t.Fatalf("closed after %d pings; want three answered and a fourth unanswered", n)
	}
	for {
		f := a.Next()
		if f.Kind == protocol.KindPresence && f.Seat == 2 {
			if f.Presence != protocol.PresenceReconnecting {
				t.Fatalf("dead seat: %s", f.Raw)
			}
			return
		}
	}
}

func TestShutdownClosesWithServiceRestart(t *testing.T) {
	srv := servertest.Start(t)
	a, _ := phonetest.Pair(t, srv)
	ctx, cancel := context.WithTimeout(context.Background(), phonetest.WaitFor)
	defer cancel()
	if err := srv.Edge.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	a.ExpectClose(websocket.StatusServiceRestart)
}

// TestNoGoroutineLeak connects and disconnects 1,000 times, half of them
// through a whole create and resume, and checks that the goroutine count
// comes back to where it was.
func TestNoGoroutineLeak(t *testing.T) {
	srv := servertest.Start(t)
	a, b := phonetest.Pair(t, srv)
	a.Sync()
	b.Sync()
	base := runtime.NumGoroutine()
	ctx := context.Background()
	for i := range 1000 {
		ws, _, err := websocket.Dial(ctx, srv.WSURL(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 0 {
			m, _ := protocol.Marshal(&protocol.Resume{Header: protocol.Header{Type: protocol.TypeResume}, Room: a.Room, Device: a.Device})
			ws.Write(ctx, websocket.MessageText, m)
			ws.Read(ctx)
		}
		if i%3 == 0 {
			ws.CloseNow()
		} else {
			ws.Close(websocket.StatusNormalClosure, "")
		}
	}
	deadline := time.Now().Add(phonetest.WaitFor)
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
	a, b := phonetest.Pair(t, srv)
	round := phonetest.OpenRound(t, a, b)
	a.Submit(round, tokens(tok("water")))
	b.Submit(round, tokens(tok("water")))
	a.Until(protocol.KindRoundRevealed)
	b.Until(protocol.KindRoundRevealed)
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
	deadline := time.Now().Add(phonetest.WaitFor)
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
		p := phonetest.Dial(t, srv)
		p.Create()
		q := phonetest.Dial(t, srv)
		q.Create()
		r := phonetest.Dial(t, srv)
		r.Send(&protocol.Create{Header: protocol.Header{Type: protocol.TypeCreate}, JoinKeyHash: phonetest.KeyHash([]byte("k"))})
		r.ExpectError(protocol.CodeRateLimited)
		// A move code must not be guessed at in bulk either.
		r.Send(&protocol.Move{Header: protocol.Header{Type: protocol.TypeMove}, Room: p.Room, Code: phonetest.KeyHash([]byte("m"))})
		r.ExpectError(protocol.CodeRateLimited)
		// Resuming is never limited: a phone on a flaky network gets back.
		r.Send(&protocol.Resume{Header: protocol.Header{Type: protocol.TypeResume}, Room: p.Room, Device: p.Device, Epoch: p.Epoch})
		r.Expect(protocol.TypeWelcome)
	})
	t.Run("sockets", func(t *testing.T) {
		srv := servertest.Start(t, servertest.Options{Edge: edge.Config{SocketsPerIP: 3}})
		for range 3 {
			phonetest.Dial(t, srv).Sync()
		}
		ctx, cancel := context.WithTimeout(context.Background(), phonetest.WaitFor)
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
	a, b := phonetest.Pair(t, srv)
	b.Sync()
	last := b.Offset
	b.Drop()
	blob := base64url(bytes.Repeat([]byte{7}, protocol.MaxBlobLen*3/4))
	for i := range protocol.MaxServerFrameBytes / protocol.MaxBlobLen {
		a.Send(&protocol.Announce{Header: protocol.Header{Type: protocol.TypeAnnounce}, Blob: blob})
		if i%16 == 15 {
			// Now and then wait for the answers: sent all at once, the
			// events for A itself would overflow its own queue (1008).
			a.Sync()
		}
	}
	a.Sync()
	nb, w := phonetest.Reconnect(t, srv, b.Credentials, last)
	if w.Snapshot == nil || len(w.Replay) != 0 {
		t.Fatalf("want a snapshot, got %d replayed events", len(w.Replay))
	}
	if len(w.Raw) > protocol.MaxServerFrameBytes {
		t.Fatalf("welcome of %d bytes", len(w.Raw))
	}
	if w.Snapshot.Announce[0] == nil || w.Snapshot.Announce[0].Blob != blob {
		t.Fatal("snapshot lacks the latest announcement")
	}
	nb.Sync()
}

// TestRepeatedJoinWithNonce: a phone whose join welcome was lost repeats the
// join with the same nonce and gets its seat back; nobody else can, and the
// phone itself cannot once it has acted.
func TestRepeatedJoinWithNonce(t *testing.T) {
	srv := servertest.Start(t)
	a := phonetest.Dial(t, srv)
	joinKey := a.Create()
	_, nonce := phonetest.NewKey()
	join := func(nonce string) phonetest.Frame {
		p := phonetest.Dial(t, srv)
		p.Send(&protocol.Join{Header: protocol.Header{Type: protocol.TypeJoin}, Room: a.Room, JoinKey: joinKey, Nonce: nonce})
		return p.Next()
	}
	lost := join(nonce) // the welcome that "never arrived"
	if lost.Type != protocol.TypeWelcome {
		t.Fatalf("first join: %s", lost.Raw)
	}
	a.Expect(protocol.KindPaired)

	again := join(nonce)
	if again.Type != protocol.TypeWelcome || again.Seat != 2 || again.Device == lost.Device {
		t.Fatalf("repeated join: %s", again.Raw)
	}
	_, other := phonetest.NewKey()
	if f := join(other); f.Code != protocol.CodeRoomFull {
		t.Fatalf("another nonce: %s", f.Raw)
	}
	if f := join(""); f.Code != protocol.CodeRoomFull {
		t.Fatalf("no nonce: %s", f.Raw)
	}
	// The lost token no longer works.
	d := phonetest.Dial(t, srv)
	d.Send(&protocol.Resume{Header: protocol.Header{Type: protocol.TypeResume}, Room: a.Room, Device: lost.Device})
	d.ExpectError(protocol.CodeForbidden)

	// Once seat 2 has acted with its token, the nonce is spent.
	b, _ := phonetest.Reconnect(t, srv, phonetest.Credentials{Room: a.Room, Device: again.Device, Seat: 2, Epoch: again.Epoch}, 0)
	b.Send(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
	b.Until(protocol.TypeAck)
	if f := join(nonce); f.Code != protocol.CodeRoomFull {
		t.Fatalf("nonce after use: %s", f.Raw)
	}
}

// TestSlowConsumerDropped: a phone that stops reading is disconnected when
// its queue fills, and its partner is not held back: the partner's own
// frames keep flowing and it sees the slow seat reconnecting.
func TestSlowConsumerDropped(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{Edge: edge.Config{SendQueue: 4, Rate: 1e6, Burst: 1e6}})
	a := phonetest.Dial(t, srv)
	joinKey := a.Create()
	// B joins on a raw socket and then never reads again. Its receive buffer
	// is kept small: loopback buffers may grow to tens of MB, which would
	// take the server thousands of frames to fill before its queue for B
	// ever does.
	ctx, cancel := context.WithTimeout(context.Background(), phonetest.WaitFor)
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
	join, _ := protocol.Marshal(&protocol.Join{Header: protocol.Header{Type: protocol.TypeJoin}, Room: a.Room, JoinKey: joinKey})
	ws.Write(ctx, websocket.MessageText, join)
	a.Expect(protocol.KindPaired)

	blob := base64url(bytes.Repeat([]byte{1}, protocol.MaxBlobLen*3/4))
	deadline := time.Now().Add(phonetest.WaitFor)
	for {
		a.Send(&protocol.Announce{Header: protocol.Header{Type: protocol.TypeAnnounce}, Blob: blob})
		// A keeps getting its own frames; it reads until B is reported gone.
		for _, f := range a.Sync() {
			if f.Kind == protocol.KindPresence && f.Seat == 2 {
				if f.Presence != protocol.PresenceReconnecting {
					t.Fatalf("slow seat: %s", f.Raw)
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
	a, b := phonetest.Pair(t, srv)
	round := phonetest.OpenRound(t, a, b)
	ts := tokens(tok("water"))
	a.Submit(round, ts)
	a.Sync()
	b.Submit(round, tokens(tok("water")))
	b.Sync()
	a.Sync()
	// The same submission again, the same pause twice: no new event for A.
	a.Submit(round, ts)
	a.Send(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
	a.Send(&protocol.Pause{Header: protocol.Header{Type: protocol.TypePause}})
	a.Sync()
	got := b.Sync()
	if len(got) != 1 || got[0].Kind != protocol.KindPaused {
		t.Fatalf("partner saw %d frames, want one pause", len(got))
	}
	// A close for the round, twice; then a submission for it, late.
	a.Send(&protocol.RoundClose{Header: protocol.Header{Type: protocol.TypeRoundClose}, Round: round})
	a.Send(&protocol.RoundClose{Header: protocol.Header{Type: protocol.TypeRoundClose}, Round: round})
	a.Submit(round, ts)
	var codes []string
	for _, f := range a.Sync() {
		if f.Type == protocol.TypeError {
			codes = append(codes, f.Code)
		}
	}
	if strings.Join(codes, " ") != "no_round no_round" {
		t.Fatalf("refusals %v", codes)
	}
	if got := b.Sync(); len(got) != 1 || got[0].Kind != protocol.KindRoundClosed {
		t.Fatalf("partner saw %d frames, want one round.closed", len(got))
	}
}
