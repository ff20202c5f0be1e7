// Package privacytest is the privacy canary: it runs a whole session through
// a real server with a unique canary in every field a phone can fill, then
// searches everything the server side produced — every log line, the metrics
// page, every error frame, and (for stores that can show it) everything the
// store holds — for any canary, any key or token a phone holds, and any
// catalog word. The memory and the Redis store run the same canary.
package privacytest

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"

	"softland/client"
	"softland/client/keys"
	"softland/client/rules"
	"softland/server/metrics"
	"softland/server/protocol"
	"softland/server/push"
	"softland/server/push/pushtest"
	"softland/server/servertest"
	"softland/server/servertest/phonetest"
	"softland/static"
)

// Setup says how to start the server under test. Dump, when set, returns
// everything the store holds (keys and values) once the session is over;
// without it the room's state and log as the store returns them are searched.
type Setup struct {
	Options servertest.Options
	Dump    func(t *testing.T, room string) string
}

// Canaries are the unique strings a phone puts in every field it can fill.
const canary = "CANARYq7Zk"

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

// Run runs the canary session and the search.
func Run(t *testing.T, setup Setup) {
	logs := &lockedBuffer{}
	opts := setup.Options
	opts.Edge.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// Web Push, to a local push service: the subscription is data a phone
	// fills too, and the sender logs and counts.
	pushSvc := pushtest.Start(t)
	if opts.Edge.Metrics == nil {
		opts.Edge.Metrics = metrics.New()
	}
	sender, err := push.New(push.Config{
		Keys:     mustKeys(t),
		Contact:  "mailto:care@softland.example",
		Services: []string{pushSvc.Host()},
		Client:   pushSvc.Client(),
		Grace:    50 * time.Millisecond,
		Backoff:  time.Millisecond,
		Attempts: 2,
		Logger:   opts.Edge.Logger,
		Metrics:  opts.Edge.Metrics,
	})
	must(t, err)
	opts.Room.Push = sender
	srv := servertest.Start(t, opts)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	pushCtx, stopPush := context.WithCancel(ctx)
	pushDone := make(chan struct{})
	go func() {
		defer close(pushDone)
		sender.Run(pushCtx, srv.Rooms)
	}()
	defer func() { stopPush(); <-pushDone }()

	a, link, err := client.Create(ctx, srv.URL)
	must(t, err)
	defer a.Close()
	b, err := client.Join(ctx, srv.URL, link)
	must(t, err)
	defer b.Close()
	secrets := []string{keys.Encoding.EncodeToString(link.Secret), a.State().Device, b.State().Device}
	k, err := keys.Derive(link.Secret)
	must(t, err)
	secrets = append(secrets, k.JoinKey(), k.JoinKeyHash())

	// Sam's phone lets the server wake it. The subscription is stored with
	// the room by design, so the store is not searched for it; everything
	// else is.
	sub := pushSvc.SubscribeAs(canary + "-endpoint")
	must(t, b.SubscribePush(ctx, sub.Endpoint, protocol.PushKeys{P256dh: sub.P256dh, Auth: sub.Auth},
		protocol.PushKinds{Pause: true, Checkin: true, Debrief: true, Space: true}))
	subSecrets := []string{sub.P256dh, sub.Auth}

	// Sealed fields carry canaries in their plaintext.
	must(t, a.Settings(ctx, client.SharedSettings{PauseWord: canary + "-pauseword", Signals: []string{canary + "-signal"}}))
	must(t, b.Announce(ctx, client.Announcement{Kind: "space", Minutes: 20, Until: time.Now().Add(20 * time.Minute).UnixMilli()}))
	round, err := a.OpenRound(ctx)
	must(t, err)
	waitRound(t, b, round)
	cat, err := rules.Default()
	must(t, err)
	needs := []string{"water", "be-held", "soft-music"}
	must(t, a.SubmitNeeds(ctx, round, needs, rules.Plan{}))
	must(t, b.SubmitNeeds(ctx, round, []string{"water", "hold-partner", "blanket"}, rules.Plan{}))
	// A token is 16 bytes inside a longer base64url text (a submission, a
	// reveal), so it is looked for in each of the forms it can take there.
	for _, id := range rules.ConcreteIDs(cat) {
		secrets = append(secrets, phonetest.TextForms(k.Token(round, id))...)
	}
	must(t, a.Pause(ctx))
	must(t, a.Unpause(ctx))
	must(t, a.Debrief(ctx, round, canary+"-helped-a", canary+"-next-a"))
	must(t, b.Debrief(ctx, round, canary+"-helped-b", canary+"-next-b"))

	// Alex moves to another device: one move link revoked, one taken. The
	// codes are secrets like the others, and so is the new device token.
	cancelled, _, err := a.MoveLink(ctx, "")
	must(t, err)
	must(t, a.CancelMove(ctx))
	moveLink, _, err := a.MoveLink(ctx, "")
	must(t, err)
	a2, err := client.Move(ctx, srv.URL, moveLink)
	must(t, err)
	defer a2.Close()
	<-a.Done()
	a = a2
	secrets = append(secrets, cancelled.Code, moveLink.Code, a2.State().Device)

	// Bad frames with canaries where a phone could put them: ids, types,
	// unknown fields, epochs. Their error frames come back to the sender only
	// and must not echo them either.
	errorFrames := sendBadFrames(t, srv.WSURL(), a.Room())
	errorFrames += sendBadPush(t, b, sub)
	must(t, a.CloseRound(ctx, round))

	// Sam's phone goes to sleep; Alex pauses. The push service answers 503,
	// then 410, so the sender logs a retry and forgets the subscription.
	pushSvc.Answer(func(n int) int {
		if n%2 == 1 {
			return http.StatusServiceUnavailable
		}
		return http.StatusGone
	})
	must(t, b.Close())
	must(t, a.Pause(ctx))
	for m := pushSvc.Next(); m.Status != http.StatusGone; m = pushSvc.Next() {
	}

	// Sam's phone is lost: Alex replaces it. One re-pair link revoked, one
	// taken; the new secret, its join key, the codes and the new device
	// token are secrets like the others, and the settings Alex re-seals
	// under the new key carry a canary.
	cancelledR, _, err := a.ReplaceLink(ctx, "")
	must(t, err)
	must(t, a.CancelReplace(ctx))
	repair, _, err := a.ReplaceLink(ctx, "")
	must(t, err)
	b2, err := client.Replace(ctx, srv.URL, repair)
	must(t, err)
	defer b2.Close()
	waitKind(t, a, protocol.KindReplaced)
	k2, err := keys.Derive(repair.Secret)
	must(t, err)
	must(t, a.Settings(ctx, client.SharedSettings{PauseWord: canary + "-rekeyed", Signals: []string{canary + "-signal-2"}}))
	secrets = append(secrets, cancelledR.Code, repair.Code, keys.Encoding.EncodeToString(repair.Secret), k2.JoinKey(), b2.State().Device)

	metricsPage := get(t, srv.URL+"/metrics")
	var store string
	if setup.Dump != nil {
		store = setup.Dump(t, a.Room())
	} else {
		st, err := srv.Store.Load(ctx, a.Room())
		must(t, err)
		evs, _, err := srv.Store.Since(ctx, a.Room(), st.Epoch, 0)
		must(t, err)
		dump, _ := json.Marshal([]any{st, evs})
		store = string(dump)
	}
	must(t, a.Erase(ctx))
	// Let the server finish writing its logs about the erase, and the
	// sender its logs about the push.
	srv.Close()
	stopPush()
	<-pushDone
	// That the erase removes the subscription from the store is checked
	// where the store can be read whole afterwards: server/push's
	// TestTwoInstancesPushOnce (Redis) and TestEraseDeletesSubscription.

	places := map[string]string{"logs": logs.String(), "metrics": metricsPage, "error frames": errorFrames, "store": store}
	for _, place := range []string{"logs", "metrics", "error frames"} {
		for _, s := range subSecrets {
			if strings.Contains(places[place], s) {
				t.Errorf("%s contain a push subscription key: %s", place, around(places[place], s))
			}
		}
	}
	// The store holds the subscription by design (only under the room's
	// keys: see the Redis store's audit); the canary search below must not
	// count it.
	store = strings.ReplaceAll(store, sub.Endpoint, "")
	places["store"] = store
	if !strings.Contains(logs.String(), "push") {
		t.Errorf("the logs hold no push line; were pushes sent?")
	}
	for place, text := range places {
		if strings.Contains(text, canary) {
			t.Errorf("%s contain a canary: %s", place, around(text, canary))
		}
		for _, s := range secrets {
			if strings.Contains(text, s) {
				t.Errorf("%s contain a key or token a phone holds: %s", place, around(text, s))
			}
		}
		for _, w := range catalogWords(t, cat) {
			if w.MatchString(text) {
				t.Errorf("%s contain the catalog word %s: %s", place, w, around(text, w.FindString(text)))
			}
		}
	}
	if !strings.Contains(logs.String(), `"room":"`) {
		t.Errorf("the logs hold no room line at all; is the logger wired?")
	}
}

// sendBadPush sends subscriptions a server must refuse, with canaries
// where a phone could put them, and returns the errors.
func sendBadPush(t *testing.T, c *client.Client, sub *pushtest.Sub) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	kinds := protocol.PushKinds{Pause: true}
	var out strings.Builder
	for _, bad := range []struct {
		endpoint string
		keys     protocol.PushKeys
	}{
		{"https://" + canary + ".example/push/x", protocol.PushKeys{P256dh: sub.P256dh, Auth: sub.Auth}},
		{"http://" + canary + ".example/push/x", protocol.PushKeys{P256dh: sub.P256dh, Auth: sub.Auth}},
		{sub.Endpoint, protocol.PushKeys{P256dh: canary, Auth: sub.Auth}},
		{sub.Endpoint, protocol.PushKeys{P256dh: sub.P256dh, Auth: canary}},
	} {
		err := c.SubscribePush(ctx, bad.endpoint, bad.keys, kinds)
		if err == nil {
			t.Errorf("a bad subscription was taken")
			continue
		}
		out.WriteString(err.Error() + "\n")
	}
	return out.String()
}

func mustKeys(t *testing.T) *push.Keys {
	k, err := push.NewKeys()
	must(t, err)
	return k
}

func waitKind(t *testing.T, c *client.Client, kind string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e := <-c.Events():
			if e.Kind == kind {
				return
			}
		case <-timeout:
			t.Fatalf("%s did not arrive", kind)
		}
	}
}

func waitRound(t *testing.T, c *client.Client, round string) {
	t.Helper()
	timeout := time.After(30 * time.Second)
	for {
		select {
		case e := <-c.Events():
			if e.Kind == protocol.KindRoundOpened && e.Round == round {
				return
			}
		case <-timeout:
			t.Fatal("round.opened did not arrive")
		}
	}
}

func sendBadFrames(t *testing.T, wsURL, room string) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, wsURL, nil)
	must(t, err)
	defer ws.CloseNow()
	frames := []string{
		`{"v":2,"type":"` + canary + `","id":"` + canary + `"}`,
		`{"v":2,"type":"ping","id":"x","` + canary + `":1}`,
		`{"v":2,"type":"resume","room":"` + room + `","device":"` + canary + `","epoch":"` + canary + `","offset":1}`,
		`{"v":2,"type":"resume","room":"` + room + `","device":"` + strings.Repeat("A", 43) + `","epoch":"` + canary + `","offset":1}`,
		`{"v":2,"type":"announce","blob":"` + canary + `"}`,
	}
	var out strings.Builder
	for _, f := range frames {
		must(t, ws.Write(ctx, websocket.MessageText, []byte(f)))
		_, b, err := ws.Read(ctx)
		if err != nil {
			break // the failed resume closes the socket, after its error frame
		}
		// The id is echoed to the phone that chose it, by design; what must
		// not carry anything the phone sent is the error itself.
		var e protocol.Error
		if json.Unmarshal(b, &e) != nil || e.Type != protocol.TypeError {
			t.Errorf("bad frame not refused: %s", b)
		}
		out.WriteString(e.Code + " " + e.Message + "\n")
	}
	return out.String()
}

// catalogWords are the catalog's ids and texts, as whole-word patterns.
func catalogWords(t *testing.T, cat *rules.Catalog) []*regexp.Regexp {
	var raw struct {
		Needs []struct {
			ID    string            `json:"id"`
			Label map[string]string `json:"label"`
		} `json:"needs"`
		Suggestions []struct {
			ID   string            `json:"id"`
			Text map[string]string `json:"text"`
		} `json:"suggestions"`
	}
	must(t, json.Unmarshal(static.Catalog, &raw))
	var words []string
	for _, n := range raw.Needs {
		words = append(words, n.ID)
		for _, l := range n.Label {
			words = append(words, l)
		}
	}
	for _, s := range raw.Suggestions {
		words = append(words, s.ID)
		for _, l := range s.Text {
			words = append(words, l)
		}
	}
	words = append(words, rules.ConcreteIDs(cat)...)
	var out []*regexp.Regexp
	for _, w := range words {
		out = append(out, regexp.MustCompile(`(^|[^A-Za-z0-9_-])`+regexp.QuoteMeta(w)+`($|[^A-Za-z0-9_-])`))
	}
	return out
}

func get(t *testing.T, url string) string {
	resp, err := http.Get(url)
	must(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	must(t, err)
	return string(b)
}

func around(text, s string) string {
	i := strings.Index(text, s)
	if i < 0 {
		return ""
	}
	lo, hi := max(0, i-60), min(len(text), i+len(s)+60)
	return text[lo:hi]
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
