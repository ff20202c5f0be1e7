package browsertest

import (
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"softland/server/servertest"
)

// TestScreensStayHonestAndSmall: the check-in screen keeps room for the
// needs (the dock folds to one line while tapping), keeps the private
// reminder behind a tap, says when what it shows may be out of date; the
// plan screen is short, with the pause word and Erase us within reach; a
// new couple is not told to revisit a plan; deadlines say the day.
func TestScreensStayHonestAndSmall(t *testing.T) {
	srv := servertest.Start(t)
	network := &flaky{next: srv.Edge}
	front := httptest.NewServer(network)
	t.Cleanup(front.Close)
	alex, sam := pairedPhones(t, front.URL)

	// A new couple: no "it's been a while" anywhere.
	alex.tap("#nav-history")
	alex.visible("#screen-history")
	if eval[bool](alex, `!document.querySelector('#revisit').hidden`) {
		t.Error("a couple paired a minute ago is asked to revisit its plan")
	}

	// The plan: short, the pause word first, Erase us within two screens.
	alex.tap("#nav-plan")
	alex.visible("#plan-pauseword")
	viewport := eval[float64](alex, `window.innerHeight`)
	if h := eval[float64](alex, `document.documentElement.scrollHeight`); h > 2.5*viewport {
		t.Errorf("the plan screen is %.0f px tall, over 2.5 screens of %.0f", h, viewport)
	}
	if y := eval[float64](alex, `document.querySelector('#plan-pauseword').getBoundingClientRect().top`); y > viewport {
		t.Errorf("the pause word is at %.0f px, below the first screen (%.0f px)", y, viewport)
	}
	if y := eval[float64](alex, `document.querySelector('#erase-open').getBoundingClientRect().top`); y > 2*viewport {
		t.Errorf("Erase us is at %.0f px, beyond two screens", y)
	}
	if !eval[bool](alex, `document.querySelector('#plan-prompt').hidden`) {
		t.Error("the plan screen asks a new couple to revisit its plan")
	}
	// The private part: off-limits topics.
	alex.tap("#plan-private-box summary")
	alex.typeInto("#plan-offlimits", "work stress")

	// Check-in: the reminder is behind a tap, never on the screen a partner may glance at.
	alex.tap("#nav-checkin")
	alex.visible("#screen-checkin")
	if strings.Contains(eval[string](alex, `document.body.innerText`), "work stress") {
		t.Error("the off-limits topics show on the check-in screen without a tap")
	}
	alex.tap("#reminder-toggle")
	until[bool](alex, "the reminder shown on a tap", `document.querySelector('#offlimits-hint').innerText.includes('work stress')`)
	alex.tap("#reminder-toggle")
	alex.gone("#offlimits-hint")

	// Tapping: the dock folds to one line and leaves the needs their room.
	alex.tap(`[data-need="be-held"]`)
	alex.tap(`[data-need="water"]`)
	sam.tap(`[data-need="hold-partner"]`)
	sam.tap(`[data-need="water"]`)
	sameSuggestions(t, alex, sam, nil)
	until[bool](alex, "the folded dock", `document.querySelector('#dock').dataset.open === 'false' && document.querySelector('#dock-body').hidden`)
	if h := eval[float64](alex, `document.querySelector('#dock').offsetHeight`); h > 0.15*viewport {
		t.Errorf("the folded dock is %.0f px tall, over 15%% of the screen", h)
	}
	if s := eval[string](alex, `document.querySelector('#dock-summary').textContent`); !strings.HasPrefix(s, "1. ") {
		t.Errorf("the folded dock says %q, not the first suggestion", s)
	}
	alex.shot("20-dock-folded")
	alex.tap("#dock-toggle")
	alex.visible("#sugg-list li")

	// The debrief card, once a round closed, says the day and the time left.
	sam.tap("#close-round")
	sam.visible("#screen-debrief")
	until[bool](sam, "a relative deadline", `/(today|tomorrow) at .+\(in \d+ (hours?|minutes?)\)/.test(document.querySelector('#debrief-intro').textContent)`)

	// Offline: what is on screen is marked as possibly out of date.
	alex.tap(`[data-need="blanket"]`)
	until[bool](alex, "a new round", `document.querySelector('#close-round').hidden === false`)
	network.down()
	alex.state("#bar", "offline")
	until[bool](alex, "the stale mark", `document.querySelector('#together').dataset.stale === 'true'`)
	if s := eval[string](alex, `document.querySelector('#dock').innerText`); !strings.Contains(s, "may be out of date") {
		t.Errorf("offline, the dock says %q, not that it may be out of date", s)
	}
	alex.shot("21-offline-stale")
	alex.reload()
	alex.visible("#screen-checkin")
	alex.state("#bar", "offline")
	network.up()
	alex.do("go online", chromedp.Evaluate[chromedp.Void](`window.dispatchEvent(new Event('online'))`))
	alex.state("#bar", "online")
	until[bool](alex, "fresh again", `document.querySelector('#together').dataset.stale === 'false'`)
}
