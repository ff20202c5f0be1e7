package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"

	"softland/client/cmd/softland-bench/internal/fleet"
	"softland/client/cmd/softland-bench/internal/procs"
	"softland/client/cmd/softland-bench/internal/report"
)

// Hard bounds: a benchmark that could be pointed at anything, or run for
// ever, is a load generator.
const (
	MaxPairs    = 20000
	MaxDuration = 10 * time.Minute
	// MinPairPeriod is the shortest time between two rounds of one pair
	// (see fleet.MinPairPeriod).
	MinPairPeriod = fleet.MinPairPeriod
	// The Centrifugo release the benchmark compares with.
	CentrifugoVersion = "v6.9.1"
)

// Defaults: the load the project's goals are stated for.
const (
	DefaultPairs       = 5000
	DefaultRate        = 5000
	DefaultDuration    = 20 * time.Second
	DefaultPauseEvery  = 4
	DefaultPerSource   = 10 // the server's default create/join burst per address
	DefaultDialers     = 64
	DefaultStepTimeout = 10 * time.Second
	DefaultSettle      = 3 * time.Second
	DefaultRevealSize  = 3
)

// Modes the benchmark can run; "target" is implied by -target.
const (
	modeMemory     = report.ModeMemory
	modeRedis      = report.ModeRedis
	modeTwo        = report.ModeTwo
	modeTarget     = report.ModeTarget
	modeFloor      = report.ModeFloor
	modeCentrifugo = report.ModeCentrifugo
	modeRelayMsg   = report.ModeRelayMsg
)

type config struct {
	modes       []string
	targets     []string // http base URLs: seat 1's, and seat 2's if different
	pids        []int
	pairs       int
	rate        float64 // taps per second
	pin         *procs.Pinning
	centrifugo  string // "", "auto" or a binary
	oneWay      bool   // also the relay with one message per tap
	duration    time.Duration
	pauseEvery  int
	floor       bool
	jsonPath    string
	serverBin   string
	redisBin    string
	perSource   int
	dialers     int
	stepTimeout time.Duration
	settle      time.Duration
	revealSize  int
	profileDir  string
	harness     bool
	quiet       bool
	instances   int
	clientProcs int
	floorProcs  int

	// Hidden roles.
	worker        bool
	floorServer   bool
	harnessServer bool
	addr          string
	redisURL      string
}

func parse(args []string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("softland-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var modes, targets, pids string
	fs.StringVar(&modes, "mode", modeMemory, "comma-separated: memory (softland, memory store), redis (softland on its own redis-server), two (-instances softland instances on one Redis, partners on different instances: with two, seat 1 on the first and seat 2 on the second), floor (only the floor)")
	fs.StringVar(&targets, "target", "", "measure an already running server at this loopback http URL instead (a second URL, comma-separated, takes seat 2)")
	fs.StringVar(&pids, "pid", "", "with -target: the server process ids (comma-separated) to read memory and CPU from")
	fs.IntVar(&c.pairs, "pairs", DefaultPairs, fmt.Sprintf("pairs of sockets (at most %d)", MaxPairs))
	fs.Float64Var(&c.rate, "rate", DefaultRate, "target taps per second over all pairs: a tap is the submit that completes a pair's round and triggers the reveal, so each tap is one round and two submits (before, -rate counted submits: twice this)")
	var pin string
	fs.StringVar(&pin, "pin", "auto", "pinned mode: SERVER/PHONES CPU lists (e.g. 0/1) for the measured server and its redis-server, and for the phones; auto: server on CPU 0, phones on the others (with at least two CPUs); off: not pinned")
	fs.BoolVar(&c.oneWay, "relay-msg", true, "also measure the bare relay carrying one 100-byte message per tap, one way (the floor with -floor carries Softland's whole rounds)")
	fs.StringVar(&c.centrifugo, "centrifugo", "auto", "also measure Centrifugo "+CentrifugoVersion+" with one subscriber and one publisher per pair, one 100-byte publish per tap: auto (go install it once into the user cache directory), a centrifugo binary, or off")
	fs.DurationVar(&c.duration, "duration", DefaultDuration, fmt.Sprintf("how long check-in rounds run (at most %s)", MaxDuration))
	fs.IntVar(&c.pauseEvery, "pause-every", DefaultPauseEvery, "every Nth round of a pair also pauses and unpauses (0: never)")
	fs.BoolVar(&c.floor, "floor", true, "also run the same workload against the bare relay floor and report ratios")
	fs.StringVar(&c.jsonPath, "json", "", "also write the report as JSON to this file")
	fs.StringVar(&c.serverBin, "server-bin", "", "softland binary to run (default: go build ./server/cmd/softland into a temporary directory)")
	fs.StringVar(&c.redisBin, "redis-server", "redis-server", "redis-server binary for -mode redis and two")
	fs.IntVar(&c.perSource, "per-source", DefaultPerSource, "sockets per loopback source address (127.0.0.2, 127.0.0.3, ...)")
	fs.IntVar(&c.dialers, "dialers", DefaultDialers, "pairs being set up at once")
	fs.DurationVar(&c.stepTimeout, "step-timeout", DefaultStepTimeout, "how long one request may take before its missing frames count as lost")
	fs.DurationVar(&c.settle, "settle", DefaultSettle, "idle time after setup before memory is read")
	fs.IntVar(&c.revealSize, "reveal-size", DefaultRevealSize, "K the server reveals (to check reveal contents)")
	fs.StringVar(&c.profileDir, "profile", "", "write the server's CPU profile (load phase) and heap profiles (idle, after load) to this directory")
	fs.BoolVar(&c.harness, "harness", false, "run the server's packages in a profiling harness (this binary, -harness-server) instead of the softland binary; implied by -profile when the binary has no -pprof flag")
	fs.BoolVar(&c.quiet, "q", false, "no progress lines on stderr")
	fs.IntVar(&c.instances, "instances", 2, "softland instances sharing one Redis in -mode two (partners always on different instances)")
	fs.IntVar(&c.clientProcs, "client-procs", 0, "run the phones in at least this many worker processes (0: in this process while RLIMIT_NOFILE allows)")
	fs.IntVar(&c.floorProcs, "floor-procs", 0, "run the floor as at least this many processes (0: one while RLIMIT_NOFILE allows)")
	fs.BoolVar(&c.worker, "worker", false, "(internal) run a share of the phones, driven over stdin and stdout")
	fs.BoolVar(&c.floorServer, "floor-server", false, "(internal) serve the floor relay on -addr")
	fs.BoolVar(&c.harnessServer, "harness-server", false, "(internal) serve the profiling harness on -addr")
	fs.StringVar(&c.addr, "addr", "127.0.0.1:0", "(internal) listen address for -floor-server and -harness-server")
	fs.StringVar(&c.redisURL, "redis-url", "", "(internal) Redis for -harness-server")
	err := fs.Parse(args)
	if err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if c.worker {
		return c, nil
	}
	if c.floorServer || c.harnessServer {
		return c, checkLoopbackAddr(c.addr)
	}
	if c.pin, err = procs.ParsePin(pin); err != nil {
		return nil, err
	}
	if c.centrifugo == "off" {
		c.centrifugo = ""
	}
	for _, m := range strings.Split(modes, ",") {
		switch m = strings.TrimSpace(m); m {
		case modeMemory, modeRedis, modeTwo:
			c.modes = append(c.modes, m)
		case modeFloor, "":
			c.floor = c.floor || m == modeFloor
		default:
			return nil, fmt.Errorf("-mode %q: want memory, redis, two or floor (the floor alone)", m)
		}
	}
	if targets != "" {
		for _, t := range strings.Split(targets, ",") {
			t = strings.TrimRight(strings.TrimSpace(t), "/")
			if err := checkLoopbackURL(t); err != nil {
				return nil, err
			}
			c.targets = append(c.targets, t)
		}
		if len(c.targets) > 2 {
			return nil, errors.New("-target takes one URL, or two (seat 1's, seat 2's)")
		}
		c.modes = []string{modeTarget}
	}
	if pids != "" {
		if targets == "" {
			return nil, errors.New("-pid needs -target")
		}
		for _, p := range strings.Split(pids, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(p))
			if err != nil || n <= 0 {
				return nil, fmt.Errorf("-pid %q: not a process id", p)
			}
			c.pids = append(c.pids, n)
		}
	}
	switch {
	case len(c.modes) == 0 && !c.floor && c.centrifugo == "" && !c.oneWay:
		return nil, errors.New("nothing to measure: give -mode or -target")
	case c.pairs < 1 || c.pairs > MaxPairs:
		return nil, fmt.Errorf("-pairs must be 1 to %d", MaxPairs)
	case c.duration <= 0 || c.duration > MaxDuration:
		return nil, fmt.Errorf("-duration must be more than 0 and at most %s", MaxDuration)
	case c.rate <= 0:
		return nil, errors.New("-rate must be positive")
	case c.pauseEvery < 0:
		return nil, errors.New("-pause-every must be 0 or more")
	case c.perSource < 1 || c.dialers < 1 || c.revealSize < 1:
		return nil, errors.New("-per-source, -dialers and -reveal-size must be at least 1")
	case c.instances < 2 || c.instances > 8:
		return nil, errors.New("-instances must be 2 to 8")
	case c.clientProcs < 0 || c.clientProcs > 16 || c.floorProcs < 0 || c.floorProcs > 16:
		return nil, errors.New("-client-procs and -floor-procs must be 0 to 16")
	case c.stepTimeout <= 0 || c.settle < 0:
		return nil, errors.New("-step-timeout must be positive and -settle not negative")
	}
	return c, nil
}

// checkLoopbackURL refuses a target that is not on this machine's loopback:
// the benchmark must never load anyone else's server.
func checkLoopbackURL(s string) error {
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-target %q: want an http(s)://host:port URL", s)
	}
	if u.Scheme == "https" {
		return fmt.Errorf("-target %q: the benchmark speaks plain ws:// on loopback only", s)
	}
	return checkLoopbackHost(u.Hostname())
}

func checkLoopbackAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return err
	}
	return checkLoopbackHost(host)
}

func checkLoopbackHost(host string) error {
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("%q is not a loopback address; the benchmark only loads this machine", host)
	}
	return nil
}
