// Command softland-bench measures a Softland server under load, next to a
// floor: a bare WebSocket relay that does nothing but forward frames, run with
// the same workload in the same invocation, so every number is also a ratio
// to what the transport alone costs on this machine.
//
// It starts what it measures as child processes on free loopback ports (a
// softland binary built from ./server/cmd/softland, redis-server, the floor),
// opens N pairs of sockets spread over many loopback source addresses, pairs
// them through the real protocol (create + join), then runs check-in rounds
// (round.open, two round.submit, sometimes pause and unpause, round.close) at
// a target aggregate submit rate. It reports setup time, tap→reveal latency
// seen by both phones, pause delivery latency, lost or duplicated events,
// errors, the server's memory per idle socket and its CPU use, as a table and
// as JSON (-json FILE), and prints the project's performance goals as
// PASS/FAIL. See docs/performance.md for the measured numbers.
//
// Usage:
//
//	go run ./client/cmd/softland-bench                                  # memory store, 5,000 pairs, 5,000 submits/s, 20 s
//	go run ./client/cmd/softland-bench -mode memory,redis,two -json out.json
//	go run ./client/cmd/softland-bench -mode two -instances 3 -pairs 20000 -rate 500 -duration 30s
//	go run ./client/cmd/softland-bench -target http://127.0.0.1:8080 -pid 1234
//
// When one process may not open that many sockets (RLIMIT_NOFILE), the phones
// run in worker processes (this binary, -worker) driven in lock step, and the
// floor as several processes; -mode two -instances N spreads the server over
// N instances on one Redis.
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
