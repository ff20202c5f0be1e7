package browsertest

import (
	"fmt"
	"strings"
	"testing"

	"softland/server/servertest"
)

// TestMoveToAnotherDevice: three phone contexts. Alex moves Softland from
// the browser tab to a new device mid-round: the new device shows the same
// suggestions and reads the shared pause word; the old one is signed out
// and told so kindly; Sam's phone only says Alex moved; and the spent link
// gets a fourth phone nothing.
func TestMoveToAnotherDevice(t *testing.T) {
	srv := servertest.Start(t)
	browser := startBrowser(t)
	alex := newPhone(t, browser, "alex")
	sam := newPhone(t, browser, "sam")
	pair(alex, sam, srv.URL)
	toCheckin(alex, sam)

	// The shared pause word, then a round with its suggestions.
	alex.tap("#nav-plan")
	alex.typeInto("#plan-pauseword", "mandarina")
	alex.tap("#share-settings")
	until[bool](sam, "the shared pause word", `document.querySelector('#pause-word').textContent === 'mandarina'`)
	alex.tap("#nav-checkin")
	alex.tap(`[data-need="be-held"]`)
	alex.tap(`[data-need="water"]`)
	sam.tap(`[data-need="hold-partner"]`)
	sam.tap(`[data-need="water"]`)
	before := sameSuggestions(t, alex, sam, nil)

	// Move: the plan screen shows the one-time link as a QR code.
	alex.tap("#nav-plan")
	alex.tap("#move-open")
	alex.visible("#move-qr svg path")
	alex.shot("27-move-link")
	moveLink := until[string](alex, "the move link", `document.querySelector('#move-link').value`)
	if !strings.HasPrefix(moveLink, srv.URL+"/#m=") {
		t.Fatalf("move link %q does not start with %s/#m=", moveLink, srv.URL)
	}

	// The new device opens it and takes the seat, mid-round.
	newAlex := newPhone(t, browser, "alex, new device")
	newAlex.open(moveLink)
	newAlex.state("#pair-status", "paired")
	if href := eval[string](newAlex, `location.href`); strings.Contains(href, "#") {
		t.Errorf("the move link's fragment is still in the address bar: %s", href)
	}
	newAlex.tap("#pair-continue")
	newAlex.visible("#screen-checkin")
	got := until[string](newAlex, "the round's suggestions", `(() => { const s = `+suggestionsJS+`; return s.length ? JSON.stringify(s) : ''; })()`)
	for _, s := range before {
		if !strings.Contains(got, s) {
			t.Errorf("the new device shows %s, without %q", got, s)
		}
	}
	until[bool](newAlex, "the shared pause word", `document.querySelector('#pause-word').textContent === 'mandarina'`)

	// The old tab is signed out, kindly, and forgets the room.
	alex.visible(`#screen-notice[data-kind="moved"]`)
	alex.shot("28-moved-away")
	if keys := alex.storedKeys(); contains(keys, "softland.room") || contains(keys, "softland.sync") {
		t.Errorf("the old tab still holds the room: %q", keys)
	}
	// Sam's phone says only that Alex moved, and the pair carries on.
	until[bool](sam, "the move note", `document.querySelector('#status-text').textContent.includes('moved to a new device')`)
	newAlex.state("#bar", "online")
	newAlex.tap("#pause-btn")
	sam.visible("#pause")

	// The spent link takes nobody's seat.
	fourth := newPhone(t, browser, "fourth")
	fourth.open(moveLink)
	fourth.visible(`#screen-notice[data-kind="moveused"]`)
}

// TestCancelPairingLink: the creator cancels the link before anyone used
// it; a phone opening it later is told it was cancelled, and the creator can
// start over with a fresh one.
func TestCancelPairingLink(t *testing.T) {
	srv := servertest.Start(t)
	browser := startBrowser(t)
	alex := newPhone(t, browser, "alex")
	alex.open(srv.URL)
	alex.tap("#create")
	link := until[string](alex, "the pairing link", `document.querySelector('#pair-link').value`)
	alex.tap("#pair-cancel")
	alex.state("#pair-status", "revoked")
	alex.gone("#pair-invite")

	sam := newPhone(t, browser, "sam")
	sam.open(link)
	sam.visible(`#screen-notice[data-kind="revoked"]`)

	alex.tap("#pair-restart")
	alex.state("#pair-status", "waiting")
	until[bool](alex, "a fresh link", fmt.Sprintf(`(() => { const v = document.querySelector('#pair-link').value; return v !== '' && v !== %q; })()`, link))
}
