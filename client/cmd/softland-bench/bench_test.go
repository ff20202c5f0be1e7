package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"softland/client/cmd/softland-bench/internal/procs"
	"softland/client/cmd/softland-bench/internal/report"
)

// TestMain lets the test binary play the roles the benchmark re-executes
// itself for (the floor, the profiling harness).
func TestMain(m *testing.M) {
	if os.Getenv(procs.ChildEnv) != "" {
		ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
		err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
		stop()
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	code := m.Run()
	if bin, err := serverBin(); err == nil {
		os.RemoveAll(filepath.Dir(bin))
	}
	os.Exit(code)
}

// serverBin builds softland once for all tests.
var serverBin = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "softland-bench-test-*")
	if err != nil {
		return "", err
	}
	return procs.BuildServer(context.Background(), dir)
})

// smoke runs the benchmark in-process on a small load and returns its JSON
// report. Only correctness is asserted, never speed.
func smoke(t *testing.T, args ...string) *report.Report {
	t.Helper()
	bin, err := serverBin()
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "report.json")
	args = append([]string{"-server-bin", bin,
		"-pairs", "50", "-rate", "100", "-duration", "3s", "-settle", "200ms",
		"-pause-every", "1", "-q", "-json", out, "-centrifugo", "off",
	}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var stdout, stderr bytes.Buffer
	if err := run(ctx, args, &stdout, &stderr); err != nil {
		t.Fatalf("run %q: %v\nstdout:\n%s\nstderr:\n%s", args, err, &stdout, &stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep report.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	t.Logf("report:\n%s", &stdout)
	return &rep
}

// checkCorrect asserts what must hold at any speed: every socket paired,
// every expected reveal and pause arrived exactly once at both phones with
// consecutive offsets, both phones' reveal frames byte for byte the same and
// equal to the mutual top K, no error.
func checkCorrect(t *testing.T, r *report.Result) {
	t.Helper()
	if r == nil {
		t.Fatal("result missing")
	}
	if r.Sockets != 2*r.Pairs {
		t.Errorf("%s: %d sockets set up, want %d", r.Name, r.Sockets, 2*r.Pairs)
	}
	if r.Rounds == 0 {
		t.Errorf("%s: no round completed", r.Name)
	}
	if r.Reveal.N != int(2*r.Rounds) {
		t.Errorf("%s: %d reveal samples for %d rounds, want two per round", r.Name, r.Reveal.N, r.Rounds)
	}
	if r.Pause.N == 0 {
		t.Errorf("%s: no pause measured", r.Name)
	}
	for _, c := range []struct {
		what string
		n    int64
	}{
		{"lost", r.Lost},
		{"duplicated", r.Duplicated},
		{"unexpected", r.Unexpected},
		{"reveal frames that differ between the phones", r.Mismatched},
		{"reveals that are not the mutual top K", r.WrongReveal},
		{"errors", r.Errors},
		{"failed pairs", int64(r.FailedPairs)},
	} {
		if c.n != 0 {
			t.Errorf("%s: %d %s (%v)", r.Name, c.n, c.what, r.ErrorKinds)
		}
	}
}

func TestSmokeMemoryAndFloor(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server and 100 sockets")
	}
	t.Parallel()
	rep := smoke(t, "-mode", "memory")
	checkCorrect(t, rep.Floor)
	if len(rep.Results) != 1 {
		t.Fatalf("%d results, want 1", len(rep.Results))
	}
	checkCorrect(t, rep.Results[0])
	if rep.Results[0].Ratio["reveal_p99"] == 0 {
		t.Error("no ratio to the floor")
	}
	if len(rep.Goals) == 0 {
		t.Error("no goals judged")
	}
	// The relay carrying one message per tap: every tap received once.
	if len(rep.Peers) != 1 || rep.Peers[0].Mode != "relay-msg" {
		t.Fatalf("peers %v, want the relay with one message per tap", rep.Peers)
	}
	r := rep.Peers[0]
	if r.Taps == 0 || r.Reveal.N != int(r.Taps) || r.Lost+r.Duplicated+r.Errors+r.Unsent != 0 {
		t.Errorf("relay, one message per tap: %d taps, %d samples, lost %d, duplicated %d, errors %d, unsent %d (%v)", r.Taps, r.Reveal.N, r.Lost, r.Duplicated, r.Errors, r.Unsent, r.ErrorKinds)
	}
}

// TestSmokeProcesses runs the phones in worker processes and the floor as
// several processes, as the benchmark does when one process may not open
// enough sockets.
func TestSmokeProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server, five processes and 100 sockets")
	}
	t.Parallel()
	rep := smoke(t, "-mode", "memory", "-client-procs", "2", "-floor-procs", "3")
	checkCorrect(t, rep.Floor)
	checkCorrect(t, rep.Results[0])
}

// TestSmokeRedis runs the Redis and two-instance modes. Without redis-server
// it is skipped, unless CI is set: there it must run.
func TestSmokeRedis(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Redis, two servers and 100 sockets")
	}
	if _, err := exec.LookPath("redis-server"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("redis-server is not installed, and CI is set")
		}
		t.Skip("redis-server is not installed")
	}
	t.Parallel()
	rep := smoke(t, "-mode", "redis,two", "-floor=false")
	if len(rep.Results) != 2 {
		t.Fatalf("%d results, want 2", len(rep.Results))
	}
	for _, r := range rep.Results {
		checkCorrect(t, r)
	}
}

func TestParseRefuses(t *testing.T) {
	for name, args := range map[string][]string{
		"too many pairs":   {"-pairs", "20001"},
		"too long":         {"-duration", "11m"},
		"remote target":    {"-target", "http://192.0.2.1:8080"},
		"https target":     {"-target", "https://127.0.0.1:8443"},
		"named host":       {"-target", "http://example.com"},
		"floor off remote": {"-floor-server", "-addr", "0.0.0.0:0"},
		"unknown mode":     {"-mode", "cluster"},
		"pid alone":        {"-pid", "1"},
		"pin overlaps":     {"-pin", "0/0"},
		"pin not a list":   {"-pin", "0/x"},
	} {
		t.Run(name, func(t *testing.T) {
			if _, err := parse(args, io.Discard); err == nil {
				t.Errorf("parse(%q) accepted", args)
			}
		})
	}
}

// TestSmokeCentrifugo runs the Centrifugo peer beside the floor when
// SOFTLAND_BENCH_CENTRIFUGO names a centrifugo binary (building one takes
// minutes and the module proxy, so no test does it).
func TestSmokeCentrifugo(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Centrifugo and 100 sockets")
	}
	bin := os.Getenv("SOFTLAND_BENCH_CENTRIFUGO")
	if bin == "" {
		t.Skip("set SOFTLAND_BENCH_CENTRIFUGO to a centrifugo v6.9.1 binary to run this")
	}
	t.Parallel()
	rep := smoke(t, "-mode", "floor", "-centrifugo", bin)
	if len(rep.Peers) != 2 {
		t.Fatalf("%d peers measured, want 2: the relay with one message per tap and Centrifugo (notes: %v)", len(rep.Peers), rep.Notes)
	}
	c := rep.Peers[len(rep.Peers)-1]
	if c.Taps == 0 || c.Reveal.N != int(c.Taps) {
		t.Errorf("centrifugo: %d taps, %d latency samples", c.Taps, c.Reveal.N)
	}
	if c.Lost+c.Duplicated+c.Errors+c.Unsent != 0 {
		t.Errorf("centrifugo: lost %d, duplicated %d, errors %d, unsent %d (%v)", c.Lost, c.Duplicated, c.Errors, c.Unsent, c.ErrorKinds)
	}
}
