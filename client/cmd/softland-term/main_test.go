package main

import (
	"bufio"
	"context"
	"io"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"softland/server/servertest"
)

// session is one run() in the background, typed at through a pipe and read
// line by line.
type session struct {
	t     *testing.T
	name  string
	in    *io.PipeWriter
	lines chan string
	done  chan error

	mu   sync.Mutex
	seen []string // everything printed, for failure messages
}

func start(t *testing.T, ctx context.Context, name string, args ...string) *session {
	t.Helper()
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	s := &session{t: t, name: name, in: inW, lines: make(chan string, 1000), done: make(chan error, 1)}
	go func() {
		defer close(s.lines)
		sc := bufio.NewScanner(outR)
		for sc.Scan() {
			s.mu.Lock()
			s.seen = append(s.seen, sc.Text())
			s.mu.Unlock()
			s.lines <- sc.Text()
		}
	}()
	var stderr strings.Builder
	go func() {
		err := run(ctx, args, inR, outW, &stderr)
		if err != nil {
			t.Logf("%s: run: %v; stderr: %s", name, err, stderr.String())
		}
		outW.Close()
		inR.Close()
		s.done <- err
	}()
	t.Cleanup(func() { inW.Close() })
	return s
}

// type sends one line to the session's stdin.
func (s *session) typeLine(line string) {
	s.t.Helper()
	if _, err := io.WriteString(s.in, line+"\n"); err != nil {
		s.t.Fatalf("%s: typing %q: %v", s.name, line, err)
	}
}

// wait returns the next printed line that starts with prefix, skipping
// others. Only the test's deadline bounds it.
func (s *session) wait(ctx context.Context, prefix string) string {
	s.t.Helper()
	for {
		select {
		case line, ok := <-s.lines:
			if !ok {
				s.t.Fatalf("%s: output ended waiting for %q; printed:\n%s", s.name, prefix, s.transcript())
			}
			if strings.HasPrefix(line, prefix) {
				return line
			}
		case <-ctx.Done():
			s.t.Fatalf("%s: no line %q; printed:\n%s", s.name, prefix, s.transcript())
		}
	}
}

func (s *session) transcript() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.seen, "\n")
}

// end waits for run to return.
func (s *session) end(ctx context.Context) error {
	s.t.Helper()
	select {
	case err := <-s.done:
		return err
	case <-ctx.Done():
		s.t.Fatalf("%s: run did not return; printed:\n%s", s.name, s.transcript())
		return nil
	}
}

// pairTerminals starts a terminal that creates a room (createArgs, then
// "create") and one that joins it by the link the first prints (joinArgs,
// then "join" and the link), and waits until both say they are paired.
func pairTerminals(t *testing.T, ctx context.Context, creator string, createArgs []string, joiner string, joinArgs []string) (a, b *session) {
	t.Helper()
	a = start(t, ctx, creator, append(createArgs, "create")...)
	link := strings.TrimPrefix(a.wait(ctx, "link for your partner: "), "link for your partner: ")
	b = start(t, ctx, joiner, append(joinArgs, "join", link)...)
	b.wait(ctx, "paired")
	a.wait(ctx, "paired")
	return a, b
}

func TestTwoTerminals(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	srv := servertest.Start(t)
	dir := t.TempDir()
	stateB := filepath.Join(dir, "b.json")

	// Pair.
	a, b := pairTerminals(t, ctx, "sam", []string{"-server", srv.URL, "-me", "Sam", "-partner", "Alex"},
		"alex", []string{"-server", srv.URL, "-state", stateB, "-me", "Alex", "-partner", "Sam"})

	// Check in: Sam would like to be held and water; Alex would like to
	// hold Sam and water. Both see the same list, in the same words.
	a.typeLine("needs be-held water")
	a.wait(ctx, "round opened")
	b.wait(ctx, "round opened")
	b.wait(ctx, "partner answered")
	b.typeLine("needs hold-partner water")
	a.wait(ctx, "partner answered")
	sa := a.wait(ctx, "suggestions: ")
	sb := b.wait(ctx, "suggestions: ")
	if sa != sb || !strings.Contains(sa, "1. ") || !strings.Contains(sa, "Alex holds Sam") {
		t.Fatalf("suggestions differ or miss the hug:\n sam:  %s\n alex: %s", sa, sb)
	}

	// Pause and lift it.
	a.typeLine("settings mandarina")
	b.wait(ctx, "pause word: mandarina")
	a.typeLine("pause")
	b.wait(ctx, "paused by partner (mandarina) — take a breath")
	a.wait(ctx, "delivered: partner's phone has the pause")
	b.typeLine("unpause")
	b.wait(ctx, "can't: ")
	a.typeLine("unpause")
	b.wait(ctx, "partner lifted the pause")

	// Alex leaves and comes back from the state file; nothing is lost.
	b.typeLine("quit")
	if err := b.end(ctx); err != nil {
		t.Fatalf("alex quit: %v", err)
	}
	a.wait(ctx, "partner away")
	a.typeLine("space 20")
	a.wait(ctx, "you asked for 20 minutes of space")
	b = start(t, ctx, "alex again", "-state", stateB, "-me", "Alex", "-partner", "Sam", "resume")
	b.wait(ctx, "resumed")
	b.wait(ctx, "partner needs 20 minutes of space")
	a.wait(ctx, "partner online")

	// Close the round and debrief; both open at once.
	a.typeLine("close")
	a.wait(ctx, "round closed")
	b.wait(ctx, "round closed")
	a.typeLine("debrief the blanket | more quiet first")
	a.wait(ctx, "debrief saved")
	b.wait(ctx, "partner wrote a debrief")
	b.typeLine("debrief holding you | talk tomorrow")
	da := a.wait(ctx, "debriefs: ")
	db := b.wait(ctx, "debriefs: ")
	if da != "debriefs: you: helped: the blanket; next time: more quiet first / partner: helped: holding you; next time: talk tomorrow" ||
		db != "debriefs: you: helped: holding you; next time: talk tomorrow / partner: helped: the blanket; next time: more quiet first" {
		t.Fatalf("debriefs:\n sam:  %s\n alex: %s", da, db)
	}

	// Erase: both are told, both end, and the state file is gone.
	b.typeLine("erase")
	a.wait(ctx, "erased")
	b.wait(ctx, "erased")
	for _, s := range []*session{a, b} {
		if err := s.end(ctx); err != nil {
			t.Fatalf("%s: run = %v", s.name, err)
		}
	}
	if _, err := os.Stat(stateB); !os.IsNotExist(err) {
		t.Fatalf("state file after erase: %v", err)
	}

	// Nothing secret was printed: no 32-byte base64url value (a token, a
	// key, a device token) and no sealed blob, except the link itself.
	secretish := regexp.MustCompile(`[A-Za-z0-9_-]{43,}`)
	for _, s := range []*session{a, b} {
		t.Logf("%s printed:\n%s", s.name, s.transcript())
		for _, line := range strings.Split(s.transcript(), "\n") {
			if secretish.MatchString(line) && !strings.HasPrefix(line, "link for your partner: ") {
				t.Errorf("%s printed %q", s.name, line)
			}
		}
	}
}

func TestUsage(t *testing.T) {
	ctx := t.Context()
	var out, errs strings.Builder
	cases := map[string][]string{
		"no command":     {},
		"join no link":   {"join"},
		"bad link":       {"join", "https://x/#nope"},
		"resume no file": {"resume"},
		"unknown":        {"dance"},
	}
	for name, args := range cases {
		if err := run(ctx, args, strings.NewReader(""), &out, &errs); err == nil {
			t.Errorf("%s: run(%q) succeeded", name, args)
		}
	}
	if out.Len() != 0 {
		t.Errorf("usage errors printed to stdout: %q", out.String())
	}
}

// proxy forwards TCP to a server and can drop every connection and hold new
// ones, like a phone whose network went away for a while.
type proxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns []net.Conn
	gate  chan struct{} // closed while connections may pass
}

func newProxy(t *testing.T, target string) *proxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target, gate: make(chan struct{})}
	close(p.gate)
	t.Cleanup(func() { ln.Close(); p.cut() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			p.mu.Lock()
			gate := p.gate
			p.conns = append(p.conns, c)
			p.mu.Unlock()
			go func() {
				<-gate
				s, err := net.Dial("tcp", target)
				if err != nil {
					c.Close()
					return
				}
				p.mu.Lock()
				p.conns = append(p.conns, s)
				p.mu.Unlock()
				go func() { io.Copy(s, c); s.Close() }()
				io.Copy(c, s)
				c.Close()
			}()
		}
	}()
	return p
}

func (p *proxy) URL() string { return "http://" + p.ln.Addr().String() }

// cut drops every connection.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

// hold drops every connection and keeps new ones waiting until release.
func (p *proxy) hold() {
	p.mu.Lock()
	p.gate = make(chan struct{})
	p.mu.Unlock()
	p.cut()
}

func (p *proxy) release() {
	p.mu.Lock()
	close(p.gate)
	p.mu.Unlock()
}

func TestReconnect(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	srv := servertest.Start(t)
	px := newProxy(t, strings.TrimPrefix(srv.URL, "http://"))

	a, b := pairTerminals(t, ctx, "sam", []string{"-server", px.URL()}, "alex", []string{"-server", srv.URL})

	// Sam's network goes away; Alex pauses meanwhile.
	px.hold()
	a.wait(ctx, "connection lost — reconnecting")
	b.wait(ctx, "partner reconnecting")
	b.typeLine("pause")
	b.wait(ctx, "paused — type unpause")

	// The network comes back: Sam rejoins on its own and misses nothing.
	px.release()
	a.wait(ctx, "reconnected")
	a.wait(ctx, "paused by partner — take a breath")
	b.wait(ctx, "partner online")

	a.typeLine("quit")
	b.wait(ctx, "partner away")
	b.typeLine("quit")
	for _, s := range []*session{a, b} {
		if err := s.end(ctx); err != nil {
			t.Fatalf("%s: run = %v", s.name, err)
		}
	}
}
