package browsertest

import (
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"softland/server/servertest"
)

// TestTwoPhones is a whole evening on two phones: pair through one link,
// check in, see the same suggestions change together, pause and lift,
// reload mid-round, debrief, look back and erase. A third phone with the
// same link is turned away kindly.
func TestTwoPhones(t *testing.T) {
	srv := servertest.Start(t)
	browser := startBrowser(t)
	alex := newPhone(t, browser, "alex")
	sam := newPhone(t, browser, "sam")

	// Welcome, then create: the pairing screen with a QR code and the link.
	alex.open(srv.URL)
	alex.visible("#screen-welcome")
	alex.shot("01-welcome")
	alex.tap("#create")
	alex.visible("#qr svg path")
	alex.state("#pair-status", "waiting")
	alex.shot("02-pair-invite")
	link := until[string](alex, "the pairing link", `document.querySelector('#pair-link').value`)
	if !strings.HasPrefix(link, srv.URL+"/#") {
		t.Fatalf("pairing link %q does not start with %s/#", link, srv.URL)
	}

	// The partner opens the link: both phones say paired.
	sam.open(link)
	sam.state("#pair-status", "paired")
	alex.state("#pair-status", "paired")
	if hash := eval[string](sam, `location.href`); strings.Contains(hash, "#") {
		t.Errorf("the link's fragment is still in the address bar: %s", hash)
	}
	sam.typeInto("#name-me", "Sam")
	sam.typeInto("#name-partner", "Alex")
	sam.shot("03-paired")
	sam.tap("#pair-continue")
	alex.typeInto("#name-me", "Alex")
	alex.typeInto("#name-partner", "Sam")
	alex.tap("#pair-continue")
	alex.visible("#screen-checkin")
	sam.visible("#screen-checkin")
	alex.state("#bar", "online")
	sam.state("#bar", "online")
	alex.shot("04-checkin")

	// A third phone with the same link is refused, kindly.
	third := newPhone(t, browser, "third")
	third.open(link)
	third.visible(`#screen-notice[data-kind="full"]`)
	third.shot("05-room-full")
	// It can start over, in Spanish if it likes.
	third.tap("#notice-primary")
	third.visible("#screen-welcome")
	third.do("switch to Spanish", chromedp.Evaluate[chromedp.Void](`(() => { const s = document.querySelector('#lang-welcome'); s.value = 'es'; s.dispatchEvent(new Event('change')); })()`))
	until[bool](third, "Spanish", `document.documentElement.lang === 'es' && document.querySelector('#create').textContent === 'Crear nuestra sala'`)
	third.shot("16-welcome-es")

	// Both tap needs; both phones show the same mutual suggestions.
	alex.tap(`[data-need="be-held"]`)
	alex.tap(`[data-need="water"]`)
	sam.tap(`[data-need="hold-partner"]`)
	sam.tap(`[data-need="water"]`)
	first := sameSuggestions(t, alex, sam, nil)
	if !contains(first, "Sam holds Alex") || !contains(first, "A glass of water") {
		t.Errorf("suggestions %q lack Sam holding Alex and water", first)
	}
	// The dock folded to one line while tapping; one tap opens it.
	alex.tap("#dock-toggle")
	alex.visible("#sugg-list li")
	alex.shot("06-suggestions")

	// Sam changes a tap (20 minutes of space): both phones update, and
	// closeness leaves the list for both.
	sam.tap(`[data-need="space-20"]`)
	second := sameSuggestions(t, alex, sam, first)
	if contains(second, "holds") {
		t.Errorf("closeness is still suggested during space: %q", second)
	}
	alex.visible("#space-banner")
	until[bool](alex, "a countdown", `/^\d\d:\d\d$/.test(document.querySelector('#space-clock').textContent)`)
	alex.shot("07-space-notice")

	// Reloading a phone mid-round resumes it with nothing lost.
	alex.reload()
	alex.visible("#screen-checkin")
	until[bool](alex, "taps kept", `['be-held', 'water'].every((n) => document.querySelector('[data-need="' + n + '"]').getAttribute('aria-pressed') === 'true')`)
	if again := sameSuggestions(t, alex, sam, nil); !slices.Equal(again, second) {
		t.Errorf("after a reload alex shows %q, want %q", again, second)
	}
	alex.state("#bar", "online")

	// Pause reaches the other phone at once, full screen; only the pauser can lift it.
	alex.tap("#pause-btn")
	sam.visible(`#pause[data-who="partner"]`)
	alex.visible(`#pause[data-who="me"] #unpause-btn`)
	if eval[bool](sam, `!document.querySelector('#unpause-btn').hidden`) {
		t.Error("the partner of the pauser can lift the pause")
	}
	sam.shot("08-pause-partner")
	alex.shot("09-pause-mine")
	alex.tap("#unpause-btn")
	alex.gone("#pause")
	sam.gone("#pause")

	// Alex ends the check-in; the debrief opens. Answers open together.
	alex.tap("#close-round")
	alex.visible("#screen-debrief")
	sam.tap("#to-debrief")
	sam.visible("#screen-debrief")
	alex.typeInto("#debrief-helped", "Being held, then water")
	alex.typeInto("#debrief-next", "Ask me before the lights go on")
	alex.tap("#debrief-send")
	alex.state("#debrief-status", "sent")
	alex.shot("10-debrief-sent")
	if eval[bool](sam, `!document.querySelector('#debrief-released').hidden`) {
		t.Error("a debrief opened before both partners answered")
	}
	// Nothing typed is lost across a reload.
	sam.typeInto("#debrief-helped", "The quiet minutes")
	sam.reload()
	sam.visible("#screen-checkin")
	sam.tap("#to-debrief")
	until[bool](sam, "the draft kept", `document.querySelector('#debrief-helped').value === 'The quiet minutes'`)
	sam.typeInto("#debrief-next", "A warm drink")
	sam.tap("#debrief-send")
	for _, p := range []*phone{alex, sam} {
		p.visible("#debrief-released")
		until[bool](p, "both answers", `(() => { const s = document.querySelector('#released-list').textContent; return ['Being held, then water', 'Ask me before the lights go on', 'The quiet minutes', 'A warm drink'].every((x) => s.includes(x)); })()`)
	}
	sam.shot("11-debrief-released")

	// Looking back, and the plan.
	alex.tap("#nav-history")
	alex.visible("#history-list li")
	until[bool](alex, "the round in history", `document.querySelector('#history-list').textContent.includes('A glass of water')`)
	alex.shot("12-history")
	alex.tap("#nav-plan")
	alex.tap("#plan-list-box summary")
	alex.visible("#plan-items li")
	alex.tap(`[data-plan="soft-music"][data-kind="welcome"]`)
	alex.tap(`[data-plan="talk-now"][data-kind="never"]`)
	alex.do("scroll to the top", chromedp.Evaluate[chromedp.Void](`window.scrollTo(0, 0)`))
	alex.shot("13-plan")
	alex.typeInto("#plan-pauseword", "mandarina")
	alex.typeInto("#plan-signals", "yellow, red")
	alex.tap("#share-settings")
	sam.state("#bar", "online")
	until[bool](sam, "the shared pause word", `document.querySelector('#pause-word').textContent === 'mandarina'`)
	alex.shot("13-plan-shared")

	// Erase us: confirm, then both phones forget everything.
	alex.tap("#erase-open")
	alex.visible("#screen-erase")
	alex.shot("14-erase")
	alex.tap("#erase-confirm")
	for _, p := range []*phone{alex, sam} {
		p.visible(`#screen-notice[data-kind="erased"]`)
		if keys := p.storedKeys(); !slices.Equal(keys, []string{"softland.notice"}) && !slices.Equal(keys, []string{"softland.lang", "softland.notice"}) {
			t.Errorf("%s still keeps %q after the erase", p.name, keys)
		}
	}
	sam.shot("15-erased")
	if n := srv.Edge.Conns(); n != 0 {
		// Sockets close asynchronously; only report, the room itself is gone.
		t.Logf("%d sockets still open right after the erase", n)
	}
}

// TestOneSeatOneTab: a partner can pair by pasting the link; opening the
// room in a second tab of the same phone takes the seat over, and the first
// tab says so and does not fight back until asked.
func TestOneSeatOneTab(t *testing.T) {
	srv := servertest.Start(t)
	browser := startBrowser(t)
	alex := newPhone(t, browser, "alex")
	sam := newPhone(t, browser, "sam")
	alex.open(srv.URL)
	alex.tap("#create")
	link := until[string](alex, "the pairing link", `document.querySelector('#pair-link').value`)
	// Sam pastes the link instead of opening it.
	sam.open(srv.URL)
	sam.tap("#have-link")
	sam.typeInto("#link-input", "  "+link+"\n")
	sam.state("#pair-status", "paired")
	for _, p := range []*phone{alex, sam} {
		p.tap("#pair-continue")
		p.visible("#screen-checkin")
	}

	tab := alex.newTab("alex, second tab")
	tab.open(srv.URL)
	tab.visible("#screen-checkin")
	tab.state("#bar", "online")
	alex.visible(`#screen-notice[data-kind="replaced"]`)
	alex.shot("17-replaced")
	// Taking it back is one tap, and then the other tab steps aside.
	alex.tap("#notice-primary")
	alex.visible("#screen-checkin")
	alex.state("#bar", "online")
	tab.visible(`#screen-notice[data-kind="replaced"]`)
	sam.state("#bar", "online")
}
