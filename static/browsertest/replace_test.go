package browsertest

import (
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"softland/server/servertest"
)

// TestReplaceLostPhone: three phone contexts. Sam's phone is lost; Alex
// starts "Sam lost their phone" on the plan screen, and Sam's new phone
// opens the re-pair link. Both show the same four verification words; the
// new phone reads the shared pause word, which Alex's phone re-sealed
// under the new secret; the lost phone is signed out, told kindly, and
// forgets the room; the spent link gets a fourth phone nothing.
func TestReplaceLostPhone(t *testing.T) {
	srv := servertest.Start(t)
	browser := startBrowser(t)
	alex := newPhone(t, browser, "alex")
	sam := newPhone(t, browser, "sam, the phone that gets lost")
	pair(alex, sam, srv.URL)
	toCheckin(alex, sam)
	alex.tap("#nav-plan")
	alex.typeInto("#plan-pauseword", "mandarina")
	alex.tap("#share-settings")
	until[bool](sam, "the shared pause word", `document.querySelector('#pause-word').textContent === 'mandarina'`)

	// Alex: "Sam lost their phone" shows a one-time link as a QR code.
	alex.tap("#replace-open")
	alex.visible("#replace-qr svg path")
	alex.do("scroll to the link", chromedp.ScrollIntoView("#replace-box"))
	alex.shot("25-replace-link")
	repair := until[string](alex, "the re-pair link", `document.querySelector('#replace-link').value`)
	if !strings.HasPrefix(repair, srv.URL+"/#r=") {
		t.Fatalf("re-pair link %q does not start with %s/#r=", repair, srv.URL)
	}

	// Sam's new phone opens it and takes the seat.
	newSam := newPhone(t, browser, "sam, new phone")
	newSam.open(repair)
	newSam.state("#pair-status", "paired")
	if href := eval[string](newSam, `location.href`); strings.Contains(href, "#") {
		t.Errorf("the re-pair link's fragment is still in the address bar: %s", href)
	}

	// Both phones show the same four words.
	const wordsJS = `(() => { const c = document.querySelector('#verify-card'); return c && !c.hidden ? document.querySelector('#verify-words').textContent : ''; })()`
	w1 := until[string](alex, "the verification words", wordsJS)
	w2 := until[string](newSam, "the verification words", wordsJS)
	if w1 != w2 || len(strings.Fields(w1)) != 4 {
		t.Fatalf("verification words: Alex %q, Sam's new phone %q", w1, w2)
	}
	alex.gone("#replace-box")
	newSam.shot("26-verify-words")

	// The new phone reads the re-sealed pause word, and the pair goes on.
	newSam.tap("#pair-continue")
	newSam.visible("#screen-checkin")
	until[bool](newSam, "the re-sealed pause word", `document.querySelector('#pause-word').textContent === 'mandarina'`)
	for _, p := range []*phone{alex, newSam} {
		p.tap("#verify-ok")
		p.gone("#verify-card")
	}
	newSam.state("#bar", "online")
	newSam.tap("#pause-btn")
	alex.visible("#pause")

	// The lost phone is signed out, kindly, and forgets the room.
	sam.visible(`#screen-notice[data-kind="lost"]`)
	if keys := sam.storedKeys(); contains(keys, "softland.room") || contains(keys, "softland.sync") {
		t.Errorf("the lost phone still holds the room: %q", keys)
	}

	// The spent link takes nobody's seat.
	fourth := newPhone(t, browser, "fourth")
	fourth.open(repair)
	fourth.visible(`#screen-notice[data-kind="replaceused"]`)
}

// TestLostPhoneBackLater: the lost phone was off while its partner replaced
// it. When it is opened again its resume is refused with device_revoked,
// and since it never made a move link it says it was replaced, not that it
// moved; a phone that made a move link before going quiet says it moved.
func TestLostPhoneBackLater(t *testing.T) {
	srv := servertest.Start(t)
	browser := startBrowser(t)
	alex := newPhone(t, browser, "alex")
	sam := newPhone(t, browser, "sam, the phone that gets lost")
	pair(alex, sam, srv.URL)
	toCheckin(alex, sam)
	sam.open("about:blank") // the phone is off: no page, no socket

	alex.tap("#nav-plan")
	alex.tap("#replace-open")
	repair := until[string](alex, "the re-pair link", `document.querySelector('#replace-link').value`)
	newSam := newPhone(t, browser, "sam, new phone")
	newSam.open(repair)
	newSam.state("#pair-status", "paired")

	sam.open(srv.URL)
	sam.visible(`#screen-notice[data-kind="lost"]`)
	if keys := sam.storedKeys(); contains(keys, "softland.room") {
		t.Errorf("the lost phone still holds the room: %q", keys)
	}

	// Sam's new phone makes a move link and goes quiet; the link is used
	// elsewhere; back, it says it moved.
	newSam.tap("#pair-continue")
	newSam.visible("#screen-checkin")
	newSam.tap("#nav-plan")
	newSam.tap("#move-open")
	move := until[string](newSam, "the move link", `document.querySelector('#move-link').value`)
	newSam.open("about:blank")
	third := newPhone(t, browser, "sam, third device")
	third.open(move)
	third.state("#pair-status", "paired")
	newSam.open(srv.URL)
	newSam.visible(`#screen-notice[data-kind="moved"]`)
}
