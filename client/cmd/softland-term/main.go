// Command softland-term is Softland in a terminal: one partner's phone, as
// lines of text. It pairs, checks in, pauses, debriefs and erases like the web
// app, and prints one line for each thing that happens.
//
//	softland-term -server http://localhost:8080 create        # prints the link for the partner
//	softland-term -server http://localhost:8080 join '<link>'
//	softland-term -state ~/.softland.json resume              # after -state on create or join
//	softland-term -server http://localhost:8080 move '<move link>'  # take your seat here
//	softland-term -server http://localhost:8080 replace '<re-pair link>'  # your phone was lost: take your seat back
//
// Then type commands, one per line (help lists them). Names given with -me
// and -partner are only used to print suggestions; they never leave this
// program. Tokens, keys and sealed blobs are never printed.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"softland/client"
	"softland/client/rules"
	"softland/server/protocol"
)

// Defaults.
const (
	DefaultServer = "http://localhost:8080"
	// pingInterval is how often the terminal checks the connection end to
	// end, so a silently dead network is noticed and resumed. It also keeps
	// the seat online for the partner: the server shows a seat unreachable
	// after 25 s without a message (protocol §8), and 10 s survives one lost
	// ping.
	pingInterval = 10 * time.Second
	pingTimeout  = 10 * time.Second
	// maxBackoff bounds the wait between reconnection attempts, and
	// attemptTimeout each attempt, so a half-open network cannot stall it.
	maxBackoff     = 30 * time.Second
	attemptTimeout = 20 * time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	args := os.Args[1:]
	if s := os.Getenv("SOFTLAND_SERVER"); s != "" {
		args = append([]string{"-server", s}, args...) // a -server flag still wins
	}
	if err := run(ctx, args, os.Stdin, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "softland-term:", err)
		os.Exit(1)
	}
}

const usage = `usage: softland-term [flags] create | join <link> | resume | move <link> | replace <link>

  create        make a room and print the link for your partner
  join <link>   take the second seat with your partner's link
  resume        come back to the room saved with -state
  move <link>   take your seat on this device with a move link from your other device
  replace <link>
                your phone was lost: take your seat back with the re-pair link
                your partner made (their command replace-partner)

flags:
`

// run is the whole program; main only wires it to the process. It returns
// when the user quits, stdin ends, the room is erased or ctx ends.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("softland-term", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	server := fs.String("server", DefaultServer, "the Softland server's http(s) URL (SOFTLAND_SERVER)")
	statePath := fs.String("state", "", "`FILE` to keep the room in, so resume can come back later (it holds the room secret)")
	me := fs.String("me", "me", "your name, shown in suggestions (never sent)")
	partner := fs.String("partner", "partner", "your partner's name, shown in suggestions (never sent)")
	lang := fs.String("lang", "en", "language of suggestions")
	never := fs.String("never", "", "comma-separated suggestion ids never to be offered to you")
	welcome := fs.String("welcome", "", "comma-separated suggestion ids you usually welcome")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return err
	}
	serverSet := false
	fs.Visit(func(f *flag.Flag) { serverSet = serverSet || f.Name == "server" })

	cat, err := rules.Default()
	if err != nil {
		return err
	}
	t := &term{
		out:       stdout,
		cat:       cat,
		names:     [2]string{*me, *partner},
		lang:      *lang,
		plan:      rules.Plan{Never: list(*never), Welcome: list(*welcome)},
		statePath: *statePath,
		server:    *server,
	}

	switch cmd := fs.Arg(0); {
	case cmd == "create" && fs.NArg() == 1:
		c, link, err := client.Create(ctx, *server)
		if err != nil {
			return err
		}
		t.c = c
		t.say("room created")
		t.say("link for your partner: %s", link)
		t.say("waiting for your partner to open it")
	case cmd == "join" && fs.NArg() == 2:
		link, err := client.ParseLink(fs.Arg(1))
		if err != nil {
			return err
		}
		if t.c, err = client.Join(ctx, *server, link); err != nil {
			return err
		}
		t.say("paired")
	case cmd == "move" && fs.NArg() == 2:
		link, err := client.ParseMoveLink(fs.Arg(1))
		if err != nil {
			return err
		}
		if t.c, err = client.Move(ctx, *server, link); err != nil {
			return err
		}
		t.say("moved here: your seat is on this device now")
	case cmd == "replace" && fs.NArg() == 2:
		link, err := client.ParseReplaceLink(fs.Arg(1))
		if err != nil {
			return err
		}
		if t.c, err = client.Replace(ctx, *server, link); err != nil {
			return err
		}
		t.say("your seat is on this device now; your partner will re-send the shared settings")
		t.say("compare these words with your partner's screen, aloud: %s", strings.Join(t.c.VerifyWords(), " "))
	case cmd == "resume" && fs.NArg() == 1:
		if *statePath == "" {
			return errors.New("resume needs -state FILE")
		}
		sv, err := load(*statePath)
		if err != nil {
			return err
		}
		t.lastRound = sv.LastRound
		if !serverSet {
			t.server = ""
		}
		if t.c, err = client.Resume(ctx, t.server, sv.State); err != nil {
			var e *client.Error
			if errors.As(err, &e) && e.Code == protocol.CodeNotFound {
				t.forget() // erased or expired: nothing to come back to
			}
			if errors.As(err, &e) && e.Code == protocol.CodeDeviceRevoked {
				t.forget() // the seat moved to another device
				t.say("your seat moved to another device; this one is signed out")
				return nil
			}
			return err
		}
		t.server = t.c.State().Server
		t.say("resumed")
	default:
		fs.Usage()
		return errors.New("expected create, join <link>, resume, move <link> or replace <link>")
	}
	defer func() { t.c.Close() }()
	t.welcomed(fs.Arg(0) == "resume" || fs.Arg(0) == "move" || fs.Arg(0) == "replace")
	return t.loop(ctx, stdin)
}

// term is one terminal session. Only the loop's goroutine touches it.
type term struct {
	out       io.Writer
	cat       *rules.Catalog
	names     [2]string // me, partner
	lang      string
	plan      rules.Plan
	statePath string
	server    string

	c         *client.Client
	lastRound string // the most recent round, for debriefs
	pauseWord string
	signals   []string
	erased    bool
	// pausedAt is the offset of this seat's pause until the partner's
	// phone confirmed it (a delivered event), else 0.
	pausedAt uint64
}

func (t *term) say(format string, a ...any) {
	fmt.Fprintf(t.out, format+"\n", a...)
}

// welcomed reports what the welcome's snapshot says, if there was one, and
// saves the state. resumed says whether to repeat whether the room is paired.
func (t *term) welcomed(resumed bool) {
	defer t.save()
	s := t.c.Snapshot()
	if s == nil {
		return // a replay: its events are printed as they come
	}
	if r := s.Round; r != nil {
		t.lastRound = r.Round
	} else if n := len(s.Debriefs); n > 0 {
		t.lastRound = s.Debriefs[n-1].Round
	}
	if s.SettingsPlaintext != nil {
		var st client.SharedSettings
		if json.Unmarshal(s.SettingsPlaintext, &st) == nil {
			t.pauseWord, t.signals = st.PauseWord, st.Signals
		}
	}
	if resumed {
		if s.Paired {
			t.say("paired")
		} else if link, err := t.c.Link(""); err == nil && t.c.InviteExpiresAt() > time.Now().UnixMilli() {
			t.say("link for your partner: %s", link)
			t.say("waiting for your partner to open it")
		} else {
			t.say("your partner never opened the link, and it has expired; create a new room")
		}
	}
	me, other := t.c.Seat()-1, 2-t.c.Seat()
	if s.Paired && s.Presence[other] != "" {
		t.say("partner %s", s.Presence[other])
	}
	if s.Paused[other] {
		t.say("paused by partner — take a breath")
	}
	if s.Paused[me] {
		t.say("you paused — type unpause when you are ready")
	}
	if r := s.Round; r != nil {
		t.say("round open")
		if r.Submitted[other] {
			t.say("partner answered")
		}
		if r.Rev > 0 {
			t.say("%s", t.suggestions(s.Suggestions, s.Unknown))
		}
	}
	if d, ok := s.Released[t.lastRound]; ok && len(d) == 2 {
		t.say("%s", t.debriefs(d))
	}
}

// loop reads commands and events until the session ends.
func (t *term) loop(ctx context.Context, stdin io.Reader) error {
	lines := make(chan string)
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		defer close(lines)
		sc := bufio.NewScanner(stdin)
		for sc.Scan() {
			select {
			case lines <- sc.Text():
			case <-stop:
				return
			}
		}
	}()
	ping := time.NewTicker(pingInterval)
	defer ping.Stop()
	events := t.c.Events()
	lost := false // the terminal closed a connection that stopped answering
	for {
		select {
		case <-ctx.Done():
			return nil
		case line, ok := <-lines:
			if !ok {
				t.quit(ctx)
				return nil
			}
			if done, err := t.command(ctx, line); done {
				return err
			}
		case <-ping.C:
			pctx, cancel := context.WithTimeout(ctx, pingTimeout)
			err := t.c.Ping(pctx)
			cancel()
			if errors.Is(err, context.DeadlineExceeded) && ctx.Err() == nil {
				lost = true
				t.c.Close()
			}
		case e, ok := <-events:
			if ok {
				t.event(e)
				if e.Kind == protocol.KindReplaced && e.Seat != t.c.Seat() {
					// The room moved to the new secret: the new phone can
					// read the settings only once they are sealed again.
					t.report(t.c.ResealSettings(ctx))
				}
				t.save()
				continue
			}
			err := t.c.Err()
			switch {
			case errors.Is(err, client.ErrErased):
				if !t.erased {
					t.say("erased")
				}
				t.forget()
				return nil
			case errors.Is(err, client.ErrReplaced):
				t.say("this seat was opened somewhere else; stopping here")
				return nil
			case errors.Is(err, client.ErrLost):
				t.say("your partner gave your seat to a new phone; this one is signed out")
				t.forget()
				return nil
			case errors.Is(err, client.ErrMoved):
				t.say("your seat moved to another device; this one is signed out")
				t.forget()
				return nil
			case lost || client.ShouldResume(err):
				lost = false
				if err := t.reconnect(ctx); err != nil {
					return err
				}
				events = t.c.Events()
			default:
				return err
			}
		}
	}
}

// reconnect resumes the seat after a lost connection, waiting longer after
// each failed attempt.
func (t *term) reconnect(ctx context.Context) error {
	t.say("connection lost — reconnecting")
	st := t.c.State()
	wait := 500 * time.Millisecond
	for {
		actx, cancel := context.WithTimeout(ctx, attemptTimeout)
		c, err := client.Resume(actx, t.server, st)
		cancel()
		if err == nil {
			t.c = c
			t.say("reconnected")
			t.welcomed(true)
			return nil
		}
		if !client.ShouldResume(err) {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		if errors.Is(err, client.ErrBrokenStream) {
			// The server's replay did not fit what this seat had seen; ask
			// for a whole snapshot instead of the same replay again.
			st.Epoch, st.Offset = "", 0
		}
		select {
		case <-time.After(wait):
		case <-ctx.Done():
			return nil
		}
		wait = min(2*wait, maxBackoff)
	}
}

// quit says goodbye so the partner sees "away" rather than "reconnecting".
func (t *term) quit(ctx context.Context) {
	ctx, cancel := context.WithTimeout(ctx, pingTimeout)
	defer cancel()
	t.c.Bye(ctx)
	t.save()
}

const help = `commands:
  needs <need> …         tap needs (opens a check-in if none is open); needs alone lists them
  open                   open a check-in
  close                  close the open check-in
  pause                  pause at once; the partner is told immediately
  unpause                lift your pause
  space <minutes>        tell your partner you need some space
  debrief <helped> | <next>
                         what helped you, and what you would prefer next time
  settings <pause word>  set the couple's shared pause word
  move                   print a one-time link that moves your seat to another device
  cancel-move            revoke that link before it is used
  replace-partner        your partner lost their phone: print a one-time link that gives
                         their seat to their new phone, under a new room secret
  cancel-replace         revoke that link before it is used
  cancel-invite          revoke the link for your partner before it is used
  erase                  erase the room for both of you, on the server too
  quit                   leave (your partner sees you away)`

// command runs one line typed by the user. done ends the session.
func (t *term) command(ctx context.Context, line string) (done bool, err error) {
	word, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
	rest = strings.TrimSpace(rest)
	switch word {
	case "":
	case "help", "?":
		t.say("%s", help)
	case "needs":
		if rest == "" {
			t.listNeeds()
			return false, nil
		}
		t.needs(ctx, strings.FieldsFunc(rest, func(r rune) bool { return r == ' ' || r == ',' }))
	case "open":
		_, err := t.c.OpenRound(ctx)
		t.report(err)
	case "close":
		round := t.c.Round()
		if round == "" {
			t.say("can't: there is no open check-in")
			return false, nil
		}
		t.report(t.c.CloseRound(ctx, round))
	case "pause":
		t.report(t.c.Pause(ctx))
	case "unpause":
		t.report(t.c.Unpause(ctx))
	case "space":
		minutes, err := strconv.Atoi(rest)
		if err != nil || minutes <= 0 || minutes > 24*60 {
			t.say("can't: say how many minutes, for example: space 20")
			return false, nil
		}
		until := time.Now().Add(time.Duration(minutes) * time.Minute).UnixMilli()
		t.report(t.c.Announce(ctx, client.Announcement{Kind: client.AnnouncementSpace, Minutes: minutes, Until: until}))
	case "debrief":
		helped, next, ok := strings.Cut(rest, "|")
		if !ok {
			t.say("can't: write it as: debrief <what helped> | <what next time>")
			return false, nil
		}
		if t.lastRound == "" {
			t.say("can't: there is no recent check-in to debrief")
			return false, nil
		}
		if err := t.c.Debrief(ctx, t.lastRound, strings.TrimSpace(helped), strings.TrimSpace(next)); err == nil {
			t.say("debrief saved; it opens when your partner's is in too")
		} else {
			t.report(err)
		}
	case "settings":
		if rest == "" {
			t.say("can't: give the pause word, for example: settings mandarina")
			return false, nil
		}
		signals := t.signals
		if signals == nil {
			signals = []string{}
		}
		t.report(t.c.Settings(ctx, client.SharedSettings{PauseWord: rest, Signals: signals}))
	case "move":
		link, expires, err := t.c.MoveLink(ctx, "")
		if err != nil {
			t.report(err)
			return false, nil
		}
		t.say("move link (works once, until %s): %s", expires.Format("15:04"), link)
		t.say("open it on your other device: softland-term move '<link>'")
	case "cancel-move":
		if err := t.c.CancelMove(ctx); err != nil {
			t.report(err)
		} else {
			t.say("move link revoked")
		}
	case "replace-partner":
		link, expires, err := t.c.ReplaceLink(ctx, "")
		if err != nil {
			t.report(err)
			return false, nil
		}
		t.save() // the new secret must survive a restart
		t.say("re-pair link (works once, until %s): %s", expires.Format("15:04"), link)
		t.say("open it on your partner's new phone: softland-term replace '<link>'")
	case "cancel-replace":
		if err := t.c.CancelReplace(ctx); err != nil {
			t.report(err)
		} else {
			t.say("re-pair link revoked")
		}
	case "cancel-invite":
		if err := t.c.CancelInvite(ctx); err != nil {
			t.report(err)
		} else {
			t.say("link for your partner revoked; create a new room to pair")
		}
	case "erase":
		if err := t.c.Erase(ctx); err != nil {
			t.report(err)
			return false, nil
		}
		// The erased event and the end of the connection follow.
	case "quit", "exit", "bye":
		t.quit(ctx)
		return true, nil
	default:
		t.say("can't: unknown command %q (type help)", word)
	}
	return false, nil
}

// needs submits taps, opening a check-in first if none is open. A space
// need also tells the partner, as the web app does.
func (t *term) needs(ctx context.Context, needs []string) {
	for _, id := range needs {
		if t.need(id) == nil {
			t.say("can't: unknown need %q (type needs to list them)", id)
			return
		}
	}
	round, err := t.c.EnsureRound(ctx)
	if err != nil {
		t.report(err)
		return
	}
	t.lastRound = round
	if err := t.c.SubmitNeeds(ctx, round, needs, t.plan); err != nil {
		t.report(err)
		return
	}
	t.say("your answer is in")
	for _, id := range needs {
		if n := t.need(id); n.Minutes > 0 {
			until := time.Now().Add(time.Duration(n.Minutes) * time.Minute).UnixMilli()
			t.report(t.c.Announce(ctx, client.Announcement{Kind: client.AnnouncementSpace, Minutes: n.Minutes, Until: until}))
			break
		}
	}
}

func (t *term) need(id string) *rules.Need {
	for i := range t.cat.Needs {
		if t.cat.Needs[i].ID == id {
			return &t.cat.Needs[i]
		}
	}
	return nil
}

func (t *term) listNeeds() {
	for _, g := range t.cat.Groups {
		var ids []string
		for _, n := range t.cat.Needs {
			if n.Group == g.ID {
				ids = append(ids, n.ID)
			}
		}
		t.say("  %s: %s", g.ID, strings.Join(ids, " "))
	}
}

// report prints a failed command; a refusal is shown in the server's words.
func (t *term) report(err error) {
	var e *client.Error
	switch {
	case err == nil:
	case errors.As(err, &e):
		t.say("can't: %s", e.Message)
	default:
		t.say("can't: %v", err)
	}
}

// event prints one room event from this seat's point of view.
func (t *term) event(e client.Event) {
	mine := e.Seat == t.c.Seat()
	switch e.Kind {
	case protocol.KindPaired:
		t.say("paired")
	case protocol.KindMoved:
		if !mine {
			t.say("partner moved to a new device")
		}
	case protocol.KindReplaced:
		if !mine {
			t.say("partner's new phone has their seat; the room has a new secret")
			t.say("compare these words with your partner's screen, aloud: %s", strings.Join(t.c.VerifyWords(), " "))
		}
	case protocol.KindPresence:
		if !mine {
			t.say("partner %s", e.Presence)
		}
	case protocol.KindRoundOpened:
		t.lastRound = e.Round
		t.say("round opened")
	case protocol.KindRoundSubmitted:
		if !mine {
			t.say("partner answered")
		}
	case protocol.KindRoundRevealed:
		t.say("%s", t.suggestions(e.Suggestions, e.Unknown))
	case protocol.KindRoundClosed:
		if e.Reason == protocol.ReasonExpired {
			t.say("round closed (its time is up)")
		} else {
			t.say("round closed")
		}
		t.say("later: debrief <what helped> | <what next time>")
	case protocol.KindPaused:
		if mine {
			t.pausedAt = e.Offset
			t.say("paused — type unpause when you are ready")
		} else if t.pauseWord != "" {
			t.say("paused by partner (%s) — take a breath", t.pauseWord)
		} else {
			t.say("paused by partner — take a breath")
		}
	case protocol.KindUnpaused:
		if mine {
			t.say("pause lifted")
		} else {
			t.say("partner lifted the pause")
		}
	case protocol.KindAnnounced:
		var a client.Announcement
		if e.Err != nil || json.Unmarshal(e.Plaintext, &a) != nil || a.Kind != client.AnnouncementSpace {
			return // something a newer app says, or nothing readable
		}
		switch {
		case mine:
			t.say("you asked for %d minutes of space", a.Minutes)
		case a.Until > 0:
			t.say("partner needs %d minutes of space — a check-in after %s", a.Minutes, time.UnixMilli(a.Until).Format("15:04"))
		default:
			t.say("partner needs %d minutes of space", a.Minutes)
		}
	case protocol.KindSettings:
		var s client.SharedSettings
		if e.Err != nil || json.Unmarshal(e.Plaintext, &s) != nil {
			return
		}
		t.pauseWord, t.signals = s.PauseWord, s.Signals
		t.say("pause word: %s", s.PauseWord)
	case protocol.KindDebriefSubmitted:
		if !mine {
			t.say("partner wrote a debrief")
		}
	case protocol.KindDebriefReleased:
		if e.Err != nil || len(e.Debriefs) != 2 {
			t.say("debriefs arrived but could not be opened")
			return
		}
		t.say("%s", t.debriefs(e.Debriefs))
	case protocol.KindDelivered:
		// Only what the screen promised: the pause reached the partner's
		// phone, not merely the server.
		if !mine && t.pausedAt > 0 && e.Seen >= t.pausedAt {
			t.pausedAt = 0
			t.say("delivered: partner's phone has the pause")
		}
	case protocol.KindErased:
		t.erased = true
		t.say("erased")
	}
}

// seatNames returns the display names of seat 1 and seat 2.
func (t *term) seatNames() rules.Names {
	if t.c.Seat() == 1 {
		return rules.Names{Seat1: t.names[0], Seat2: t.names[1]}
	}
	return rules.Names{Seat1: t.names[1], Seat2: t.names[0]}
}

func (t *term) suggestions(ids []string, unknown int) string {
	if len(ids) == 0 && unknown == 0 {
		return "suggestions: nothing in common yet — try other needs"
	}
	var b strings.Builder
	b.WriteString("suggestions: ")
	names := t.seatNames()
	n := 0
	for _, id := range ids {
		text := rules.Render(t.cat, id, t.lang, names)
		if text == "" {
			unknown++
			continue
		}
		if n > 0 {
			b.WriteString(", ")
		}
		n++
		fmt.Fprintf(&b, "%d. %s", n, text)
	}
	if unknown > 0 {
		fmt.Fprintf(&b, " (+%d only a newer app can show)", unknown)
	}
	return b.String()
}

func (t *term) debriefs(d []client.DebriefAnswer) string {
	me, other := d[t.c.Seat()-1], d[2-t.c.Seat()]
	return fmt.Sprintf("debriefs: you: helped: %s; next time: %s / partner: helped: %s; next time: %s",
		me.Helped, me.Next, other.Helped, other.Next)
}

// saved is the -state file: the client's State and what the terminal needs
// besides.
type saved struct {
	client.State
	LastRound string `json:"lastRound,omitempty"`
}

func (t *term) save() {
	if t.statePath == "" || t.erased {
		return
	}
	b, err := json.MarshalIndent(saved{State: t.c.State(), LastRound: t.lastRound}, "", "  ")
	if err != nil {
		t.say("can't save the state: %v", err)
		return
	}
	// Write then rename, so a crash never leaves half a file.
	tmp := t.statePath + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o600); err != nil {
		t.say("can't save the state: %v", err)
		return
	}
	if err := os.Rename(tmp, t.statePath); err != nil {
		t.say("can't save the state: %v", err)
	}
}

// forget removes the state file of a room that is gone.
func (t *term) forget() {
	if t.statePath != "" {
		os.Remove(t.statePath)
	}
}

func load(path string) (saved, error) {
	var sv saved
	b, err := os.ReadFile(filepath.Clean(path))
	if err != nil {
		return sv, err
	}
	if err := json.Unmarshal(b, &sv); err != nil {
		return sv, fmt.Errorf("%s is not a softland-term state file", path)
	}
	return sv, nil
}

func list(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}
