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

// TestMoveBetweenTerminals: Alex moves the seat from one terminal to
// another with the printed move link; the old terminal is told and signed
// out (its state file removed), the partner sees the move, and the new
// terminal acts for the seat.
func TestMoveBetweenTerminals(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	srv := servertest.Start(t)
	dir := t.TempDir()
	stateOld, stateNew := filepath.Join(dir, "old.json"), filepath.Join(dir, "new.json")

	sam, old := pairTerminals(t, ctx, "sam", []string{"-server", srv.URL}, "alex-old", []string{"-server", srv.URL, "-state", stateOld})

	old.typeLine("move")
	line := old.wait(ctx, "move link (works once")
	m := regexp.MustCompile(`: (http\S+#m=\S+)$`).FindStringSubmatch(line)
	if m == nil {
		t.Fatalf("no move link in %q", line)
	}
	moved := start(t, ctx, "alex-new", "-server", srv.URL, "-state", stateNew, "move", m[1])
	moved.wait(ctx, "moved here")
	old.wait(ctx, "your seat moved to another device")
	if err := old.end(ctx); err != nil {
		t.Fatalf("old terminal: %v", err)
	}
	if _, err := os.Stat(stateOld); !os.IsNotExist(err) {
		t.Fatalf("the old terminal kept its state: %v", err)
	}
	sam.wait(ctx, "partner moved to a new device")

	moved.typeLine("pause")
	sam.wait(ctx, "paused by partner")
	if _, err := os.Stat(stateNew); err != nil {
		t.Fatalf("the new terminal saved no state: %v", err)
	}
	moved.typeLine("quit")
	sam.typeLine("quit")
	moved.end(ctx)
	sam.end(ctx)
}
