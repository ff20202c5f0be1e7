package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/serviceworker"
	"github.com/chromedp/chromedp"

	"softland/server/protocol"
	"softland/server/push"
	"softland/server/push/pushtest"
	"softland/server/room"
	"softland/server/servertest"
)

// stubPushManager makes the page's PushManager hand out sub, a subscription
// the test's stand-in push service owns: headless Chromium cannot reach a
// real push service. It keeps the options it was asked with, as a browser
// does, so the app can see which server key the subscription belongs to.
func stubPushManager(t *testing.T, p *phone, sub *pushtest.Sub) {
	t.Helper()
	js := fmt.Sprintf(`(() => {
  const keys = { p256dh: %q, auth: %q };
  const endpoint = %q;
  let current = null;
  PushManager.prototype.subscribe = function (o) {
    const k = new Uint8Array(o.applicationServerKey);
    window.__softlandSubscribes = (window.__softlandSubscribes || 0) + 1;
    current = {
      endpoint,
      expirationTime: null,
      options: { userVisibleOnly: o.userVisibleOnly, applicationServerKey: k.buffer.slice(k.byteOffset, k.byteOffset + k.byteLength) },
      toJSON() { return { endpoint, expirationTime: null, keys }; },
      unsubscribe() { current = null; return Promise.resolve(true); },
    };
    return Promise.resolve(current);
  };
  PushManager.prototype.getSubscription = function () { return Promise.resolve(current); };
})();`, sub.P256dh, sub.Auth, sub.Endpoint)
	ctx, cancel := context.WithTimeout(p.ctx, wait)
	defer cancel()
	if _, err := chromedp.Call(ctx, page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: js}); err != nil {
		t.Fatal(err)
	}
}

// allowNotifications grants the notification permission to origin on p's
// browser context, as the person tapping "Allow" would.
func allowNotifications(t *testing.T, p *phone, origin string) {
	t.Helper()
	if _, err := chromedp.CallBrowser(p.ctx, browser.SetPermission, browser.SetPermissionParams{
		Permission:       &browser.PermissionDescriptor{Name: string(browser.PermissionTypeNotifications)},
		Setting:          browser.PermissionSettingGranted,
		Origin:           origin,
		BrowserContextID: chromedp.FromContext(p.ctx).BrowserContextID,
	}); err != nil {
		t.Fatal(err)
	}
}

// workers follows a phone's service worker registrations and versions
// through CDP, so a test can find the registration to push to and wait
// until every worker has really stopped, as on a sleeping phone.
type workers struct {
	t       *testing.T
	p       *phone
	mu      sync.Mutex
	regs    map[string]serviceworker.RegistrationID // scope → id
	running map[string]serviceworker.VersionRunningStatus
}

func watchWorkers(t *testing.T, p *phone) *workers {
	t.Helper()
	w := &workers{t: t, p: p, regs: map[string]serviceworker.RegistrationID{}, running: map[string]serviceworker.VersionRunningStatus{}}
	regs := chromedp.Events(p.ctx, serviceworker.WorkerRegistrationUpdated)
	versions := chromedp.Events(p.ctx, serviceworker.WorkerVersionUpdated)
	go func() {
		for ev, err := range regs {
			if err != nil {
				return
			}
			w.mu.Lock()
			for _, r := range ev.Registrations {
				if !r.IsDeleted {
					w.regs[r.ScopeURL] = r.RegistrationID
				}
			}
			w.mu.Unlock()
		}
	}()
	go func() {
		for ev, err := range versions {
			if err != nil {
				return
			}
			w.mu.Lock()
			for _, v := range ev.Versions {
				w.running[v.VersionID] = v.RunningStatus
			}
			w.mu.Unlock()
		}
	}()
	if _, err := chromedp.Call(p.ctx, serviceworker.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	return w
}

// waitFor polls ok under the lock until it holds, failing the test after the bounded wait.
func (w *workers) waitFor(what string, ok func() bool) {
	w.t.Helper()
	for deadline := time.Now().Add(wait); ; time.Sleep(50 * time.Millisecond) {
		w.mu.Lock()
		done := ok()
		w.mu.Unlock()
		if done {
			return
		}
		if time.Now().After(deadline) {
			w.t.Fatalf("%s: no %s was reported", w.p.name, what)
		}
	}
}

// registration waits for the registration whose scope is scope.
func (w *workers) registration(scope string) serviceworker.RegistrationID {
	w.t.Helper()
	w.waitFor("service worker registration", func() bool { return w.regs[scope] != "" })
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.regs[scope]
}

// sleep stops every worker and waits until each one says it stopped, so a
// push delivered next starts one afresh rather than meeting one on its way out.
func (w *workers) sleep() {
	w.t.Helper()
	if _, err := chromedp.Call(w.p.ctx, serviceworker.StopAllWorkers, cdp.Empty{}); err != nil {
		w.t.Fatal(err)
	}
	w.waitFor("stopped worker", func() bool {
		for _, s := range w.running {
			if s != serviceworker.VersionRunningStatusStopped {
				return false
			}
		}
		return len(w.running) > 0
	})
}

// awaitJS evaluates a promise-valued expression once and returns its value.
func awaitJS[T any](p *phone, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, wait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		p.t.Fatalf("%s: evaluate %s: %v", p.name, expr, err)
	}
	return v
}

// TestPushOptIn: Sam turns waking on right after pairing (the permission
// granted, PushManager answered by the test's stand-in push service), and
// the server holds the subscription with every kind; on the plan Sam
// switches the space notice off, chooses the detailed notification and
// Spanish. With Sam's page frozen, as a locked phone's is, Alex's pause is
// pushed to the stand-in; the decrypted message, delivered to Sam's stopped
// service worker, shows "Alex ha pausado", and Sam's page shows the pause.
// Turning waking off makes the server forget the subscription; turned on
// again, an erase takes the browser's subscription, the worker's wording and
// the choice off the phone.
func TestPushOptIn(t *testing.T) {
	svc := pushtest.Start(t)
	keys, err := push.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	sender, err := push.New(push.Config{Keys: keys, Services: []string{svc.Host()}, Client: svc.Client(), Grace: 200 * time.Millisecond, Backoff: 10 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	srv := servertest.Start(t, servertest.Options{Room: room.Options{Push: sender}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		sender.Run(ctx, srv.Rooms)
	}()
	t.Cleanup(func() { cancel(); <-done })

	b := startBrowser(t)
	alex := newPhone(t, b, "alex")
	sam := newPhone(t, b, "sam")
	sub := svc.Subscribe()
	stubPushManager(t, sam, sub)
	allowNotifications(t, sam, srv.URL)
	sw := watchWorkers(t, sam)

	pair(alex, sam, srv.URL)
	sam.typeInto("#name-me", "Sam")
	sam.typeInto("#name-partner", "Alex")

	// The calm offer, right after pairing.
	sam.state("#push-pair", "offer")
	if got := eval[string](sam, `document.querySelector('#push-pair h2').textContent`); got != "Let Softland wake this phone for a pause" {
		t.Errorf("the offer reads %q", got)
	}
	eval[bool](sam, `(document.querySelector('#push-pair').scrollIntoView({ block: 'end' }), true)`)
	sam.shot("23-push-offer")
	sam.tap(`#push-pair [data-push="on"]`)
	sam.state("#push-pair", "on")
	until[bool](sam, "the subscription acknowledged", `document.querySelector('#push-pair [data-push="status"]').textContent === 'Saved on this phone.'`)
	if n := eval[int](sam, `window.__softlandSubscribes`); n != 1 {
		t.Errorf("PushManager.subscribe was called %d times, want 1", n)
	}
	roomID := eval[string](sam, `JSON.parse(localStorage.getItem('softland.room')).room`)
	held := func() *room.PushSub {
		t.Helper()
		st, err := srv.Rooms.Load(context.Background(), roomID)
		if err != nil {
			t.Fatal(err)
		}
		return st.Seats[1].Push
	}
	if got := held(); got == nil || got.Endpoint != sub.Endpoint || got.P256dh != sub.P256dh || got.Auth != sub.Auth || got.Kinds != (protocol.PushKinds{Pause: true, Checkin: true, Debrief: true, Space: true}) {
		t.Fatalf("the server holds %+v for sam's seat, want %s with every kind", got, sub.Endpoint)
	}

	for _, p := range []*phone{alex, sam} {
		if p == alex {
			alex.typeInto("#name-me", "Alex")
			alex.typeInto("#name-partner", "Sam")
		}
		p.tap("#pair-continue")
		p.visible("#screen-checkin")
		p.state("#bar", "online")
	}

	// The plan: fewer kinds, the detailed words, in Spanish.
	sam.tap("#nav-plan")
	sam.state("#push-plan", "on")
	sam.tap("#push-plan > summary")
	sam.tap(`#push-plan input[data-kind="space"]`)
	for deadline := time.Now().Add(wait); ; time.Sleep(50 * time.Millisecond) {
		if got := held(); got != nil && got.Kinds == (protocol.PushKinds{Pause: true, Checkin: true, Debrief: true}) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the server holds %+v after the space notice was switched off", held())
		}
	}
	sam.tap(`#push-plan input[value="detailed"]`)
	sam.do("choose Spanish", chromedp.Evaluate[chromedp.Void](`(() => {
		const s = document.querySelector('#lang-plan');
		s.value = 'es';
		s.dispatchEvent(new Event('change', { bubbles: true }));
	})()`))
	stored := `new Promise((resolve) => {
		const o = indexedDB.open('softland', 1);
		o.onsuccess = () => {
			const g = o.result.transaction('kv').objectStore('kv').get('notify');
			g.onsuccess = () => { o.result.close(); resolve(JSON.stringify(g.result || null)); };
		};
	})`
	want := `{"level":"detailed","discreet":"Softland — ábrela cuando puedas","texts":{"pause":"Alex ha pausado","checkin":"Alex empezó un momento de conexión","debrief":"Los dos repasos están abiertos","space":"Un aviso de Alex sobre su espacio"}}`
	for deadline := time.Now().Add(wait); ; time.Sleep(50 * time.Millisecond) {
		got := awaitJS[string](sam, stored)
		if got == want {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the worker's wording is %s, want %s", got, want)
		}
	}
	eval[bool](sam, `(document.querySelector('#push-plan').scrollIntoView({ block: 'start' }), true)`)
	sam.shot("24-push-plan")

	// Asleep: with the page frozen Sam's phone confirms nothing, so the
	// server pushes Alex's pause to the stand-in.
	id := sw.registration(srv.URL + "/")
	sam.lifecycle(page.SetWebLifecycleStateStateFrozen)
	alex.tap("#pause-btn")
	alex.visible(`#pause[data-who="me"]`)
	msg := svc.Next()
	if msg.Sub != sub || msg.Err != nil || msg.Push.Kind != protocol.PushPause {
		t.Fatalf("the stand-in got %+v, want a pause for sam's subscription", msg)
	}
	// The message, decrypted, goes to Sam's worker, stopped first as on a
	// sleeping phone. The page is woken before: in headless Chromium a push
	// delivered while the worker's only page was frozen now and then showed
	// nothing at all (about 1 run in 15), which no phone was seen to do.
	sam.lifecycle(page.SetWebLifecycleStateStateActive)
	sw.sleep()
	if _, err := chromedp.Call(sam.ctx, serviceworker.DeliverPushMessage, serviceworker.DeliverPushMessageParams{
		Origin: srv.URL, RegistrationID: id, Data: string(msg.Plain),
	}); err != nil {
		t.Fatal(err)
	}
	data, _ := json.Marshal(map[string]any{"kind": "pause", "offset": msg.Push.Offset})
	wantNote := "Alex ha pausado " + string(data)
	var got string
	for deadline := time.Now().Add(wait); ; time.Sleep(50 * time.Millisecond) {
		got = awaitJS[string](sam, `navigator.serviceWorker.ready
			.then((r) => r.getNotifications())
			.then((ns) => ns.map((n) => n.title + ' ' + JSON.stringify(n.data)).join('\n'))`)
		if got == wantNote || time.Now().After(deadline) {
			break
		}
	}
	if got != wantNote {
		t.Fatalf("notifications:\n%s\nwant:\n%s", got, wantNote)
	}
	sam.visible(`#pause[data-who="partner"]`)
	until[bool](alex, "the pause confirmed", `document.querySelector('#pause').dataset.delivery === 'delivered'`)

	// Off: the server forgets the subscription, the worker its wording.
	alex.tap("#unpause-btn")
	alex.gone("#pause")
	sam.gone("#pause")
	// A page woken from frozen takes no synthetic touch in headless
	// Chromium (the tap times out), so this one is a click.
	eval[bool](sam, `(document.querySelector('#push-plan [data-push="off"]').click(), true)`)
	sam.state("#push-plan", "offer")
	for deadline := time.Now().Add(wait); held() != nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the server still holds sam's subscription after waking was turned off")
		}
	}
	for deadline := time.Now().Add(wait); ; time.Sleep(50 * time.Millisecond) {
		got := awaitJS[string](sam, stored)
		if got == "null" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after turning waking off the worker still keeps %s", got)
		}
	}

	// On again, then erased: the subscription, the wording and the choice go.
	sam.state("#push-plan", "offer")
	eval[bool](sam, `(document.querySelector('#push-plan [data-push="on"]').click(), true)`)
	sam.state("#push-plan", "on")
	for deadline := time.Now().Add(wait); held() == nil; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the server holds no subscription after waking was turned on again")
		}
	}
	alex.tap("#nav-plan")
	alex.visible("#screen-plan")
	alex.state("#push-plan", "offer") // drawn after its module loads, above Erase us
	// Clear of the navigation bar fixed at the bottom, which would take the tap.
	eval[bool](alex, `(document.querySelector('#erase-open').scrollIntoView({ block: 'center' }), true)`)
	alex.tap("#erase-open")
	until[bool](alex, "the erase screen", `!document.querySelector("#screen-erase").hidden`)
	alex.tap("#erase-confirm")
	sam.visible(`#screen-notice[data-kind="erased"]`)
	for deadline := time.Now().Add(wait); ; time.Sleep(50 * time.Millisecond) {
		left := awaitJS[string](sam, `navigator.serviceWorker.ready.then((r) => r.pushManager.getSubscription())
			.then(async (s) => JSON.stringify({ sub: !!s, notify: JSON.parse(await (`+stored+`)), push: localStorage.getItem('softland.push') }))`)
		if left == `{"sub":false,"notify":null,"push":null}` {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after the erase sam's phone still keeps %s", left)
		}
	}
}
