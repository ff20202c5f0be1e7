package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"softland/client"
	"softland/client/rules"
	"softland/server/protocol"
	"softland/server/redisstore/redistest"
)

// serveEnv makes the test binary run the server instead of the tests, so a
// test can start real server processes and kill them with SIGKILL.
const serveEnv = "SOFTLAND_TEST_SERVE"

func TestMain(m *testing.M) {
	if os.Getenv(serveEnv) == "1" {
		ctx, stop := signalContext()
		defer stop()
		if err := run(ctx, nil, os.Getenv, os.Stdout, io.Discard); err != nil {
			fmt.Fprintln(os.Stderr, "softland:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// instance is a server running as its own process.
type instance struct {
	cmd *exec.Cmd
	url string
}

// startInstance runs the server as a child process with env added to this
// process's environment. Its log goes to a file whose tail the test shows
// when it fails.
func startInstance(t *testing.T, env ...string) *instance {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), append([]string{serveEnv + "=1", "SOFTLAND_ADDR=127.0.0.1:0"}, env...)...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	logPath := filepath.Join(t.TempDir(), "softland.log")
	logFile, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = logFile
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	logFile.Close()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			if b, err := os.ReadFile(logPath); err == nil {
				if len(b) > 4000 {
					b = b[len(b)-4000:]
				}
				t.Logf("instance pid %d log (tail):\n%s", cmd.Process.Pid, b)
			}
		}
	})
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil {
		t.Fatalf("instance did not start: %v", err)
	}
	go io.Copy(io.Discard, out)
	return &instance{cmd: cmd, url: strings.Fields(line)[3]}
}

// TestKillInstanceMidRound kills, with SIGKILL, the instance seat A is on,
// in the middle of a round. Seat A resumes on the other instance and gets
// exactly what it missed; seat B, on the surviving instance, carries on and
// never sees seat A leave for good: once instance two finds instance one's
// lease expired, it shows B that A is reconnecting.
func TestKillInstanceMidRound(t *testing.T) {
	rs := redistest.Start(t)
	one := startInstance(t, "SOFTLAND_REDIS_URL="+rs.URL(), "SOFTLAND_INSTANCE_LEASE=1s")
	two := startInstance(t, "SOFTLAND_REDIS_URL="+rs.URL(), "SOFTLAND_INSTANCE_LEASE=1s")
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	a, link, err := client.Create(ctx, one.url)
	must(t, err)
	defer a.Close()
	b, err := client.Join(ctx, two.url, link)
	must(t, err)
	defer b.Close()
	waitKind(t, a, protocol.KindPaired)
	round, err := a.OpenRound(ctx)
	must(t, err)
	waitKind(t, b, protocol.KindRoundOpened)
	must(t, a.SubmitNeeds(ctx, round, []string{"water", "be-held"}, rules.Plan{}))
	waitKind(t, b, protocol.KindRoundSubmitted)
	// A takes every event so far (opened, its own submitted); this is what
	// it will resume from.
	waitKind(t, a, protocol.KindRoundSubmitted)
	saved := a.State()

	must(t, one.cmd.Process.Signal(syscall.SIGKILL))
	one.cmd.Wait()
	select {
	case <-a.Done():
	case <-ctx.Done():
		t.Fatal("seat A did not notice its instance died")
	}

	// The killed instance could not say that A's socket is gone; its lease
	// running out says it for it. (On a starved machine instance one may
	// have been taken for dead earlier and come back: B may first see seat
	// 1 reconnecting and online again, never away.)
	for {
		e := waitKind(t, b, protocol.KindPresence)
		if e.Seat != 1 || e.Presence == protocol.PresenceAway {
			t.Fatalf("B saw seat %d %s, want seat 1 reconnecting", e.Seat, e.Presence)
		}
		if e.Presence == protocol.PresenceReconnecting {
			break
		}
	}

	// B acts while A is gone: its answer completes the pair, then it pauses.
	must(t, b.SubmitNeeds(ctx, round, []string{"water", "hold-partner"}, rules.Plan{}))
	reveal := waitKind(t, b, protocol.KindRoundRevealed)
	must(t, b.Pause(ctx))

	a2, err := client.Resume(ctx, two.url, saved)
	must(t, err)
	defer a2.Close()
	if a2.Snapshot() != nil {
		t.Fatal("seat A got a snapshot; it should have been replayed exactly what it missed")
	}
	var kinds []string
	next := saved.Offset + 1
	deadline := time.After(30 * time.Second)
	for len(kinds) < 5 {
		select {
		case e := <-a2.Events():
			if e.Offset != next {
				t.Fatalf("event offset %d, want %d", e.Offset, next)
			}
			next++
			if e.Kind == protocol.KindDelivered {
				continue // the phones' receipts (seen), interleaved with the rest
			}
			kinds = append(kinds, e.Kind)
			if e.Kind == protocol.KindRoundRevealed && strings.Join(e.Suggestions, ",") != strings.Join(reveal.Suggestions, ",") {
				t.Fatalf("A sees %v, B saw %v", e.Suggestions, reveal.Suggestions)
			}
		case <-deadline:
			t.Fatalf("missed events not replayed; got %v", kinds)
		}
	}
	// A was marked reconnecting while away, and is online again now.
	// (Receipts aside: how many there are depends on when each phone
	// confirmed what.)
	if strings.Join(kinds, " ") != "presence round.submitted round.revealed paused presence" {
		t.Fatalf("replayed %v", kinds)
	}
	// Nothing more, nothing twice: a round trip through the server ends it.
	// A's own receipt for what it was replayed may follow.
	must(t, a2.Ping(ctx))
	for {
		select {
		case e := <-a2.Events():
			if e.Kind != protocol.KindDelivered || e.Offset != next {
				t.Fatalf("unexpected extra event %s at %d", e.Kind, e.Offset)
			}
			next++
			continue
		default:
		}
		break
	}
	// Besides its own pause, B saw nothing of A but, at most, a presence
	// change, and never "away".
	must(t, b.Ping(ctx))
	for {
		select {
		case e := <-b.Events():
			own := e.Kind == protocol.KindPaused && e.Seat == 2
			if !own && e.Kind != protocol.KindDelivered && (e.Kind != protocol.KindPresence || e.Presence == protocol.PresenceAway) {
				t.Fatalf("seat B saw %s %s", e.Kind, e.Presence)
			}
			continue
		default:
		}
		break
	}
}

func waitKind(t *testing.T, c *client.Client, kind string) client.Event {
	t.Helper()
	deadline := time.After(30 * time.Second)
	for {
		select {
		case e := <-c.Events():
			if e.Kind == kind {
				return e
			}
		case <-deadline:
			t.Fatalf("no %s event", kind)
		}
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}
