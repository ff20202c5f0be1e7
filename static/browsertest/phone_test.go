// Package browsertest drives the web app in real headless Chromium: two
// phones (isolated browser contexts at phone size, with touch) pair through
// one link and go through a whole evening against a real server. It has only
// tests.
//
// Chromium is found at $SOFTLAND_CHROMIUM, /usr/bin/chromium or on $PATH.
// Without it the tests skip, or fail when $CI is set. With
// SOFTLAND_SCREENSHOTS=1 they also save a screenshot of every screen into
// docs/screenshots/.
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/device"
)

// wait bounds every wait for the page: generous, so a slow CI machine is
// never mistaken for a bug. Nothing asserts how long anything took.
const wait = 30 * time.Second

// phoneInfo is a phone-sized, touch-enabled mobile browser.
var phoneInfo = device.Info{
	Name:      "phone",
	UserAgent: "Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36",
	Width:     390,
	Height:    844,
	Scale:     2,
	Mobile:    true,
	Touch:     true,
}

// chromium returns the path of the Chromium binary, skipping the test (or
// failing it on CI) when there is none.
func chromium(t *testing.T) string {
	t.Helper()
	for _, p := range []string{os.Getenv("SOFTLAND_CHROMIUM"), "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("Chromium is missing (apt-get install -y chromium); CI must run the browser tests")
	}
	t.Skip("Chromium is missing (apt-get install -y chromium); skipping the browser tests")
	return ""
}

// startBrowser starts one headless Chromium for the test, with a fresh
// profile and any extra flags, and returns its context. Phones are isolated contexts inside it.
func startBrowser(t *testing.T, extra ...chromedp.ExecAllocatorOption) context.Context {
	t.Helper()
	path := chromium(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(path),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.UserDataDir(t.TempDir()),
	)
	opts = append(opts, extra...)
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	bctx, cancelBrowser := chromedp.NewContext(actx)
	if err := chromedp.Do(bctx); err != nil {
		cancelBrowser()
		cancelAlloc()
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() {
		cancelBrowser()
		cancelAlloc()
	})
	return bctx
}

// phone is one browser context emulating a phone: its own storage, cookies,
// service worker and tab.
type phone struct {
	t    *testing.T
	name string
	ctx  context.Context

	mu         sync.Mutex
	exceptions []string
}

func newPhone(t *testing.T, browser context.Context, name string) *phone {
	t.Helper()
	return openPhone(t, browser, name, chromedp.WithNewBrowserContext())
}

// newTab opens another tab on the same phone: same storage, same service
// worker, its own page.
func (p *phone) newTab(name string) *phone {
	p.t.Helper()
	return openPhone(p.t, p.ctx, name)
}

func openPhone(t *testing.T, parent context.Context, name string, opts ...chromedp.ContextOption) *phone {
	t.Helper()
	ctx, cancel := chromedp.NewContext(parent, opts...)
	if err := chromedp.Do(ctx, chromedp.Emulate(phoneInfo)); err != nil {
		cancel()
		t.Fatalf("%s: open a phone: %v", name, err)
	}
	p := &phone{t: t, name: name, ctx: ctx}
	messages := chromedp.Console(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			t.Logf("%s console: %s", name, m)
			if m.IsException() {
				p.mu.Lock()
				p.exceptions = append(p.exceptions, m.String())
				p.mu.Unlock()
			}
		}
	})
	t.Cleanup(func() {
		cancel()
		wg.Wait()
		p.mu.Lock()
		defer p.mu.Unlock()
		for _, e := range p.exceptions {
			t.Errorf("%s: uncaught exception in the app: %s", name, e)
		}
	})
	return p
}

// do runs actions with the bounded wait, failing the test on error.
func (p *phone) do(what string, actions ...chromedp.Action[chromedp.Void]) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, wait)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		p.t.Fatalf("%s: %s: %v", p.name, what, err)
	}
}

func (p *phone) open(url string) { p.t.Helper(); p.do("open "+url, chromedp.Navigate(url)) }
func (p *phone) reload()         { p.t.Helper(); p.do("reload", chromedp.Reload()) }

func (p *phone) tap(sel string) {
	p.t.Helper()
	p.do("tap "+sel, chromedp.WaitVisible(chromedp.CSS(sel)), chromedp.Tap(chromedp.CSS(sel)))
}

func (p *phone) visible(sel string) {
	p.t.Helper()
	p.do("wait for "+sel, chromedp.WaitVisible(chromedp.CSS(sel)))
}

func (p *phone) gone(sel string) {
	p.t.Helper()
	p.do("wait until "+sel+" is gone", chromedp.WaitNotVisible(chromedp.CSS(sel)))
}

func (p *phone) typeInto(sel, text string) {
	p.t.Helper()
	p.do("type into "+sel,
		chromedp.WaitVisible(chromedp.CSS(sel)),
		chromedp.Evaluate[chromedp.Void](fmt.Sprintf(`document.querySelector(%q).value = ''`, sel)),
		chromedp.SendKeys(chromedp.CSS(sel), text))
}

// until waits for a JavaScript expression to be truthy and returns its value.
func until[T any](p *phone, what, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, wait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Poll[T](expr, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(wait)))
	if err != nil {
		p.t.Fatalf("%s: wait for %s: %v\n%s", p.name, what, err, p.describe())
	}
	return v
}

// describe says what the phone shows, for failure messages.
func (p *phone) describe() string {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify({
		screen: [...document.querySelectorAll('main > .screen')].filter((e) => !e.hidden).map((e) => e.id),
		bar: document.querySelector('#bar').dataset.state,
		together: {...document.querySelector('#together').dataset},
		text: document.body.innerText.slice(0, 600),
		stored: Object.fromEntries(Object.keys(localStorage).filter((k) => !k.endsWith('decoys')).map((k) => [k, localStorage.getItem(k).slice(0, 300)])),
	}, null, 1)`))
	if err != nil {
		return "(the page could not be read: " + err.Error() + ")"
	}
	return s
}

// eval evaluates a JavaScript expression once.
func eval[T any](p *phone, expr string) T {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, wait)
	defer cancel()
	v, err := chromedp.Run(ctx, chromedp.Evaluate[T](expr))
	if err != nil {
		p.t.Fatalf("%s: evaluate %s: %v", p.name, expr, err)
	}
	return v
}

// state waits for the element's data-state to be want.
func (p *phone) state(sel, want string) {
	p.t.Helper()
	until[bool](p, fmt.Sprintf("%s in state %q", sel, want), fmt.Sprintf(`document.querySelector(%q)?.dataset.state === %q`, sel, want))
}

// suggestions is the list of mutual suggestions on the check-in screen.
const suggestionsJS = `[...document.querySelectorAll('#sugg-list li')].map((li) => li.textContent)`

// shot saves a screenshot of what the phone shows into docs/screenshots,
// only when SOFTLAND_SCREENSHOTS=1 (so tests never rewrite the repository
// unasked).
func (p *phone) shot(name string) {
	p.t.Helper()
	if os.Getenv("SOFTLAND_SCREENSHOTS") != "1" {
		return
	}
	// Let transitions settle and the fonts finish before the picture.
	until[bool](p, "a settled page", `document.fonts.status === 'loaded' && document.getAnimations().every((a) => a.playState !== 'running' || a.transitionProperty === 'transform')`)
	ctx, cancel := context.WithTimeout(p.ctx, wait)
	defer cancel()
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatalf("%s: screenshot %s: %v", p.name, name, err)
	}
	dir := filepath.Join("..", "..", "docs", "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// storedKeys lists the app's localStorage keys on the phone.
func (p *phone) storedKeys() []string {
	p.t.Helper()
	return eval[[]string](p, `Object.keys(localStorage).filter((k) => k.startsWith('softland.')).sort()`)
}

// pair pairs two phones the way a couple does: alex creates a room at url,
// sam opens its link; both stay on the pairing screen, paired.
func pair(alex, sam *phone, url string) {
	alex.t.Helper()
	alex.open(url)
	alex.tap("#create")
	link := until[string](alex, "the pairing link", `document.querySelector('#pair-link').value`)
	sam.open(link)
	sam.state("#pair-status", "paired")
}

// toCheckin takes each paired phone from the pairing screen to the check-in.
func toCheckin(phones ...*phone) {
	for _, p := range phones {
		p.t.Helper()
		p.tap("#pair-continue")
		p.visible("#screen-checkin")
	}
}

// sameSuggestions waits until both phones show the same non-empty list of
// suggestions, different from not, and returns it. The two phones may pass
// through different intermediate lists while submissions cross; they must
// settle on one.
func sameSuggestions(t *testing.T, a, b *phone, not []string) []string {
	t.Helper()
	notJSON, _ := json.Marshal(not)
	expr := fmt.Sprintf(`(() => { const s = %s; const key = JSON.stringify(s); return s.length > 0 && key !== %q && document.querySelector('#together').dataset.synced === 'true' ? key : ''; })()`, suggestionsJS, notJSON)
	deadline := time.Now().Add(wait)
	for {
		ka := until[string](a, "suggestions", expr)
		kb := until[string](b, "suggestions", expr)
		if ka == kb {
			var list []string
			if err := json.Unmarshal([]byte(ka), &list); err != nil {
				t.Fatal(err)
			}
			return list
		}
		if time.Now().After(deadline) {
			t.Fatalf("the phones never agreed: %s shows %s, %s shows %s", a.name, ka, b.name, kb)
		}
		time.Sleep(100 * time.Millisecond) // not an assertion: poll again
	}
}

func contains(list []string, sub string) bool {
	for _, s := range list {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}
