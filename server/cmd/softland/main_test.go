package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"softland/server/protocol"
)

// start runs the whole binary in-process on a free port and returns its URL
// and a function that stops it and returns run's error.
func start(t *testing.T, env map[string]string, args ...string) (string, func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, append([]string{"-addr", "127.0.0.1:0"}, args...), func(k string) string { return env[k] }, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		cancel()
		t.Fatalf("server did not start: %v (%v)", err, <-done)
	}
	go io.Copy(io.Discard, pr)
	url := strings.Fields(line)[3]
	stopped := false
	stop := func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("server did not stop")
			return nil
		}
	}
	t.Cleanup(func() { stop() })
	return url, stop
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestRunServesAndDrains(t *testing.T) {
	url, stop := start(t, nil)
	for path, want := range map[string]string{
		"/":             "<!doctype html>",
		"/healthz":      "ok",
		"/readyz":       "ready",
		"/catalog.json": `"suggestions"`,
	} {
		code, body := get(t, url+path)
		if code != http.StatusOK || !strings.Contains(body, want) {
			t.Errorf("GET %s: %d %.80q", path, code, body)
		}
	}
	if code, _ := get(t, url+"/no-such-file"); code != http.StatusNotFound {
		t.Errorf("unknown path: %d", code)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/ws", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	ping, _ := protocol.Marshal(&protocol.Ping{Header: protocol.Header{Type: protocol.TypePing, ID: "1"}})
	ws.Write(ctx, websocket.MessageText, ping)
	if _, b, err := ws.Read(ctx); err != nil || !strings.Contains(string(b), `"pong"`) {
		t.Fatalf("ping: %s %v", b, err)
	}

	// Shutdown closes the socket with 1012 so the phone reconnects elsewhere.
	stopErr := make(chan error, 1)
	go func() { stopErr <- stop() }()
	_, _, err = ws.Read(ctx)
	if got := websocket.CloseStatus(err); got != websocket.StatusServiceRestart {
		t.Fatalf("close status %d (%v)", got, err)
	}
	if err := <-stopErr; err != nil {
		t.Fatalf("run: %v", err)
	}
}

func TestEnvironmentTwinsAndFlags(t *testing.T) {
	env := map[string]string{"SOFTLAND_REVEAL_SIZE": "5", "SOFTLAND_INVITE_TTL": "2m", "SOFTLAND_MOVE_TTL": "4m", "SOFTLAND_ORIGINS": "a.example, b.example"}
	c, err := parse([]string{"-invite-ttl", "3m"}, func(k string) string { return env[k] }, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.revealSize != 5 || c.inviteTTL != 3*time.Minute || c.moveTTL != 4*time.Minute || c.origins != "a.example, b.example" || c.addr != DefaultAddr {
		t.Fatalf("config %+v", c)
	}
	for name, args := range map[string][]string{
		"stray argument": {"extra"},
		"zero K":         {"-reveal-size", "0"},
		"unknown flag":   {"-no-such-flag"},
		"pool, no redis": {"-redis-pool-size", "50"},
		"negative pool":  {"-redis-url", "redis://127.0.0.1:1", "-redis-pool-size", "-1"},
	} {
		if _, err := parse(args, func(string) string { return "" }, io.Discard); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}
