// Command softland-bench measures a Softland server under load beside other
// servers given the same schedule in the same invocation: the bare relay
// (package floor) carrying one 100-byte message per tap and, as the floor,
// carrying Softland's whole rounds; and Centrifugo v6.9.1 with one 100-byte
// publish per tap. Only ratios within one run mean much on a shared machine.
//
// It starts what it measures as child processes on free loopback ports (a
// softland binary built from ./server/cmd/softland, redis-server, the relay,
// Centrifugo built once with go install), in the pinned mode (-pin, on by
// default with two or more CPUs) with the servers and redis-server on one CPU
// set and the phones on another. It opens N pairs of sockets spread over many
// loopback source addresses, pairs them through the real protocol (create +
// join), then runs check-in rounds (round.open, two round.submit, sometimes
// pause and unpause, round.close) on an open-loop schedule: -rate is in taps
// per second, a tap being the submit that completes a round and triggers the
// reveal, each tap has a due time, and latency runs from that due time to the
// reveal at both phones, so a server that falls behind shows its queue (no
// coordinated omission); the achieved rate is printed beside the target. It
// reports setup time, tap→reveal latency, pause delivery latency, lost or
// duplicated events, errors, the server's memory per idle socket, its CPU and
// allocations per tap, as tables and as JSON (-json FILE), and prints issue
// 14's goals as PASS/FAIL. See docs/performance.md for the measured numbers.
//
// Usage:
//
//	go run ./client/cmd/softland-bench                                  # memory store, 5,000 pairs, 5,000 taps/s, 20 s, relays, Centrifugo
//	go run ./client/cmd/softland-bench -mode memory,redis -rate 1000 -json out.json
//	go run ./client/cmd/softland-bench -mode two -instances 3 -pairs 20000 -rate 250 -duration 30s -centrifugo off
//	go run ./client/cmd/softland-bench -target http://127.0.0.1:8080 -pid 1234
//
// The code is split by what it does: internal/fleet (the phones, in this
// process or in worker processes), internal/floor (the bare relay),
// internal/peers (Centrifugo and the one-message relay), internal/procs
// (child processes, /proc, CPU pinning), internal/report (tables, JSON,
// goals); this package holds the flags and the order of a run.
//
// When one process may not open that many sockets (RLIMIT_NOFILE), the phones
// run in worker processes (this binary, -worker) driven in lock step, and the
// floor as several processes; -mode two -instances N spreads the server over
// N instances on one Redis. The peers' phones always run in this process.
//
// Every load targets loopback only, is bounded in size (at most 20,000
// pairs) and time (-duration), and stops by itself; every child process is
// killed when the benchmark ends, also on Ctrl-C.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"softland/client/cmd/softland-bench/internal/fleet"
	"softland/client/cmd/softland-bench/internal/floor"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(2)
		}
		fmt.Fprintln(os.Stderr, "softland-bench:", err)
		os.Exit(1)
	}
}

// run is the whole command, so tests can start it in-process. Besides the
// benchmark it has three hidden roles that it re-executes itself for: the
// floor relay (-floor-server), a share of the phones (-worker), and a
// profiling harness that runs the server's packages in-process with
// net/http/pprof (-harness-server), for a softland binary without -pprof.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg, err := parse(args, stderr)
	if err != nil {
		return err
	}
	switch {
	case cfg.worker:
		return fleet.ServeWorker(ctx, os.Stdin, stdout)
	case cfg.floorServer:
		return floor.Serve(ctx, cfg.addr, stdout)
	case cfg.harnessServer:
		return serveHarness(ctx, cfg.addr, cfg.redisURL, stdout, stderr)
	}
	return bench(ctx, cfg, args, stdout, stderr)
}
