package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"softland/client/cmd/softland-bench/internal/fleet"
	"softland/client/cmd/softland-bench/internal/peers"
	"softland/client/cmd/softland-bench/internal/procs"
	"softland/client/cmd/softland-bench/internal/report"
)

// env is what one invocation shares between its runs.
type env struct {
	cfg              *config
	dir              string // temporary: binaries, logs, redis
	bin              string // softland
	caps             procs.ServerCaps
	harness          bool // run the profiling harness instead of bin
	self             string
	progress         func(format string, args ...any)
	centrifugo       string // binary, when measured
	centrifugoSecret []byte // of the running node
	// perProc is how many sockets one process may hold here: RLIMIT_NOFILE
	// less room for everything else a process opens.
	perProc int
}

// Files a process keeps open besides the sockets it is measured with.
const (
	clientFileSlack = 1024
	serverFileSlack = 256
)

// bench runs every mode and the floor, prints the report and writes it as
// JSON. It fails when the run could not be carried out or a correctness check
// failed (lost, duplicated, unexpected or wrong frames, errors); the speed
// goals are only reported.
func bench(ctx context.Context, cfg *config, args []string, stdout, stderr io.Writer) error {
	e := &env{cfg: cfg, progress: func(format string, a ...any) {
		if !cfg.quiet {
			fmt.Fprintf(stderr, "softland-bench: "+format+"\n", a...)
		}
	}}
	// Each side holds one socket per phone: the servers, started from here,
	// inherit the limit.
	nofile, err := procs.RaiseNofile(uint64(2*cfg.pairs + 8192))
	if err != nil {
		return err
	}
	e.perProc = int(nofile) - serverFileSlack
	if err := e.checkFiles(); err != nil {
		return err
	}
	if pin := cfg.pin; pin != nil {
		// The phones: this process, and the workers it starts, which
		// inherit its affinity. The servers are pinned as they start.
		was, err := procs.SelfAffinity()
		if err != nil {
			return fmt.Errorf("-pin: %w", err)
		}
		if err := procs.PinProcess(os.Getpid(), pin.Phones); err != nil {
			return fmt.Errorf("-pin: %w", err)
		}
		defer procs.RestoreSelf(was)
	}
	// The clients share two cores with the server: collect their garbage
	// less often, and give it back afterwards (tests run this in-process).
	defer debug.SetGCPercent(debug.SetGCPercent(400))

	dir, err := os.MkdirTemp("", "softland-bench-*")
	if err != nil {
		return err
	}
	e.dir = dir
	keep := false
	defer func() {
		if keep {
			e.progress("logs kept in %s", dir)
		} else {
			os.RemoveAll(dir)
		}
	}()
	if cfg.profileDir != "" {
		if err := os.MkdirAll(cfg.profileDir, 0o755); err != nil {
			return err
		}
	}
	if e.self, err = os.Executable(); err != nil {
		return err
	}

	rep := &report.Report{
		Date:    time.Now().UTC().Format(time.RFC3339),
		Machine: report.MachineInfo(nofile),
		Args:    args,
		Settings: report.Settings{
			Pairs: cfg.pairs, Sockets: 2 * cfg.pairs, Rate: cfg.rate, Pinning: cfg.pin.String(),
			DurationSecond: cfg.duration.Seconds(), PauseEvery: cfg.pauseEvery,
			PerSource: cfg.perSource, SourceAddrs: (2*cfg.pairs + cfg.perSource - 1) / cfg.perSource,
		},
	}
	if n := e.clientProcs(); n > 0 {
		rep.Notes = append(rep.Notes, fmt.Sprintf("one process may open %d files here; the %d client sockets ran in %d worker processes", nofile, 2*cfg.pairs, n))
	}
	if n := e.floorProcs(); n > 1 && cfg.floor {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the floor ran as %d processes (pair i on process i mod %d), measured together", n, n))
	}
	if len(cfg.modes) > 0 && cfg.modes[0] != modeTarget {
		if err := e.prepareServer(ctx, rep); err != nil {
			return err
		}
	} else if len(cfg.targets) > 0 {
		rep.Server = "already running at " + strings.Join(cfg.targets, ", ")
	}

	if cfg.floor {
		e.progress("floor: %d pairs", cfg.pairs)
		r, err := e.measure(ctx, modeFloor)
		if err != nil {
			keep = true
			return fmt.Errorf("floor: %w", err)
		}
		rep.Floor = r
	}
	peersFit := 2*cfg.pairs <= e.perProc+serverFileSlack-clientFileSlack
	if cfg.oneWay && !peersFit {
		rep.Notes = append(rep.Notes, fmt.Sprintf("the relay with one message per tap not measured: its %d client sockets must fit in this process, which may open %d files", 2*cfg.pairs, nofile))
	} else if cfg.oneWay {
		e.progress("relay, one message per tap: %d pairs", cfg.pairs)
		r, err := e.measure(ctx, modeRelayMsg)
		if err != nil {
			keep = true
			return fmt.Errorf("relay, one message per tap: %w", err)
		}
		rep.Peers = append(rep.Peers, r)
	}
	var note string
	if e.centrifugo, note = e.centrifugoBin(ctx); note != "" {
		rep.Notes = append(rep.Notes, note)
		e.progress("%s", note)
	}
	if e.centrifugo != "" {
		if !peersFit {
			rep.Notes = append(rep.Notes, fmt.Sprintf("Centrifugo not measured: its %d client sockets must fit in this process, which may open %d files", 2*cfg.pairs, nofile))
		} else {
			e.progress("centrifugo: %d pairs", cfg.pairs)
			r, err := e.measure(ctx, modeCentrifugo)
			if err != nil {
				keep = true
				return fmt.Errorf("centrifugo: %w", err)
			}
			report.Compare(r, rep.Floor)
			rep.Peers = append(rep.Peers, r)
		}
	}
	for _, m := range cfg.modes {
		e.progress("%s: %d pairs", m, cfg.pairs)
		r, err := e.measure(ctx, m)
		if err != nil {
			keep = true
			return fmt.Errorf("%s: %w", m, err)
		}
		report.Compare(r, rep.Floor)
		rep.Results = append(rep.Results, r)
	}
	rep.Goals = report.Goals(rep)
	if p := rep.Settings.Rate * MinPairPeriod.Seconds(); float64(cfg.pairs) < p {
		rep.Notes = append(rep.Notes, fmt.Sprintf("%.0f taps/s needs at least %.0f pairs at two rounds per pair per second; the schedule was cut to %.0f taps/s", cfg.rate, p, float64(cfg.pairs)/MinPairPeriod.Seconds()))
	}
	report.Print(stdout, rep)
	if cfg.jsonPath != "" {
		b, err := json.MarshalIndent(rep, "", "  ")
		if err != nil {
			return err
		}
		if err := os.WriteFile(cfg.jsonPath, append(b, '\n'), 0o644); err != nil {
			return err
		}
	}
	var bad []string
	for _, r := range append(append(slices.Clone(rep.Results), rep.Peers...), rep.Floor) {
		if r != nil && (r.Lost|r.Duplicated|r.Unexpected|r.Mismatched|r.WrongReveal|r.Errors != 0 || r.FailedPairs != 0) {
			bad = append(bad, r.Name)
		}
	}
	if len(bad) > 0 {
		keep = true
		return fmt.Errorf("correctness checks failed for %s (see the table)", strings.Join(bad, ", "))
	}
	return nil
}

// prepareServer builds softland (or takes -server-bin) and finds out which
// of the flags the benchmark would like it has.
func (e *env) prepareServer(ctx context.Context, rep *report.Report) error {
	cfg := e.cfg
	e.bin = cfg.serverBin
	if e.bin == "" {
		e.progress("building ./server/cmd/softland")
		bin, err := procs.BuildServer(ctx, e.dir)
		if err != nil {
			return err
		}
		e.bin = bin
	}
	e.caps = procs.ProbeServer(ctx, e.bin)
	e.harness = cfg.harness || (cfg.profileDir != "" && !e.caps.Pprof)
	if e.harness {
		rep.Server = "profiling harness (server/edge, room and store packages in softland-bench -harness-server, net/http/pprof, per-address caps lifted)"
		if cfg.profileDir != "" && !cfg.harness {
			rep.Notes = append(rep.Notes, "the softland binary has no -pprof flag: profiles come from the in-process harness")
		}
		return nil
	}
	rep.Server = e.bin + " " + strings.Join(e.serverFlags(), " ")
	if !e.caps.SocketsPerIP || !e.caps.AdmitsPerIP {
		rep.Notes = append(rep.Notes, fmt.Sprintf("softland has no -sockets-per-ip/-admits-per-ip flags: the benchmark stays under the default per-address caps by using %d sockets per loopback source address", cfg.perSource))
	}
	return nil
}

// clientProcs is how many worker processes the phones need (0: they fit in
// this one).
func (e *env) clientProcs() int {
	n := 2 * e.cfg.pairs
	per := e.perProc + serverFileSlack - clientFileSlack
	need := 0
	if n > per {
		need = (n + per - 1) / per
	}
	return min(max(need, e.cfg.clientProcs), e.cfg.pairs)
}

// floorProcs is how many floor processes hold the sockets.
func (e *env) floorProcs() int {
	need := (2*e.cfg.pairs + e.perProc - 1) / e.perProc
	return min(max(need, e.cfg.floorProcs), e.cfg.pairs)
}

// checkFiles refuses a mode whose server would need more sockets than one
// process may open, before anything starts.
func (e *env) checkFiles() error {
	for _, m := range e.cfg.modes {
		per := 2 * e.cfg.pairs
		if m == modeTwo {
			per = (2*e.cfg.pairs + e.cfg.instances - 1) / e.cfg.instances
		}
		if m != modeTarget && per > e.perProc {
			return fmt.Errorf("-mode %s with %d pairs puts %d sockets on one server process, and a process may open only %d files here (RLIMIT_NOFILE, which this process cannot raise): use fewer pairs, or -mode two with more -instances", m, e.cfg.pairs, per, e.perProc+serverFileSlack)
		}
	}
	return nil
}

// serverFlags are the flags every softland instance gets besides its address
// and store.
func (e *env) serverFlags() []string {
	flags := []string{"-log-level", "warn"}
	if e.caps.SocketsPerIP {
		flags = append(flags, "-sockets-per-ip", "1000000")
	}
	if e.caps.AdmitsPerIP {
		flags = append(flags, "-admits-per-ip", "1000000")
	}
	return flags
}

// serverCPUs is where servers and redis-server run in the pinned mode (nil:
// anywhere).
func (e *env) serverCPUs() []int {
	if e.cfg.pin == nil {
		return nil
	}
	return e.cfg.pin.Server
}

// server is one measured server process.
type server struct {
	p     *procs.Proc
	url   string // http base
	pprof string // http base of /debug/pprof, if profiling
}

// startSoftland starts one softland instance (or the harness).
func (e *env) startSoftland(ctx context.Context, name, redisURL string) (*server, error) {
	if e.harness {
		args := []string{"-harness-server", "-addr", "127.0.0.1:0"}
		if redisURL != "" {
			args = append(args, "-redis-url", redisURL)
		}
		p, err := procs.Start(ctx, name, e.dir, e.self, args, procs.ChildEnviron(procs.ChildEnv+"=1"), true, e.serverCPUs())
		if err != nil {
			return nil, err
		}
		return &server{p: p, url: p.URL, pprof: p.URL}, nil
	}
	args := append([]string{"-addr", "127.0.0.1:0"}, e.serverFlags()...)
	pprofURL := ""
	if e.cfg.profileDir != "" && e.caps.Pprof {
		port, err := procs.FreePort()
		if err != nil {
			return nil, err
		}
		addr := "127.0.0.1:" + strconv.Itoa(port)
		args = append(args, "-pprof", addr)
		pprofURL = "http://" + addr
	}
	if redisURL != "" {
		args = append(args, "-redis-url", redisURL)
	}
	p, err := procs.Start(ctx, name, e.dir, e.bin, args, procs.ChildEnviron(), true, e.serverCPUs())
	if err != nil {
		return nil, err
	}
	return &server{p: p, url: p.URL, pprof: pprofURL}, nil
}

// measure starts what mode needs, runs the workload on it and stops it.
func (e *env) measure(ctx context.Context, mode string) (res *report.Result, err error) {
	cfg := e.cfg
	var (
		servers []*server
		redis   *procs.Proc
		pids    []int
	)
	defer func() {
		for _, s := range servers {
			s.p.Stop()
		}
		if redis != nil {
			redis.Stop()
		}
	}()
	redisURL := ""
	if mode == modeRedis || mode == modeTwo {
		if redis, redisURL, err = procs.StartRedis(ctx, e.dir, cfg.redisBin, e.serverCPUs()); err != nil {
			return nil, err
		}
	}
	switch mode {
	case modeFloor, modeRelayMsg:
		n := e.floorProcs()
		if mode == modeRelayMsg {
			n = 1 // the peer's phones are in this process: as many sockets as one floor may hold
		}
		for i := range n {
			p, err := procs.Start(ctx, fmt.Sprintf("floor-%d", i+1), e.dir, e.self, []string{"-floor-server", "-addr", "127.0.0.1:0"}, procs.ChildEnviron(procs.ChildEnv+"=1"), true, e.serverCPUs())
			if err != nil {
				return nil, err
			}
			servers = append(servers, &server{p: p, url: p.URL})
		}
	case modeMemory, modeRedis:
		s, err := e.startSoftland(ctx, "softland-"+mode, redisURL)
		if err != nil {
			return nil, err
		}
		servers = append(servers, s)
	case modeCentrifugo:
		s, secret, err := e.startCentrifugo(ctx)
		if err != nil {
			return nil, err
		}
		servers = append(servers, s)
		e.centrifugoSecret = secret
	case modeTwo:
		for i := range cfg.instances {
			s, err := e.startSoftland(ctx, fmt.Sprintf("softland-two-%d", i+1), redisURL)
			if err != nil {
				return nil, err
			}
			servers = append(servers, s)
		}
	}
	var bases []string
	if mode == modeTarget {
		bases = cfg.targets
		pids = cfg.pids
	} else {
		for _, s := range servers {
			bases = append(bases, s.url)
			pids = append(pids, s.p.PID())
		}
	}
	for i, b := range bases {
		var p *procs.Proc
		if i < len(servers) {
			p = servers[i].p
		}
		ready := "/readyz"
		if mode == modeCentrifugo {
			ready = "/health"
		}
		if err := procs.WaitHTTP(ctx, b+ready, p); err != nil {
			return nil, err
		}
	}
	sleep(ctx, 500*time.Millisecond)

	fc := fleet.Config{
		Wire:  fleet.WireSoftland,
		Split: mode == modeTwo || (mode == modeTarget && len(bases) == 2),
		Pairs: cfg.pairs, TotalPairs: cfg.pairs, PerSource: cfg.perSource,
		Dialers: cfg.dialers, StepTimeout: cfg.stepTimeout, PauseEvery: cfg.pauseEvery,
		RevealSize: cfg.revealSize, Progress: e.progress,
	}
	if mode == modeFloor {
		fc.Wire = fleet.WireFloor
	}
	for _, b := range bases {
		fc.Servers = append(fc.Servers, "ws"+strings.TrimPrefix(b, "http")+"/ws")
	}

	res = &report.Result{Name: mode, Mode: mode, Pairs: cfg.pairs, TargetRate: cfg.rate}
	switch mode {
	case modeFloor:
		res.Name = "relay (rounds)"
	case modeRelayMsg:
		res.Name = "relay (100 B)"
	}
	if mode == modeTwo && cfg.instances != 2 {
		res.Name = fmt.Sprintf("redis×%d", cfg.instances)
	}
	base, haveProc := procs.ReadProcs(pids)
	goBase := scrapeAll(ctx, bases)

	var clients fleet.Side
	setupStart := time.Now()
	if mode == modeCentrifugo || mode == modeRelayMsg {
		// One process holds every socket: bench made sure it may. The
		// peers dial from the fleet's loopback source addresses.
		dialer := &fleet.Local{F: fleet.New(ctx, fc)}
		defer dialer.Close()
		pc := peers.Config{
			Kind:   peers.Centrifugo,
			URL:    "ws" + strings.TrimPrefix(bases[0], "http") + "/connection/websocket",
			Secret: e.centrifugoSecret, Pairs: cfg.pairs, Dialers: cfg.dialers,
			StepTimeout: cfg.stepTimeout, Progress: e.progress,
			Client: dialer.F.Client,
		}
		if mode == modeRelayMsg {
			pc.Kind, pc.URL = peers.Relay, "ws"+strings.TrimPrefix(bases[0], "http")+"/ws"
		}
		clients = &peerSide{wait: cfg.stepTimeout, f: peers.New(pc)}
	} else if e.clientProcs() == 0 {
		clients = &fleet.Local{F: fleet.New(ctx, fc)}
	} else {
		w, err := fleet.StartWorkers(e.dir, e.self, fc, e.clientProcs())
		if err != nil {
			return nil, err
		}
		clients = w
	}
	defer clients.Close()
	active, err := clients.Setup(ctx)
	setup := time.Since(setupStart)
	if err != nil {
		return nil, err
	}
	res.Sockets = 2 * active
	res.SetupSeconds = setup.Seconds()
	res.SetupRate = float64(res.Sockets) / setup.Seconds()
	e.progress("%s: %d sockets set up in %.2fs (%.0f/s)", mode, res.Sockets, res.SetupSeconds, res.SetupRate)
	if active == 0 {
		r, _ := clients.Results(ctx)
		return nil, fmt.Errorf("no pair could be set up: %v", r.ErrorKinds)
	}
	for _, s := range servers {
		if !s.p.Alive() {
			return nil, fmt.Errorf("%s died; log: %s%s", s.p.Name, s.p.LogPath, procs.Tail(s.p.LogPath))
		}
	}

	// Idle: every socket open, nothing happening but the servers' own
	// timers (pings). CPU is read over the last two seconds of the settle.
	quiet := min(cfg.settle, 2*time.Second)
	sleep(ctx, cfg.settle-quiet)
	idle0, _ := procs.ReadProcs(pids)
	sleep(ctx, quiet)
	idle, _ := procs.ReadProcs(pids)
	goIdle := scrapeAll(ctx, bases)
	prof := e.profiler(mode, servers)
	prof.fetch(ctx, "heap-idle", "/debug/pprof/heap?gc=1")

	// The load.
	period := time.Duration(float64(active) / cfg.rate * float64(time.Second))
	period = max(period, MinPairPeriod)
	res.ScheduledRate = float64(active) / period.Seconds()
	// A pair behind schedule may go on this long after the end to catch up
	// with the taps it owes.
	grace := cfg.stepTimeout
	var redisCPU0, redisCPU1 procs.Stat
	if redis != nil {
		redisCPU0, _ = procs.ReadProc(redis.PID())
	}
	prof.fetch(ctx, "allocs-before", "/debug/pprof/allocs")
	goLoad0 := scrapeAll(ctx, bases)
	// The first rounds are prepared fleet.PrepLead before their taps: the load
	// starts now, its schedule that much later, and CPU counts from now.
	cpu0, _ := procs.ReadProcs(pids)
	bench0, _ := procs.ReadProcs(clients.PIDs())
	machine0, haveMachine := procs.MachineBusy()
	loadStart := time.Now()
	start := loadStart.Add(100*time.Millisecond + fleet.PrepLead(period))
	cpuProf := prof.start(ctx, "cpu", fmt.Sprintf("/debug/pprof/profile?seconds=%d", max(1, int(cfg.duration.Seconds()))))
	e.progress("%s: rounds for %s at %.0f taps/s (each pair every %s), open loop", mode, cfg.duration, res.ScheduledRate, period.Round(time.Millisecond))
	if err := clients.Load(ctx, start, period, cfg.duration, grace); err != nil {
		return nil, err
	}
	loadDur := time.Since(loadStart)
	cpu1, _ := procs.ReadProcs(pids)
	bench1, _ := procs.ReadProcs(clients.PIDs())
	machine1, _ := procs.MachineBusy()
	if redis != nil {
		redisCPU1, _ = procs.ReadProc(redis.PID())
	}
	goLoad1 := scrapeAll(ctx, bases)
	cpuProf.Wait()
	if err := clients.Finish(ctx); err != nil {
		return nil, err
	}
	after, _ := procs.ReadProcs(pids)
	prof.fetch(ctx, "heap-after", "/debug/pprof/heap")
	prof.fetch(ctx, "allocs-after", "/debug/pprof/allocs")
	var redisIdle procs.Stat
	if redis != nil {
		redisIdle, _ = procs.ReadProc(redis.PID())
	}
	fr, err := clients.Results(ctx)
	if err != nil {
		return nil, err
	}

	// Collect.
	res.LoadSeconds = loadDur.Seconds()
	res.Rounds, res.Submits, res.LateRounds, res.LateFrames = fr.Rounds, fr.Submits, fr.LateRounds, fr.LateFrames
	res.Lost, res.Gaps, res.Duplicated, res.Unexpected = fr.Lost, fr.Gaps, fr.Duplicated, fr.Unexpected
	res.Mismatched, res.WrongReveal, res.Errors, res.FailedPairs = fr.Mismatched, fr.Wrong, fr.Errors, fr.FailedPairs
	if len(fr.ErrorKinds) > 0 {
		res.ErrorKinds = fr.ErrorKinds
	}
	res.Taps, res.Unsent = fr.Taps, fr.Unsent
	// Achieved: the taps that completed over the time it took, from the
	// first due time to the last reveal, never less than the run's length.
	took := cfg.duration
	if fr.LastReveal > 0 {
		took = max(took, time.Unix(0, fr.LastReveal).Sub(start))
	}
	res.AchievedRate = float64(res.Taps) / took.Seconds()
	res.Reveal = report.Summarize(append(slices.Clone(fr.Sender), fr.Partner...))
	res.RevealSender = report.Summarize(fr.Sender)
	res.RevealPartner = report.Summarize(fr.Partner)
	res.Pause = report.Summarize(fr.Pause)
	res.Bench = report.ProcNumbers{CPUSeconds: bench1.CPU - bench0.CPU, CPUPercent: 100 * (bench1.CPU - bench0.CPU) / loadDur.Seconds()}
	if haveProc {
		pn := &report.ProcNumbers{
			RSSBase: base.RSS, RSSIdle: idle.RSS, RSSPeak: after.HWM,
			CPUSeconds: cpu1.CPU - cpu0.CPU,
			CPUPercent: 100 * (cpu1.CPU - cpu0.CPU) / loadDur.Seconds(),
		}
		if quiet > 0 {
			pn.IdleCPUPercent = 100 * (idle.CPU - idle0.CPU) / quiet.Seconds()
		}
		if res.Sockets > 0 {
			pn.BytesPerSocket = float64(idle.RSS-base.RSS) / float64(res.Sockets)
		}
		res.Proc = pn
	}
	if goBase.OK && goIdle.OK && res.Sockets > 0 {
		if res.Proc == nil {
			res.Proc = &report.ProcNumbers{}
		}
		n := float64(res.Sockets)
		res.Proc.HeapPerSocket = (goIdle.HeapInuse - goBase.HeapInuse) / n
		res.Proc.StackPerSocket = (goIdle.StackInuse - goBase.StackInuse) / n
		res.Proc.GoroutinesPerSock = (goIdle.Goroutines - goBase.Goroutines) / n
	}
	if goLoad0.OK && goLoad1.OK && res.Rounds > 0 && res.Proc != nil {
		res.Proc.AllocsPerRound = (goLoad1.Mallocs - goLoad0.Mallocs) / float64(res.Rounds)
		res.Proc.AllocBytesPerRound = (goLoad1.AllocBytes - goLoad0.AllocBytes) / float64(res.Rounds)
	}
	if res.Proc != nil && res.Rounds > 0 && cpu1.Writes > cpu0.Writes {
		res.Proc.WritesPerRound = float64(cpu1.Writes-cpu0.Writes) / float64(res.Rounds)
	}
	if haveMachine {
		res.MachineCPUPercent = 100 * (machine1 - machine0) / loadDur.Seconds()
		res.OtherCPUPercent = res.MachineCPUPercent - res.Bench.CPUPercent
		if res.Proc != nil {
			res.OtherCPUPercent -= res.Proc.CPUPercent
		}
	}
	if redis != nil {
		res.Redis = &report.ProcNumbers{
			RSSIdle:    redisIdle.RSS,
			CPUSeconds: redisCPU1.CPU - redisCPU0.CPU,
			CPUPercent: 100 * (redisCPU1.CPU - redisCPU0.CPU) / loadDur.Seconds(),
		}
		if res.Rounds > 0 {
			res.Redis.WritesPerRound = float64(redisCPU1.Writes-redisCPU0.Writes) / float64(res.Rounds)
		}
		res.OtherCPUPercent -= res.Redis.CPUPercent
	}
	e.progress("%s: %d rounds, reveal p99 %.2f ms, lost %d, duplicated %d, errors %d; other processes used %.0f%% CPU", mode, res.Rounds, res.Reveal.P99, res.Lost, res.Duplicated, res.Errors, max(0, res.OtherCPUPercent))
	return res, nil
}

// scrapeAll sums the Go runtime numbers over every server.
func scrapeAll(ctx context.Context, bases []string) procs.GoStats {
	var sum procs.GoStats
	sum.OK = len(bases) > 0
	for _, b := range bases {
		g := procs.ScrapeGo(ctx, b)
		sum.OK = sum.OK && g.OK
		sum.Mallocs += g.Mallocs
		sum.AllocBytes += g.AllocBytes
		sum.HeapInuse += g.HeapInuse
		sum.StackInuse += g.StackInuse
		sum.Goroutines += g.Goroutines
	}
	return sum
}

// profiler saves pprof profiles of the first server of a run, when asked.
type profiler struct {
	dir, mode, base string
	progress        func(string, ...any)
}

func (e *env) profiler(mode string, servers []*server) *profiler {
	if e.cfg.profileDir == "" || len(servers) == 0 || servers[0].pprof == "" {
		return &profiler{}
	}
	return &profiler{dir: e.cfg.profileDir, mode: mode, base: servers[0].pprof, progress: e.progress}
}

func (p *profiler) fetch(ctx context.Context, name, path string) {
	if p.base == "" {
		return
	}
	file := filepath.Join(p.dir, p.mode+"-"+name+".pprof")
	if err := procs.Fetch(ctx, p.base, path, file); err != nil {
		p.progress("profile %s: %v", name, err)
	}
}

// start fetches a profile in the background; Wait waits for it.
func (p *profiler) start(ctx context.Context, name, path string) *sync.WaitGroup {
	var wg sync.WaitGroup
	if p.base != "" {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.fetch(ctx, name, path)
		}()
	}
	return &wg
}

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
