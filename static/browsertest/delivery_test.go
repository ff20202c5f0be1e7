package browsertest

import (
	"context"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"softland/server/edge"
	"softland/server/servertest"
)

// lifecycle freezes or wakes the phone's page, as a phone does when it locks
// or puts a tab to sleep: a frozen page runs no script, so it applies no
// event and confirms none, while its socket stays open.
func (p *phone) lifecycle(state page.SetWebLifecycleStateState) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, wait)
	defer cancel()
	if _, err := chromedp.Call(ctx, page.SetWebLifecycleState, page.SetWebLifecycleStateParams{State: state}); err != nil {
		p.t.Fatalf("%s: set the page %s: %v", p.name, state, err)
	}
}

// pairedPhones opens two phones on srv, pairs them and takes both to the
// check-in screen.
func pairedPhones(t *testing.T, url string) (alex, sam *phone) {
	t.Helper()
	browser := startBrowser(t)
	alex = newPhone(t, browser, "alex")
	sam = newPhone(t, browser, "sam")
	pair(alex, sam, url)
	sam.typeInto("#name-me", "Sam")
	sam.typeInto("#name-partner", "Alex")
	alex.typeInto("#name-me", "Alex")
	alex.typeInto("#name-partner", "Sam")
	for _, p := range []*phone{alex, sam} {
		p.tap("#pair-continue")
		p.visible("#screen-checkin")
		p.state("#bar", "online")
	}
	return alex, sam
}

// TestPauseDeliveredOnlyWhenConfirmed: with the partner's page frozen, the
// pauser's phone says the pause reached the server but not the partner's
// phone — also after a reload and resume — and says "Sam's phone has it"
// only once Sam's phone, woken, confirmed it; the same for a space notice.
// Meanwhile Sam shows as not reachable once the server heard nothing from
// the frozen page for its liveness window (shortened here to 12 s, still
// above the app's 10 s pings, so live phones stay online), and online again
// after it wakes.
func TestPauseDeliveredOnlyWhenConfirmed(t *testing.T) {
	srv := servertest.Start(t, servertest.Options{Edge: edge.Config{LivenessWindow: 12 * time.Second}})
	alex, sam := pairedPhones(t, srv.URL)

	sam.lifecycle(page.SetWebLifecycleStateStateFrozen)
	// A space notice is no more "known" to Sam than the pause.
	alex.tap(`[data-need="space-20"]`)
	until[bool](alex, "the notice sent but not confirmed", `document.querySelector('#space-text').textContent.includes('Sam’s phone hasn’t received it yet')`)
	alex.tap("#pause-btn")
	alex.visible(`#pause[data-who="me"]`)
	until[bool](alex, "the pause logged but not confirmed", `document.querySelector('#pause').dataset.delivery === 'waiting'`)
	alex.shot("18-pause-not-delivered")
	if got := eval[string](alex, `document.querySelector('#pause-delivery').textContent`); got != "Sam’s phone hasn’t received it yet — it may be asleep or offline." {
		t.Errorf("the pauser reads %q", got)
	}
	alex.state("#bar", "unreachable")
	if got := eval[string](alex, `document.querySelector('#status-text').textContent`); got != "Sam’s phone is not reachable right now" {
		t.Errorf("with sam's page frozen the status reads %q", got)
	}
	// A whole round trip later — alex reloads and resumes — still nothing
	// claims delivery: only sam's receipt can.
	alex.reload()
	until[bool](alex, "resumed", `['online', 'unreachable'].includes(document.querySelector('#bar').dataset.state)`)
	alex.visible(`#pause[data-who="me"]`)
	if got := eval[string](alex, `document.querySelector('#pause').dataset.delivery`); got != "waiting" {
		t.Fatalf("with sam's page frozen alex's pause says %q after a resume, want waiting", got)
	}

	sam.lifecycle(page.SetWebLifecycleStateStateActive)
	sam.visible(`#pause[data-who="partner"]`)
	until[bool](alex, "the pause confirmed", `document.querySelector('#pause').dataset.delivery === 'delivered'`)
	if got := eval[string](alex, `document.querySelector('#pause-delivery').textContent`); got != "Sam’s phone has it." {
		t.Errorf("after the receipt the pauser reads %q", got)
	}
	alex.state("#bar", "online")
	until[bool](alex, "the notice confirmed", `document.querySelector('#space-text').textContent.includes('Sam’s phone has it.')`)
	alex.shot("19-pause-delivered")
}
