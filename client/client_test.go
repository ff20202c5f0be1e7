package client_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"softland/client"
	"softland/client/rules"
	"softland/server/protocol"
	"softland/server/servertest"
)

// testTimeout is generous: it only bounds a test that hangs, it never
// measures speed.
const testTimeout = 30 * time.Second

func testContext(t *testing.T) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), testTimeout)
	t.Cleanup(cancel)
	return ctx
}

// pair starts a server and returns two paired clients, seat 1 and seat 2,
// with the paired event already taken from seat 1's stream.
func pair(t *testing.T) (srv *servertest.Server, c1, c2 *client.Client) {
	t.Helper()
	ctx := testContext(t)
	srv = servertest.Start(t)
	c1, link, err := client.Create(ctx, srv.URL)
	if err != nil {
		t.Fatalf("Create: %v", err)
	}
	t.Cleanup(func() { c1.Close() })
	if c1.Seat() != 1 || c1.Snapshot() == nil || c1.Snapshot().Paired {
		t.Fatalf("after Create: seat %d, snapshot %+v", c1.Seat(), c1.Snapshot())
	}
	parsed, err := client.ParseLink(link.String())
	if err != nil {
		t.Fatalf("ParseLink(%q): %v", link.String(), err)
	}
	c2, err = client.Join(ctx, srv.URL, parsed)
	if err != nil {
		t.Fatalf("Join: %v", err)
	}
	t.Cleanup(func() { c2.Close() })
	if c2.Seat() != 2 || c2.Room() != c1.Room() || c2.Snapshot() == nil || !c2.Snapshot().Paired {
		t.Fatalf("after Join: seat %d, room %s/%s, snapshot %+v", c2.Seat(), c2.Room(), c1.Room(), c2.Snapshot())
	}
	next(t, c1, protocol.KindPaired)
	return srv, c1, c2
}

// next returns the next event of kind from c, skipping others (presence
// changes, for example). It fails the test if the stream ends first.
func next(t *testing.T, c *client.Client, kind string) client.Event {
	t.Helper()
	ctx := testContext(t)
	for {
		select {
		case e, ok := <-c.Events():
			if !ok {
				t.Fatalf("seat %d: events ended (%v) while waiting for %s", c.Seat(), c.Err(), kind)
			}
			if e.Kind == kind {
				return e
			}
		case <-ctx.Done():
			t.Fatalf("seat %d: no %s event", c.Seat(), kind)
		}
	}
}

func code(err error) string {
	var e *client.Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}

func TestPairAndReveal(t *testing.T) {
	ctx := testContext(t)
	_, c1, c2 := pair(t)

	if _, err := c1.OpenRound(ctx); err != nil {
		t.Fatalf("OpenRound: %v", err)
	}
	if _, err := c2.OpenRound(ctx); code(err) != protocol.CodeRoundOpen {
		t.Fatalf("second OpenRound: %v, want %s", err, protocol.CodeRoundOpen)
	}
	round, err := c2.EnsureRound(ctx) // the open round, not a new one
	if err != nil {
		t.Fatalf("EnsureRound: %v", err)
	}
	if e := next(t, c1, protocol.KindRoundOpened); e.Round != round || e.Seat != 1 {
		t.Fatalf("round.opened = %+v, want round %s by seat 1", e.Event, round)
	}
	next(t, c2, protocol.KindRoundOpened)

	// Seat 1 wants to be held and water; seat 2 wants to hold and water.
	if err := c1.SubmitNeeds(ctx, round, []string{"be-held", "water"}, rules.Plan{}); err != nil {
		t.Fatalf("SubmitNeeds 1: %v", err)
	}
	if e := next(t, c2, protocol.KindRoundSubmitted); e.Seat != 1 {
		t.Fatalf("round.submitted seat %d, want 1", e.Seat)
	}
	if err := c2.SubmitNeeds(ctx, round, []string{"hold-partner", "water"}, rules.Plan{Never: []string{"cuddle"}}); err != nil {
		t.Fatalf("SubmitNeeds 2: %v", err)
	}
	r1 := next(t, c1, protocol.KindRoundRevealed)
	r2 := next(t, c2, protocol.KindRoundRevealed)
	if r1.Reveal != r2.Reveal || !slices.Equal(r1.Suggestions, r2.Suggestions) {
		t.Fatalf("the two phones disagree: %v / %v", r1.Suggestions, r2.Suggestions)
	}
	if len(r1.Suggestions) == 0 || len(r1.Suggestions) > 3 || r1.Unknown != 0 {
		t.Fatalf("suggestions %v (unknown %d), want 1..3 known ones", r1.Suggestions, r1.Unknown)
	}
	for _, want := range []string{"hold@2", "water"} {
		if !slices.Contains(r1.Suggestions, want) {
			t.Errorf("suggestions %v lack %s", r1.Suggestions, want)
		}
	}
	if slices.Contains(r1.Suggestions, "cuddle") {
		t.Errorf("suggestions %v hold seat 2's never-list", r1.Suggestions)
	}

	// Changing a tap updates both phones.
	if err := c1.SubmitNeeds(ctx, round, []string{"water"}, rules.Plan{}); err != nil {
		t.Fatalf("resubmit: %v", err)
	}
	r1 = next(t, c1, protocol.KindRoundRevealed)
	r2 = next(t, c2, protocol.KindRoundRevealed)
	if !slices.Contains(r1.Suggestions, "water") || slices.Contains(r1.Suggestions, "hold@2") || !slices.Equal(r2.Suggestions, r1.Suggestions) || r1.Rev != 2 {
		t.Fatalf("after resubmit: %v (rev %d) / %v", r1.Suggestions, r1.Rev, r2.Suggestions)
	}

	if err := c2.CloseRound(ctx, round); err != nil {
		t.Fatalf("CloseRound: %v", err)
	}
	if e := next(t, c1, protocol.KindRoundClosed); e.Reason != protocol.ReasonClosed {
		t.Fatalf("round.closed reason %q", e.Reason)
	}
	if err := c1.SubmitNeeds(ctx, round, []string{"water"}, rules.Plan{}); code(err) != protocol.CodeNoRound {
		t.Fatalf("submit after close: %v, want %s", err, protocol.CodeNoRound)
	}
}

func TestPause(t *testing.T) {
	ctx := testContext(t)
	_, c1, c2 := pair(t)
	if err := c1.Pause(ctx); err != nil {
		t.Fatalf("Pause: %v", err)
	}
	if e := next(t, c2, protocol.KindPaused); e.Seat != 1 {
		t.Fatalf("paused seat %d", e.Seat)
	}
	if err := c2.Unpause(ctx); code(err) != protocol.CodeNotPaused {
		t.Fatalf("partner's Unpause: %v, want %s", err, protocol.CodeNotPaused)
	}
	if err := c1.Unpause(ctx); err != nil {
		t.Fatalf("Unpause: %v", err)
	}
	if e := next(t, c2, protocol.KindUnpaused); e.Seat != 1 {
		t.Fatalf("unpaused seat %d", e.Seat)
	}
	if err := c1.Ping(ctx); err != nil {
		t.Fatalf("Ping: %v", err)
	}
}

func TestSealedRelay(t *testing.T) {
	ctx := testContext(t)
	_, c1, c2 := pair(t)
	until := time.Now().Add(20 * time.Minute).UnixMilli()
	if err := c1.Announce(ctx, client.Announcement{Kind: client.AnnouncementSpace, Minutes: 20, Until: until}); err != nil {
		t.Fatalf("Announce: %v", err)
	}
	e := next(t, c2, protocol.KindAnnounced)
	var a client.Announcement
	if e.Err != nil || json.Unmarshal(e.Plaintext, &a) != nil || a.Minutes != 20 || a.Until != until || e.Seat != 1 {
		t.Fatalf("announced: %s, %v", e.Plaintext, e.Err)
	}
	if err := c2.Settings(ctx, client.SharedSettings{PauseWord: "mandarina", Signals: []string{"amarillo"}}); err != nil {
		t.Fatalf("Settings: %v", err)
	}
	var s client.SharedSettings
	e = next(t, c1, protocol.KindSettings)
	if e.Err != nil || json.Unmarshal(e.Plaintext, &s) != nil || s.PauseWord != "mandarina" {
		t.Fatalf("settings: %s, %v", e.Plaintext, e.Err)
	}
}

func TestDebrief(t *testing.T) {
	ctx := testContext(t)
	_, c1, c2 := pair(t)
	round, err := c1.EnsureRound(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := c1.Debrief(ctx, round, "the blanket", "more quiet first"); err != nil {
		t.Fatalf("Debrief 1: %v", err)
	}
	if e := next(t, c2, protocol.KindDebriefSubmitted); e.Seat != 1 || e.Round != round || len(e.Blobs) != 0 {
		t.Fatalf("debrief.submitted = %+v", e.Event)
	}
	// Seat 1 may still change its mind before the release.
	if err := c1.Debrief(ctx, round, "the blanket and the tea", "more quiet first"); err != nil {
		t.Fatalf("Debrief 1 again: %v", err)
	}
	if err := c2.Debrief(ctx, round, "holding you", "talk tomorrow"); err != nil {
		t.Fatalf("Debrief 2: %v", err)
	}
	want := []client.DebriefAnswer{{Helped: "the blanket and the tea", Next: "more quiet first"}, {Helped: "holding you", Next: "talk tomorrow"}}
	for _, c := range []*client.Client{c1, c2} {
		e := next(t, c, protocol.KindDebriefReleased)
		if e.Err != nil || !slices.Equal(e.Debriefs, want) {
			t.Fatalf("seat %d: released %+v, %v", c.Seat(), e.Debriefs, e.Err)
		}
	}
	if err := c2.Debrief(ctx, round, "too late", ""); code(err) != protocol.CodeDebriefClosed {
		t.Fatalf("Debrief after release: %v, want %s", err, protocol.CodeDebriefClosed)
	}
}

func TestErase(t *testing.T) {
	ctx := testContext(t)
	srv, c1, c2 := pair(t)
	st := c2.State()
	if err := c1.Erase(ctx); err != nil {
		t.Fatalf("Erase: %v", err)
	}
	if e := next(t, c2, protocol.KindErased); e.Seat != 1 {
		t.Fatalf("erased seat %d", e.Seat)
	}
	for _, c := range []*client.Client{c1, c2} {
		select {
		case <-c.Done():
		case <-ctx.Done():
			t.Fatalf("seat %d still connected after erase", c.Seat())
		}
		if err := c.Err(); !errors.Is(err, client.ErrErased) || client.ShouldResume(err) {
			t.Fatalf("seat %d ended with %v, want ErrErased", c.Seat(), err)
		}
	}
	if _, err := client.Resume(ctx, srv.URL, st); code(err) != protocol.CodeNotFound {
		t.Fatalf("Resume after erase: %v, want %s", err, protocol.CodeNotFound)
	}
}

func TestResume(t *testing.T) {
	ctx := testContext(t)
	srv, c1, c2 := pair(t)
	round, err := c1.EnsureRound(ctx)
	if err != nil {
		t.Fatal(err)
	}
	next(t, c2, protocol.KindRoundOpened)
	st := c2.State()
	if st.Round != round || st.Seat != 2 || st.Offset == 0 || st.Server != srv.URL {
		t.Fatalf("State = %+v", st)
	}
	// State is meant to be persisted: go through JSON.
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var saved client.State
	if err := json.Unmarshal(b, &saved); err != nil || !reflect.DeepEqual(saved, st) {
		t.Fatalf("State JSON round trip: %+v, %v", saved, err)
	}
	c2.Close()
	if !errors.Is(c2.Err(), client.ErrClosed) {
		t.Fatalf("after Close: %v", c2.Err())
	}
	if _, ok := <-c2.Events(); ok {
		t.Fatal("Events still open after Close")
	}
	if err := c2.Ping(ctx); !errors.Is(err, client.ErrClosed) {
		t.Fatalf("Ping after Close: %v", err)
	}

	// While seat 2 is away, seat 1 pauses and announces.
	if e := next(t, c1, protocol.KindPresence); e.Seat != 2 || e.Presence == protocol.PresenceOnline {
		t.Fatalf("presence = %+v", e.Event)
	}
	if err := c1.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	if err := c1.Announce(ctx, client.Announcement{Kind: client.AnnouncementSpace, Minutes: 10}); err != nil {
		t.Fatal(err)
	}

	c2, err = client.Resume(ctx, "", saved)
	if err != nil {
		t.Fatalf("Resume: %v", err)
	}
	t.Cleanup(func() { c2.Close() })
	if c2.Snapshot() != nil {
		t.Fatal("Resume from a recent offset sent a snapshot, want a replay")
	}
	if c2.Round() != round {
		t.Fatalf("Round after resume = %q, want %q", c2.Round(), round)
	}
	// Exactly the missed events, in order, from the saved offset on. Seat
	// 1's receipts (delivered) fall among them where its phone's timing put
	// them.
	var kinds []string
	want := []string{protocol.KindPresence, protocol.KindPaused, protocol.KindAnnounced, protocol.KindPresence}
	off := saved.Offset
	for len(kinds) < len(want) {
		select {
		case e := <-c2.Events():
			if e.Offset != off+1 {
				t.Fatalf("event offset %d after %d", e.Offset, off)
			}
			off = e.Offset
			if e.Kind != protocol.KindDelivered {
				kinds = append(kinds, e.Kind)
			}
		case <-ctx.Done():
			t.Fatalf("replay so far: %v, want %v", kinds, want)
		}
	}
	if !slices.Equal(kinds, want) {
		t.Fatalf("replay: %v, want %v", kinds, want)
	}
	// State counts what the client has read, which may include seat 1's
	// receipts for the new presence, queued behind the replay: only those
	// may follow it.
	got := c2.State()
	for off < got.Offset {
		select {
		case e := <-c2.Events():
			if e.Offset != off+1 || e.Kind != protocol.KindDelivered {
				t.Fatalf("after the replay: event %d %s, want only receipts up to %d", e.Offset, e.Kind, got.Offset)
			}
			off = e.Offset
		case <-ctx.Done():
			t.Fatalf("State after replay has offset %d; events stop at %d", got.Offset, off)
		}
	}
	if got.Offset != off || got.Round != round {
		t.Fatalf("State after replay = %+v, want offset %d", got, off)
	}
	if e := next(t, c1, protocol.KindPresence); e.Seat != 2 || e.Presence != protocol.PresenceOnline {
		t.Fatalf("presence = %+v", e.Event)
	}

	// From offset 0 the server sends a snapshot, opened like events.
	st0 := c2.State()
	c2.Close()
	st0.Offset = 0
	c2, err = client.Resume(ctx, srv.URL, st0)
	if err != nil {
		t.Fatalf("Resume from 0: %v", err)
	}
	t.Cleanup(func() { c2.Close() })
	s := c2.Snapshot()
	if s == nil || s.Round == nil || s.Round.Round != round || !s.Paused[0] || s.Err != nil {
		t.Fatalf("snapshot = %+v", s)
	}
	var a client.Announcement
	if json.Unmarshal(s.AnnouncePlaintext[0], &a) != nil || a.Minutes != 10 {
		t.Fatalf("snapshot announcement %s", s.AnnouncePlaintext[0])
	}
}

// TestResubmitAfterResumeKeepsDecoys: a phone that sends its answer again
// after reconnecting (its first attempt's ack was lost with the connection)
// sends the same decoys, so the server, comparing the two submissions, sees
// the same 64 tokens and cannot pick out the real ones (protocol §3.4).
func TestResubmitAfterResumeKeepsDecoys(t *testing.T) {
	ctx := testContext(t)
	srv, c1, c2 := pair(t)
	round, err := c1.EnsureRound(ctx)
	if err != nil {
		t.Fatal(err)
	}
	next(t, c1, protocol.KindRoundOpened)
	next(t, c2, protocol.KindRoundOpened)
	needs := []string{"water", "be-held"}
	submitted := func() map[protocol.Token]bool {
		t.Helper()
		st, err := srv.Store.Load(ctx, c1.Room())
		if err != nil || st.Round == nil {
			t.Fatalf("Load: %v", err)
		}
		ts, err := protocol.DecodeTokens(st.Round.Tokens[0])
		if err != nil {
			t.Fatal(err)
		}
		set := map[protocol.Token]bool{}
		for _, tok := range ts {
			set[tok] = true
		}
		return set
	}
	if err := c1.SubmitNeeds(ctx, round, needs, rules.Plan{}); err != nil {
		t.Fatal(err)
	}
	first := submitted()

	// The state goes through JSON, as a program persists it.
	b, err := json.Marshal(c1.State())
	if err != nil {
		t.Fatal(err)
	}
	var saved client.State
	if err := json.Unmarshal(b, &saved); err != nil {
		t.Fatal(err)
	}
	c1.Close()
	c1, err = client.Resume(ctx, srv.URL, saved)
	if err != nil {
		t.Fatalf("Resume: %v", err)
	}
	t.Cleanup(func() { c1.Close() })
	if err := c1.SubmitNeeds(ctx, round, needs, rules.Plan{}); err != nil {
		t.Fatal(err)
	}
	changed := 0
	for tok := range submitted() {
		if !first[tok] {
			changed++
		}
	}
	if changed != 0 {
		t.Fatalf("the same answer sent again after a resume changed %d of %d tokens: the server can tell the real ones", changed, protocol.TokenSetSize)
	}
}

func TestRefusals(t *testing.T) {
	ctx := testContext(t)
	srv := servertest.Start(t)
	c1, link, err := client.Create(ctx, srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	if _, err := c1.OpenRound(ctx); code(err) != protocol.CodeNotPaired {
		t.Fatalf("OpenRound alone: %v, want %s", err, protocol.CodeNotPaired)
	}

	wrong := link
	wrong.Secret = append([]byte(nil), link.Secret...)
	wrong.Secret[0] ^= 1
	if _, err := client.Join(ctx, srv.URL, wrong); code(err) != protocol.CodeForbidden {
		t.Fatalf("Join with a wrong secret: %v, want %s", err, protocol.CodeForbidden)
	}
	c2, err := client.Join(ctx, srv.URL, link)
	if err != nil {
		t.Fatal(err)
	}
	defer c2.Close()
	if _, err := client.Join(ctx, srv.URL, link); code(err) != protocol.CodeRoomFull {
		t.Fatalf("third Join: %v, want %s", err, protocol.CodeRoomFull)
	}
	// A seat that connects again replaces its older connection.
	c3, err := client.Resume(ctx, srv.URL, c2.State())
	if err != nil {
		t.Fatalf("second Resume: %v", err)
	}
	defer c3.Close()
	select {
	case <-c2.Done():
	case <-ctx.Done():
		t.Fatal("the replaced connection is still up")
	}
	if err := c2.Err(); !errors.Is(err, client.ErrReplaced) || client.ShouldResume(err) {
		t.Fatalf("replaced connection ended with %v", err)
	}
	if err := c3.Ping(ctx); err != nil {
		t.Fatalf("Ping on the new connection: %v", err)
	}
}

func TestBye(t *testing.T) {
	ctx := testContext(t)
	_, c1, c2 := pair(t)
	if err := c2.Bye(ctx); err != nil {
		t.Fatalf("Bye: %v", err)
	}
	if e := next(t, c1, protocol.KindPresence); e.Seat != 2 || e.Presence != protocol.PresenceAway {
		t.Fatalf("presence after bye = %+v", e.Event)
	}
}

// TestReceipts: a phone confirms what it took from Events, and its partner
// learns it: the pause seat 1 sent reached seat 2's phone. A resumed phone
// learns from the snapshot what its partner had confirmed.
func TestReceipts(t *testing.T) {
	ctx := testContext(t)
	srv, c1, c2 := pair(t)
	if err := c1.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	paused := next(t, c2, protocol.KindPaused) // taken: seat 2's phone confirms it
	for {
		e := next(t, c1, protocol.KindDelivered)
		if e.Seat == 2 && e.Seen >= paused.Offset {
			break
		}
	}
	if got := c1.PartnerSeen(); got < paused.Offset {
		t.Fatalf("PartnerSeen = %d after seat 2's receipt of %d", got, paused.Offset)
	}

	st := c1.State()
	c1.Close()
	st.Offset = 0 // a snapshot
	c1, err := client.Resume(ctx, srv.URL, st)
	if err != nil {
		t.Fatal(err)
	}
	defer c1.Close()
	if got := c1.Snapshot().Seen[1]; got < paused.Offset || c1.PartnerSeen() != got {
		t.Fatalf("snapshot seen %v, PartnerSeen %d, want seat 2 at %d or more", c1.Snapshot().Seen, c1.PartnerSeen(), paused.Offset)
	}
}
