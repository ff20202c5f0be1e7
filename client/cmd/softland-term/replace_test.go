package main

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"softland/server/servertest"
)

// TestReplaceBetweenTerminals: Sam lost the phone; Alex prints a re-pair
// link, Sam's new terminal takes the seat with it, both print the same
// verification words, the lost terminal is signed out (its state file
// removed), and the new terminal acts for the seat.
func TestReplaceBetweenTerminals(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	srv := servertest.Start(t)
	dir := t.TempDir()
	stateLost, stateNew := filepath.Join(dir, "lost.json"), filepath.Join(dir, "new.json")

	alex, lost := pairTerminals(t, ctx, "alex", []string{"-server", srv.URL}, "sam-lost", []string{"-server", srv.URL, "-state", stateLost})

	alex.typeLine("replace-partner")
	line := alex.wait(ctx, "re-pair link (works once")
	m := regexp.MustCompile(`: (http\S+#r=\S+)$`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no re-pair link in %q", line)
	}
	sam := start(t, ctx, "sam-new", "-server", srv.URL, "-state", stateNew, "replace", m[1])
	words := regexp.MustCompile(`aloud: ([a-z]+( [a-z]+){3})$`)
	got := words.FindStringSubmatch(sam.wait(ctx, "compare these words"))
	want := words.FindStringSubmatch(alex.wait(ctx, "compare these words"))
	if got == nil || want == nil || got[1] != want[1] {
		t.Fatalf("verification words: new phone %q, remaining phone %q", got, want)
	}
	lost.wait(ctx, "your partner gave your seat to a new phone")
	if err := lost.end(ctx); err != nil {
		t.Fatalf("lost terminal: %v", err)
	}
	if _, err := os.Stat(stateLost); !os.IsNotExist(err) {
		t.Fatalf("the lost terminal kept its state: %v", err)
	}

	sam.typeLine("pause")
	alex.wait(ctx, "paused by partner")
	sam.typeLine("quit")
	alex.typeLine("quit")
	sam.end(ctx)
	alex.end(ctx)
}
