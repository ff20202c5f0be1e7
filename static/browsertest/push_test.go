package browsertest

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/cdp"
	"github.com/chromedp/cdproto/serviceworker"
	"github.com/chromedp/chromedp"

	"softland/server/servertest"
)

// TestPushShowsDiscreetNotification delivers Web Push messages to the app's
// service worker after stopping it, as a push service wakes a sleeping
// phone, and checks that each one shows the discreet notification, whatever
// the message holds: the knock's fields are kept as the notification's
// data, and a message that cannot be read still shows it.
func TestPushShowsDiscreetNotification(t *testing.T) {
	b := startBrowser(t)
	srv := servertest.Start(t)
	p := newPhone(t, b, "sam")

	var mu sync.Mutex
	regs := map[string]serviceworker.RegistrationID{} // scope → id
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
	if _, err := chromedp.CallBrowser(p.ctx, browser.SetPermission, browser.SetPermissionParams{
		Permission:       &browser.PermissionDescriptor{Name: "notifications"},
		Setting:          browser.PermissionSettingGranted,
		Origin:           srv.URL,
		BrowserContextID: chromedp.FromContext(p.ctx).BrowserContextID,
	}); err != nil {
		t.Fatal(err)
	}
	p.open(srv.URL + "/")
	until[bool](p, "the service worker controls the page", `!!navigator.serviceWorker.controller`)
	var id serviceworker.RegistrationID
	for deadline := time.Now().Add(wait); id == ""; time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no service worker registration was reported")
		}
		mu.Lock()
		id = regs[srv.URL+"/"]
		mu.Unlock()
	}

	notifications := func(want string) string {
		t.Helper()
		var got string
		for deadline := time.Now().Add(wait); ; time.Sleep(50 * time.Millisecond) {
			ctx, cancel := context.WithTimeout(p.ctx, wait)
			v, err := chromedp.Run(ctx, chromedp.Evaluate[string](`navigator.serviceWorker.ready
				.then((r) => r.getNotifications())
				.then((ns) => ns.map((n) => n.title + ' ' + JSON.stringify(n.data)).join('\n'))`, chromedp.EvalAwaitPromise))
			cancel()
			if err != nil {
				t.Fatal(err)
			}
			if got = v; got == want || time.Now().After(deadline) {
				return got
			}
		}
	}
	deliver := func(data string) {
		t.Helper()
		// Asleep: no worker runs until the push starts one.
		if _, err := chromedp.Call(p.ctx, serviceworker.StopAllWorkers, cdp.Empty{}); err != nil {
			t.Fatal(err)
		}
		if _, err := chromedp.Call(p.ctx, serviceworker.DeliverPushMessage, serviceworker.DeliverPushMessageParams{
			Origin: srv.URL, RegistrationID: id, Data: data,
		}); err != nil {
			t.Fatal(err)
		}
	}

	deliver(`{"v":1,"kind":"pause","offset":7}`)
	want := `Softland — open when you can {"kind":"pause","offset":7}`
	if got := notifications(want); got != want {
		t.Fatalf("notifications:\n%s\nwant:\n%s", got, want)
	}
	// A new knock replaces the last, and an unreadable one still shows.
	deliver(`not json`)
	want = `Softland — open when you can null`
	if got := notifications(want); got != want {
		t.Fatalf("notifications:\n%s\nwant:\n%s", got, want)
	}
}
