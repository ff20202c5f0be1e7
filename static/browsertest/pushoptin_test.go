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

// watchWorker starts watching p's service worker registrations and returns
// a function that waits for the one whose scope is scope.
func watchWorker(t *testing.T, p *phone) func(scope string) serviceworker.RegistrationID {
	t.Helper()
	var mu sync.Mutex
	regs := map[string]serviceworker.RegistrationID{}
	events := chromedp.Events(p.ctx, serviceworker.WorkerRegistrationUpdated)
	go func() {
		for ev, err := range events {
			if err != nil {
				return
			}
			mu.Lock()
			for _, r := range ev.Registrations {
				if !r.IsDeleted {
					regs[r.ScopeURL] = r.RegistrationID
				}
			}
			mu.Unlock()
		}
	}()
	if _, err := chromedp.Call(p.ctx, serviceworker.Enable, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	return func(scope string) serviceworker.RegistrationID {
		t.Helper()
		for deadline := time.Now().Add(wait); ; time.Sleep(50 * time.Millisecond) {
			mu.Lock()
			id := regs[scope]
			mu.Unlock()
			if id != "" {
				return id
			}
			if time.Now().After(deadline) {
				t.Fatal("no service worker registration was reported")
			}
		}
	}
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
// service worker, shows "Alex ha pausado"; Sam's page, woken, shows the
// pause. Turning waking off makes the server forget the subscription.
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
	registration := watchWorker(t, sam)

	alex.open(srv.URL)
	alex.tap("#create")
	link := until[string](alex, "the pairing link", `document.querySelector('#pair-link').value`)
	sam.open(link)
	sam.state("#pair-status", "paired")
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
	want := `{"level":"detailed","discreet":"Softland — ábrela cuando puedas","texts":{"pause":"Alex ha pausado","checkin":"Alex ha abierto un check-in","debrief":"Vuestros debriefs están abiertos","space":"Alex ha pedido un poco de espacio"}}`
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

	// Asleep: the page frozen, the worker stopped. Alex's pause is pushed.
	id := registration(srv.URL + "/")
	sam.lifecycle(page.SetWebLifecycleStateStateFrozen)
	alex.tap("#pause-btn")
	alex.visible(`#pause[data-who="me"]`)
	msg := svc.Next()
	if msg.Sub != sub || msg.Err != nil || msg.Push.Kind != protocol.PushPause {
		t.Fatalf("the stand-in got %+v, want a pause for sam's subscription", msg)
	}
	if _, err := chromedp.Call(sam.ctx, serviceworker.StopAllWorkers, cdp.Empty{}); err != nil {
		t.Fatal(err)
	}
	if _, err := chromedp.Call(sam.ctx, serviceworker.DeliverPushMessage, serviceworker.DeliverPushMessageParams{
		Origin: srv.URL, RegistrationID: id, Data: string(msg.Plain),
	}); err != nil {
		t.Fatal(err)
	}
	sam.lifecycle(page.SetWebLifecycleStateStateActive)
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
	alex.tap("#erase-open")
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
