package push_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"softland/client"
	"softland/server/memstore"
	"softland/server/metrics"
	"softland/server/protocol"
	"softland/server/push"
	"softland/server/push/pushtest"
	"softland/server/room"
	"softland/server/servertest"
)

// outcome is one counted push decision, as Config.Observe hears it.
type outcome struct{ kind, outcome string }

// instance is one server's room logic with its push sender, as the command
// wires them.
type instance struct {
	rooms    *room.Service
	sender   *push.Sender
	m        *metrics.Metrics
	outcomes chan outcome
}

// lockedBuffer is a log sink the sender's workers may write to at once.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// newInstance makes an instance on store that sends to svc. The sender is
// not running until run is called, so a test can set the room up first.
func newInstance(t *testing.T, store room.Store, svc *pushtest.Service, keys *push.Keys, logs io.Writer, tweak func(*push.Config)) *instance {
	t.Helper()
	in := &instance{m: metrics.New(), outcomes: make(chan outcome, 64)}
	cfg := push.Config{
		Keys:     keys,
		Contact:  "mailto:care@softland.example",
		Services: []string{svc.Host()},
		Client:   svc.Client(),
		Workers:  1,
		Grace:    20 * time.Millisecond,
		Backoff:  time.Millisecond,
		Logger:   slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Metrics:  in.m,
		Observe:  func(kind, o string) { in.outcomes <- outcome{kind, o} },
	}
	if tweak != nil {
		tweak(&cfg)
	}
	s, err := push.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	in.sender = s
	in.rooms = room.New(room.Options{Store: store, Push: s})
	return in
}

// run starts the sender until the test ends.
func (in *instance) run(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		in.sender.Run(ctx, in.rooms)
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// next returns the next counted outcome.
func (in *instance) next(t *testing.T) outcome {
	t.Helper()
	select {
	case o := <-in.outcomes:
		return o
	case <-time.After(time.Minute):
		t.Fatal("no push outcome came")
		return outcome{}
	}
}

// pair creates a room on a and joins seat 2 through b.
func pair(t *testing.T, a, b *instance) (seat1, seat2 room.Member) {
	t.Helper()
	ctx := context.Background()
	key := base64.RawURLEncoding.EncodeToString(make([]byte, 32))
	sum := sha256.Sum256(make([]byte, 32))
	c, err := a.rooms.Create(ctx, base64.RawURLEncoding.EncodeToString(sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	j, err := b.rooms.Join(ctx, c.Member.Room, key, "")
	if err != nil {
		t.Fatal(err)
	}
	return c.Member, j.Member
}

var allKinds = protocol.PushKinds{Pause: true, Checkin: true, Debrief: true, Space: true}

func subscribe(t *testing.T, in *instance, m room.Member, sub *pushtest.Sub, kinds protocol.PushKinds) {
	t.Helper()
	_, err := in.rooms.SubscribePush(context.Background(), m, room.PushSub{Endpoint: sub.Endpoint, P256dh: sub.P256dh, Auth: sub.Auth, Kinds: kinds})
	if err != nil {
		t.Fatal(err)
	}
}

func away(t *testing.T, in *instance, m room.Member) {
	t.Helper()
	if err := in.rooms.Leave(context.Background(), m, protocol.PresenceAway); err != nil {
		t.Fatal(err)
	}
}

func mustKeys(t *testing.T) *push.Keys {
	t.Helper()
	k, err := push.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func newMemStore(t *testing.T) room.Store {
	s := memstore.New(memstore.Options{})
	t.Cleanup(func() { s.Close() })
	return s
}

// checkPush checks one received push: to sub, decrypted, of the one fixed
// size, holding exactly the documented fields, with the kind's headers.
func checkPush(t *testing.T, got pushtest.Message, sub *pushtest.Sub, kind string, offset uint64) {
	t.Helper()
	if got.Err != nil {
		t.Fatalf("the push service refused the push: %v", got.Err)
	}
	if got.Sub != sub {
		t.Fatal("the push went to another subscription")
	}
	if got.BodyLen != protocol.PushBodyBytes {
		t.Errorf("body is %d bytes, want %d", got.BodyLen, protocol.PushBodyBytes)
	}
	want := protocol.PushMessage{V: protocol.PushVersion, Kind: kind, Offset: offset}
	if got.Push != want {
		t.Errorf("plaintext %+v, want %+v", got.Push, want)
	}
	// Only v, kind and offset: pushtest decodes with unknown fields refused,
	// and this checks there is nothing but the one object either.
	if s := string(got.Plain); strings.Count(s, ":") != 3 || !strings.HasPrefix(s, "{") || !strings.HasSuffix(s, "}") {
		t.Errorf("plaintext %q holds more than the documented fields", s)
	}
	if got.Topic != "softland-"+kind {
		t.Errorf("Topic %q", got.Topic)
	}
	wantUrgency := "normal"
	if kind == protocol.PushPause {
		wantUrgency = "high"
	}
	if got.Urgency != wantUrgency {
		t.Errorf("Urgency %q, want %q", got.Urgency, wantUrgency)
	}
	if got.TTL != "900" {
		t.Errorf("TTL %q, want 900 (DefaultTTL)", got.TTL)
	}
	if got.Subject != "mailto:care@softland.example" {
		t.Errorf("VAPID subject %q", got.Subject)
	}
}

// TestPauseToAwaySeatIsPushedOnce: a pause while the partner is away is
// pushed to the partner exactly once, with Urgency high, and the pauser's
// own phone is not pushed.
func TestPauseToAwaySeatIsPushedOnce(t *testing.T) {
	svc := pushtest.Start(t)
	in := newInstance(t, newMemStore(t), svc, mustKeys(t), io.Discard, nil)
	in.run(t)
	ctx := context.Background()
	a, b := pair(t, in, in)
	subA, subB := svc.Subscribe(), svc.Subscribe()
	subscribe(t, in, a, subA, allKinds)
	subscribe(t, in, b, subB, allKinds)
	away(t, in, b)

	off, err := in.rooms.Pause(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	checkPush(t, svc.Next(), subB, protocol.PushPause, off)
	if o := in.next(t); o != (outcome{protocol.PushPause, push.OutcomeSent}) {
		t.Fatalf("outcome %v", o)
	}
	// The pause was one job, now done. With one worker, the next push is
	// the next event's: were the pause pushed again, it would come first.
	off, err = in.rooms.Announce(ctx, a, base64.RawURLEncoding.EncodeToString(make([]byte, 40)))
	if err != nil {
		t.Fatal(err)
	}
	checkPush(t, svc.Next(), subB, protocol.PushSpace, off)
}

// TestKindSwitchedOff: a phone that switched a kind off is not pushed it.
func TestKindSwitchedOff(t *testing.T) {
	svc := pushtest.Start(t)
	in := newInstance(t, newMemStore(t), svc, mustKeys(t), io.Discard, nil)
	in.run(t)
	ctx := context.Background()
	a, b := pair(t, in, in)
	subB := svc.Subscribe()
	subscribe(t, in, b, subB, protocol.PushKinds{Pause: true})
	away(t, in, b)
	if _, err := in.rooms.Announce(ctx, a, base64.RawURLEncoding.EncodeToString(make([]byte, 40))); err != nil {
		t.Fatal(err)
	}
	off, err := in.rooms.Pause(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	// One worker, in order: the notice was never queued, so the first push
	// is the pause.
	checkPush(t, svc.Next(), subB, protocol.PushPause, off)
}

// TestOnlineSeatThatConfirmedGetsNone: a phone online that has confirmed
// the event (seen) is not pushed.
func TestOnlineSeatThatConfirmedGetsNone(t *testing.T) {
	svc := pushtest.Start(t)
	in := newInstance(t, newMemStore(t), svc, mustKeys(t), io.Discard, nil)
	ctx := context.Background()
	a, b := pair(t, in, in)
	subscribe(t, in, b, svc.Subscribe(), allKinds)
	off, err := in.rooms.Pause(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	// The phone confirms before the sender looks (it is not running yet).
	if _, err := in.rooms.Seen(ctx, b, off); err != nil {
		t.Fatal(err)
	}
	in.run(t)
	if o := in.next(t); o != (outcome{protocol.PushPause, push.OutcomeConfirmed}) {
		t.Fatalf("outcome %v, want confirmed", o)
	}
	if n := svc.Pending(); n != 0 {
		t.Fatalf("%d pushes reached the push service", n)
	}
}

// TestOnlineSeatThatDidNotConfirmIsPushed: a socket that looks online but
// does not confirm within the grace (a phone locked a moment ago) is pushed.
func TestOnlineSeatThatDidNotConfirmIsPushed(t *testing.T) {
	svc := pushtest.Start(t)
	in := newInstance(t, newMemStore(t), svc, mustKeys(t), io.Discard, nil)
	in.run(t)
	a, b := pair(t, in, in)
	subB := svc.Subscribe()
	subscribe(t, in, b, subB, allKinds)
	off, err := in.rooms.Pause(context.Background(), a)
	if err != nil {
		t.Fatal(err)
	}
	checkPush(t, svc.Next(), subB, protocol.PushPause, off)
}

// TestGoneDeletesSubscription: a 410 from the push service makes the
// server forget the subscription, so it is never pushed again.
func TestGoneDeletesSubscription(t *testing.T) {
	for _, status := range []int{http.StatusGone, http.StatusNotFound} {
		t.Run(http.StatusText(status), func(t *testing.T) {
			svc := pushtest.Start(t)
			svc.Answer(func(int) int { return status })
			in := newInstance(t, newMemStore(t), svc, mustKeys(t), io.Discard, nil)
			in.run(t)
			ctx := context.Background()
			a, b := pair(t, in, in)
			subscribe(t, in, b, svc.Subscribe(), allKinds)
			away(t, in, b)
			if _, err := in.rooms.Pause(ctx, a); err != nil {
				t.Fatal(err)
			}
			if m := svc.Next(); m.Err != nil {
				t.Fatal(m.Err)
			}
			if o := in.next(t); o != (outcome{protocol.PushPause, push.OutcomeGone}) {
				t.Fatalf("outcome %v", o)
			}
			st, err := in.rooms.Load(ctx, a.Room)
			if err != nil {
				t.Fatal(err)
			}
			if st.Seats[1].Push != nil {
				t.Fatal("the subscription is still stored")
			}
		})
	}
}

// TestRetryIsBounded: 429 and 5xx are retried, and given up after
// Attempts tries; a success after a 429 ends the retries.
func TestRetryIsBounded(t *testing.T) {
	svc := pushtest.Start(t)
	in := newInstance(t, newMemStore(t), svc, mustKeys(t), io.Discard, func(c *push.Config) { c.Attempts = 3 })
	in.run(t)
	ctx := context.Background()
	a, b := pair(t, in, in)
	subscribe(t, in, b, svc.Subscribe(), allKinds)
	away(t, in, b)

	svc.Answer(func(n int) int {
		return []int{http.StatusTooManyRequests, http.StatusServiceUnavailable, http.StatusInternalServerError, http.StatusCreated}[min(n, 4)-1]
	})
	if _, err := in.rooms.Pause(ctx, a); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{push.OutcomeRetried, push.OutcomeRetried, push.OutcomeFailed} {
		if o := in.next(t); o != (outcome{protocol.PushPause, want}) {
			t.Fatalf("outcome %v, want %s", o, want)
		}
	}
	for range 3 {
		svc.Next()
	}

	svc.Answer(func(n int) int {
		if n == 1 {
			return http.StatusTooManyRequests
		}
		return http.StatusCreated
	})
	if _, err := in.rooms.Unpause(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := in.rooms.Pause(ctx, a); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{push.OutcomeRetried, push.OutcomeSent} {
		if o := in.next(t); o != (outcome{protocol.PushPause, want}) {
			t.Fatalf("outcome %v, want %s", o, want)
		}
	}
	svc.Next()
	svc.Next()
}

// TestDisallowedEndpointRefused: a subscription whose endpoint is not a
// listed push service is refused with push_endpoint, and stored nowhere.
func TestDisallowedEndpointRefused(t *testing.T) {
	svc := pushtest.Start(t)
	in := newInstance(t, newMemStore(t), svc, mustKeys(t), io.Discard, nil)
	ctx := context.Background()
	_, b := pair(t, in, in)
	sub := svc.Subscribe()
	for _, endpoint := range []string{
		"https://internal.example/admin",
		"https://fcm.googleapis.com.evil.example/x",
		"http://" + svc.Host() + "/push/x",
		"https://user@" + svc.Host() + "/push/x",
	} {
		_, err := in.rooms.SubscribePush(ctx, b, room.PushSub{Endpoint: endpoint, P256dh: sub.P256dh, Auth: sub.Auth, Kinds: allKinds})
		if room.Code(err) != protocol.CodePushEndpoint {
			t.Errorf("%s: error %v, want %s", endpoint, err, protocol.CodePushEndpoint)
		}
		if err != nil && strings.Contains(err.Error(), endpoint) {
			t.Errorf("the error quotes the endpoint: %v", err)
		}
	}
	st, err := in.rooms.Load(ctx, b.Room)
	if err != nil {
		t.Fatal(err)
	}
	if st.Seats[1].Push != nil {
		t.Fatal("a refused subscription was stored")
	}
}

// TestDefaultServices: the default allowlist takes the real push services'
// endpoints and nothing else.
func TestDefaultServices(t *testing.T) {
	s, err := push.New(push.Config{Keys: mustKeys(t)})
	if err != nil {
		t.Fatal(err)
	}
	for endpoint, want := range map[string]bool{
		"https://fcm.googleapis.com/fcm/send/abc":              true,
		"https://updates.push.services.mozilla.com/wpush/v2/x": true,
		"https://web.push.apple.com/QGx":                       true,
		"https://wns2-by3p.notify.windows.com/w/?token=x":      true,
		"https://push.apple.com/x":                             false,
		"https://fcm.googleapis.com:8443/x":                    false,
		"https://evilfcm.googleapis.com/x":                     false,
		"https://127.0.0.1/x":                                  false,
		"http://fcm.googleapis.com/x":                          false,
	} {
		if got := s.Allowed(endpoint); got != want {
			t.Errorf("Allowed(%s) = %v", endpoint, got)
		}
	}
}

// TestEraseDeletesSubscription: an erased room's subscription is gone, and
// a push queued before the erase is not sent.
func TestEraseDeletesSubscription(t *testing.T) {
	svc := pushtest.Start(t)
	store := newMemStore(t)
	in := newInstance(t, store, svc, mustKeys(t), io.Discard, nil)
	ctx := context.Background()
	a, b := pair(t, in, in)
	subscribe(t, in, b, svc.Subscribe(), allKinds)
	away(t, in, b)
	if _, err := in.rooms.Pause(ctx, a); err != nil {
		t.Fatal(err)
	}
	if err := in.rooms.Erase(ctx, a); err != nil {
		t.Fatal(err)
	}
	if _, err := store.Load(ctx, a.Room); room.Code(err) != protocol.CodeNotFound {
		t.Fatalf("load after erase: %v", err)
	}
	in.run(t)
	// The queued pause finds no room and sends nothing. A fresh room's
	// push shows the queue was worked past it.
	c, d := pair(t, in, in)
	subD := svc.Subscribe()
	subscribe(t, in, d, subD, allKinds)
	away(t, in, d)
	off, err := in.rooms.Pause(ctx, c)
	if err != nil {
		t.Fatal(err)
	}
	checkPush(t, svc.Next(), subD, protocol.PushPause, off)
}

// TestNoSubscriptionInLogsOrMetrics: whatever the push service answers, the
// logs and /metrics never carry an endpoint or a key.
func TestNoSubscriptionInLogsOrMetrics(t *testing.T) {
	svc := pushtest.Start(t)
	var logs lockedBuffer
	in := newInstance(t, newMemStore(t), svc, mustKeys(t), &logs, func(c *push.Config) { c.Attempts = 2 })
	in.run(t)
	ctx := context.Background()
	a, b := pair(t, in, in)
	sub := svc.Subscribe()
	subscribe(t, in, b, sub, allKinds)
	away(t, in, b)
	statuses := []int{http.StatusServiceUnavailable, http.StatusBadRequest, http.StatusCreated, http.StatusGone}
	svc.Answer(func(n int) int { return statuses[min(n, len(statuses))-1] })
	for range 3 { // pause: 503, 400; unpause; pause: 201; pause again: 410
		if _, err := in.rooms.Pause(ctx, a); err != nil {
			t.Fatal(err)
		}
		if _, err := in.rooms.Unpause(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	for range 4 {
		svc.Next()
	}
	for o := in.next(t); o.outcome != push.OutcomeGone; o = in.next(t) {
	}
	rec := httptest.NewRecorder()
	in.m.Handler().ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if !strings.Contains(rec.Body.String(), `softland_pushes_total{kind="pause",outcome="gone"} 1`) {
		t.Errorf("metrics lack the gone push:\n%s", rec.Body.String())
	}
	if !strings.Contains(logs.String(), "push") {
		t.Fatal("nothing was logged; the check would prove nothing")
	}
	secrets := []string{sub.Endpoint, strings.TrimPrefix(sub.Endpoint, "https://"), sub.P256dh, sub.Auth}
	for _, where := range []struct{ name, text string }{{"logs", logs.String()}, {"metrics", rec.Body.String()}} {
		for _, s := range secrets {
			if strings.Contains(where.text, s) {
				t.Errorf("%s carry a subscription value", where.name)
			}
		}
		if strings.Contains(where.text, "/push/") {
			t.Errorf("%s carry an endpoint path", where.name)
		}
	}
}

// TestWelcomeOffersKeyAndSubscription: a welcome carries the VAPID public
// key, and once the seat subscribed, the kinds the server holds for it.
func TestWelcomeOffersKeyAndSubscription(t *testing.T) {
	svc := pushtest.Start(t)
	keys := mustKeys(t)
	in := newInstance(t, newMemStore(t), svc, keys, io.Discard, nil)
	ctx := context.Background()
	sum := sha256.Sum256(make([]byte, 32))
	c, err := in.rooms.Create(ctx, base64.RawURLEncoding.EncodeToString(sum[:]))
	if err != nil {
		t.Fatal(err)
	}
	w := c.Welcome
	if w.Push == nil || w.Push.Key != keys.Public() || w.Push.Kinds != nil {
		t.Fatalf("create's welcome push = %+v, want the key and no kinds", w.Push)
	}
	kinds := protocol.PushKinds{Pause: true, Debrief: true}
	subscribe(t, in, c.Member, svc.Subscribe(), kinds)
	r, err := in.rooms.Resume(ctx, c.Member.Room, w.Device, w.Epoch, w.Offset)
	if err != nil {
		t.Fatal(err)
	}
	if p := r.Welcome.Push; p == nil || p.Key != keys.Public() || p.Kinds == nil || *p.Kinds != kinds {
		t.Fatalf("resume's welcome push = %+v, want the key and %+v", p, kinds)
	}
	if _, err := in.rooms.UnsubscribePush(ctx, r.Member); err != nil {
		t.Fatal(err)
	}
	r, err = in.rooms.Resume(ctx, c.Member.Room, w.Device, w.Epoch, w.Offset)
	if err != nil {
		t.Fatal(err)
	}
	if p := r.Welcome.Push; p == nil || p.Kinds != nil {
		t.Fatalf("after unsubscribing, welcome push = %+v, want no kinds", p)
	}
}

// TestSubscribeOverTheWire: push.subscribe through a real socket is
// refused with push_disabled by a server without Web Push, and with
// push_endpoint for an endpoint off the list, in words that do not quote
// it.
func TestSubscribeOverTheWire(t *testing.T) {
	svc := pushtest.Start(t)
	sub := svc.Subscribe()
	keys := protocol.PushKeys{P256dh: sub.P256dh, Auth: sub.Auth}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	code := func(err error) string {
		var ce *client.Error
		if !errors.As(err, &ce) {
			t.Fatalf("error %v is not a refusal", err)
		}
		return ce.Code
	}

	off := servertest.Start(t)
	a, _, err := client.Create(ctx, off.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if err := a.SubscribePush(ctx, sub.Endpoint, keys, allKinds); code(err) != protocol.CodePushDisabled {
		t.Fatalf("without Web Push: %v", err)
	}

	in := newInstance(t, newMemStore(t), svc, mustKeys(t), io.Discard, nil)
	on := servertest.Start(t, servertest.Options{Room: room.Options{Push: in.sender}})
	b, _, err := client.Create(ctx, on.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	bad := "https://push.internal.example/" + sub.Auth
	err = b.SubscribePush(ctx, bad, keys, allKinds)
	if code(err) != protocol.CodePushEndpoint || strings.Contains(err.Error(), sub.Auth) {
		t.Fatalf("endpoint off the list: %v", err)
	}
	if err := b.SubscribePush(ctx, sub.Endpoint, keys, allKinds); err != nil {
		t.Fatal(err)
	}
	if err := b.UnsubscribePush(ctx); err != nil {
		t.Fatal(err)
	}
}
