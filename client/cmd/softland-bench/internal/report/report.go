// Package report holds what one benchmark run measured, judges issue 14's
// Goals on it, and prints it: every server side by side, then each beside
// the bare relay.
package report

import (
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// Modes a result can come from.
const (
	ModeMemory     = "memory"     // softland, memory store
	ModeRedis      = "redis"      // softland on its own redis-server
	ModeTwo        = "two"        // softland instances sharing one Redis
	ModeTarget     = "target"     // an already running server
	ModeFloor      = "floor"      // the bare relay
	ModeCentrifugo = "centrifugo" // Centrifugo, the same schedule
	ModeRelayMsg   = "relay-msg"  // the bare relay, one 100-byte message per tap
)

// Report is everything one invocation measured; -json writes it as is.
type Report struct {
	Date     string    `json:"date"`
	Machine  Machine   `json:"machine"`
	Args     []string  `json:"args"`
	Settings Settings  `json:"settings"`
	Server   string    `json:"server"` // what ran as softland: binary path and flags used, or the harness
	Floor    *Result   `json:"floor,omitempty"`
	Peers    []*Result `json:"peers,omitempty"` // general-purpose servers with the same schedule (Centrifugo)
	Results  []*Result `json:"results"`
	Goals    []Goal    `json:"goals"`
	Notes    []string  `json:"notes,omitempty"`
}

// Machine describes where the numbers come from.
type Machine struct {
	CPUs      int    `json:"cpus"`
	MemTotal  int64  `json:"mem_total_bytes"`
	Kernel    string `json:"kernel"`
	GoVersion string `json:"go_version"`
	NoFile    uint64 `json:"nofile_limit"`
}

// Settings is the workload.
type Settings struct {
	Pairs          int     `json:"pairs"`
	Sockets        int     `json:"sockets"`
	Rate           float64 `json:"target_taps_per_second"`
	Pinning        string  `json:"pinning"`
	DurationSecond float64 `json:"duration_seconds"`
	PauseEvery     int     `json:"pause_every"`
	PerSource      int     `json:"sockets_per_source_address"`
	SourceAddrs    int     `json:"source_addresses"`
}

// Result is one server's measurements.
type Result struct {
	Name    string `json:"name"` // memory, redis, two (redis×N with N instances), target or floor
	Mode    string `json:"mode"` // memory, redis, two, target or floor
	Pairs   int    `json:"pairs"`
	Sockets int    `json:"sockets"` // set up successfully

	SetupSeconds float64 `json:"setup_seconds"`
	SetupRate    float64 `json:"setup_sockets_per_second"`

	// Rates are in taps: completing submits, one per round.
	TargetRate    float64 `json:"target_taps_per_second"`
	ScheduledRate float64 `json:"scheduled_taps_per_second"` // after the per-pair cap
	AchievedRate  float64 `json:"achieved_taps_per_second"`  // completed taps over first due time to last reveal
	Taps          int64   `json:"taps"`
	Unsent        int64   `json:"taps_unsent"` // due before the end, never completed (counted in latency as their wait until cutoff)
	LoadSeconds   float64 `json:"load_seconds"`
	Rounds        int64   `json:"rounds"`
	Submits       int64   `json:"submits"`
	LateRounds    int64   `json:"late_rounds"` // rounds that started after their tap was due

	Reveal        Latency `json:"tap_to_reveal_ms"`         // both phones' samples, from the tap's due time
	RevealSender  Latency `json:"tap_to_reveal_tapping_ms"` // the phone whose submit completed the pair
	RevealPartner Latency `json:"tap_to_reveal_partner_ms"` // the other phone
	Pause         Latency `json:"pause_ms"`                 // at the partner

	Lost        int64          `json:"lost"`        // missing expected frames + offset gaps
	Gaps        int64          `json:"lost_gaps"`   // of Lost: offsets a socket skipped
	LateFrames  int64          `json:"late_frames"` // arrived only after their step timed out (counted in errors)
	Duplicated  int64          `json:"duplicated"`  // repeated offsets + second copies
	Unexpected  int64          `json:"unexpected"`
	Mismatched  int64          `json:"reveal_mismatched"` // reveal frames not byte-identical at both phones
	WrongReveal int64          `json:"reveal_wrong"`      // not the mutual top K of the two submissions
	Errors      int64          `json:"errors"`
	FailedPairs int            `json:"failed_pairs"`
	ErrorKinds  map[string]int `json:"error_kinds,omitempty"`

	Proc  *ProcNumbers `json:"server,omitempty"`
	Redis *ProcNumbers `json:"redis,omitempty"`
	Bench ProcNumbers  `json:"bench"` // this process (the clients)
	// MachineCPUPercent is the whole machine's busy CPU during the load
	// (100 = one core); OtherCPUPercent what processes other than the
	// benchmark, its servers and Redis used of it. On a shared machine a
	// high value makes every latency in the run suspect.
	MachineCPUPercent float64 `json:"machine_cpu_percent"`
	OtherCPUPercent   float64 `json:"other_cpu_percent"`

	Ratio map[string]float64 `json:"vs_floor,omitempty"`
}

// ProcNumbers is memory and CPU of a process (or the sum over instances).
type ProcNumbers struct {
	RSSBase        int64   `json:"rss_before_sockets_bytes,omitempty"`
	RSSIdle        int64   `json:"rss_idle_bytes,omitempty"`
	RSSPeak        int64   `json:"rss_peak_bytes,omitempty"`
	BytesPerSocket float64 `json:"rss_bytes_per_idle_socket,omitempty"`
	CPUPercent     float64 `json:"cpu_percent_during_load"` // 100 = one core
	CPUSeconds     float64 `json:"cpu_seconds_during_load"`
	IdleCPUPercent float64 `json:"cpu_percent_idle"` // every socket open, no rounds

	// From the Go runtime (softland's /metrics, the floor's copy).
	HeapPerSocket      float64 `json:"heap_inuse_bytes_per_idle_socket,omitempty"`
	StackPerSocket     float64 `json:"stack_inuse_bytes_per_idle_socket,omitempty"`
	GoroutinesPerSock  float64 `json:"goroutines_per_idle_socket,omitempty"`
	AllocsPerRound     float64 `json:"allocs_per_round,omitempty"`
	AllocBytesPerRound float64 `json:"alloc_bytes_per_round,omitempty"`
	// WritesPerRound is write system calls per tap during the load.
	WritesPerRound float64 `json:"writes_per_round,omitempty"`
}

// Latency is a distribution in milliseconds.
type Latency struct {
	N    int     `json:"n"`
	P50  float64 `json:"p50"`
	P90  float64 `json:"p90"`
	P99  float64 `json:"p99"`
	P999 float64 `json:"p999"`
	Max  float64 `json:"max"`
}

// Goal is one of the project's performance goals, judged on this run.
type Goal struct {
	Goal     string `json:"goal"`
	Status   string `json:"status"` // PASS, FAIL or N/A
	Measured string `json:"measured"`
}

func Summarize(ns []int64) Latency {
	if len(ns) == 0 {
		return Latency{}
	}
	slices.Sort(ns)
	q := func(p float64) float64 {
		i := int(math.Ceil(p*float64(len(ns)))) - 1
		return ms(ns[max(0, min(i, len(ns)-1))])
	}
	return Latency{N: len(ns), P50: q(0.50), P90: q(0.90), P99: q(0.99), P999: q(0.999), Max: ms(ns[len(ns)-1])}
}

func ms(ns int64) float64 { return float64(ns) / 1e6 }

func MachineInfo(nofile uint64) Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), NoFile: nofile}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				m.MemTotal = kb << 10
			}
		}
	}
	return m
}

// Compare fills r.Ratio: each number divided by the floor's.
func Compare(r, floor *Result) {
	if floor == nil {
		return
	}
	r.Ratio = map[string]float64{}
	set := func(k string, a, b float64) {
		if b > 0 && a > 0 {
			r.Ratio[k] = a / b
		}
	}
	set("setup_seconds", r.SetupSeconds, floor.SetupSeconds)
	set("reveal_p50", r.Reveal.P50, floor.Reveal.P50)
	set("reveal_p90", r.Reveal.P90, floor.Reveal.P90)
	set("reveal_p99", r.Reveal.P99, floor.Reveal.P99)
	set("reveal_p999", r.Reveal.P999, floor.Reveal.P999)
	set("reveal_max", r.Reveal.Max, floor.Reveal.Max)
	set("pause_p50", r.Pause.P50, floor.Pause.P50)
	set("pause_p99", r.Pause.P99, floor.Pause.P99)
	if r.Proc != nil && floor.Proc != nil {
		set("rss_idle", float64(r.Proc.RSSIdle), float64(floor.Proc.RSSIdle))
		set("bytes_per_socket", r.Proc.BytesPerSocket, floor.Proc.BytesPerSocket)
		set("cpu_percent", r.Proc.CPUPercent, floor.Proc.CPUPercent)
		set("allocs_per_round", r.Proc.AllocsPerRound, floor.Proc.AllocsPerRound)
		set("alloc_bytes_per_round", r.Proc.AllocBytesPerRound, floor.Proc.AllocBytesPerRound)
		set("writes_per_round", r.Proc.WritesPerRound, floor.Proc.WritesPerRound)
	}
}

// Goal thresholds (issue 14).
const (
	goalPairs          = 5000
	goalMemoryRate     = 5000 // taps/s the memory store keeps up with
	goalRedisRate      = 3000 // taps/s the Redis store keeps up with
	goalRelayRatio     = 3    // memory p99 within this many times the relay's
	goalRedisRatio     = 3    // Redis p99 within this many times memory's, at 1,000/s
	goalRedisRatioRate = 1000
	goalAllocs         = 60
	goalAllocBytes     = 8 << 10
	goalBytesPerSocket = 28 << 10 // 28 KiB
	// keepUp is the share of the scheduled taps a server must complete in
	// the run's time to count as keeping up.
	keepUp = 0.99
)

func judge(ok bool) string {
	if ok {
		return "PASS"
	}
	return "FAIL"
}

// keptUp reports whether r completed its schedule: nothing unsent and the
// achieved rate within keepUp of the scheduled one.
func keptUp(r *Result) bool {
	return r.Unsent == 0 && r.AchievedRate >= keepUp*r.ScheduledRate
}

// Goals judges issue 14's goals on what this run measured. Each run is at
// one rate: a goal stated for another rate or load is N/A, with the reason,
// and a run that was not pinned or had fewer pairs than the goals are stated
// for says so beside the verdict.
func Goals(rep *Report) []Goal {
	var gs []Goal
	byMode := map[string]*Result{}
	for _, r := range append(slices.Clone(rep.Results), rep.Peers...) {
		byMode[r.Mode] = r
	}
	mem, redis, cent, floor := byMode[ModeMemory], byMode[ModeRedis], byMode[ModeCentrifugo], rep.Floor
	// The bare relay of the goal is the one carrying one message per tap,
	// as Centrifugo does; without it, the floor carrying whole rounds.
	if r := byMode[ModeRelayMsg]; r != nil {
		floor = r
	}
	rate := rep.Settings.Rate
	caveat := ""
	if rep.Settings.Pairs < goalPairs {
		caveat += fmt.Sprintf("; at %d pairs, the goals are stated for %d", rep.Settings.Pairs, goalPairs)
	}
	if rep.Settings.Pinning == "off" {
		caveat += "; not pinned, the goals are stated pinned"
	}
	add := func(name string, ok bool, measured string) {
		gs = append(gs, Goal{Goal: name, Status: judge(ok), Measured: measured + caveat})
	}
	na := func(name, why string) { gs = append(gs, Goal{Goal: name, Status: "N/A", Measured: why}) }
	rateLine := func(r *Result) string {
		return fmt.Sprintf("%s: %.0f of %.0f taps/s, %d unsent", r.Name, r.AchievedRate, r.ScheduledRate, r.Unsent)
	}

	name := fmt.Sprintf("memory store keeps up with %d taps/s", goalMemoryRate)
	switch {
	case mem == nil:
		na(name, "mode memory not run")
	case rate < goalMemoryRate:
		na(name, fmt.Sprintf("run at %.0f taps/s; %s", rate, rateLine(mem)))
	default:
		add(name, keptUp(mem), rateLine(mem))
	}
	name = fmt.Sprintf("memory store: tap→reveal p99 below Centrifugo's in the same run (at %.0f taps/s)", rate)
	switch {
	case mem == nil || cent == nil:
		na(name, "needs modes memory and centrifugo in one run")
	default:
		add(name, mem.Reveal.P99 < cent.Reveal.P99, fmt.Sprintf("p99 %.2f ms vs Centrifugo %.2f ms", mem.Reveal.P99, cent.Reveal.P99))
	}
	name = fmt.Sprintf("memory store: tap→reveal p99 within %d× the bare relay's (at %.0f taps/s)", goalRelayRatio, rate)
	switch {
	case mem == nil || floor == nil || floor.Reveal.P99 == 0:
		na(name, "needs mode memory and a relay in one run")
	default:
		ratio := mem.Reveal.P99 / floor.Reveal.P99
		add(name, ratio <= goalRelayRatio, fmt.Sprintf("p99 %.2f ms vs %s %.2f ms = %.2f×", mem.Reveal.P99, floor.Name, floor.Reveal.P99, ratio))
	}
	name = fmt.Sprintf("Redis store keeps up with %d taps/s", goalRedisRate)
	switch {
	case redis == nil:
		na(name, "mode redis not run")
	case rate < goalRedisRate:
		na(name, fmt.Sprintf("run at %.0f taps/s; %s", rate, rateLine(redis)))
	default:
		add(name, keptUp(redis), rateLine(redis))
	}
	name = fmt.Sprintf("Redis store: p99 within %d× the memory store's at %d taps/s", goalRedisRatio, goalRedisRatioRate)
	switch {
	case redis == nil || mem == nil || mem.Reveal.P99 == 0:
		na(name, "needs modes memory and redis in one run")
	case rate != goalRedisRatioRate:
		na(name, fmt.Sprintf("run at %.0f taps/s; p99 %.2f ms vs memory %.2f ms", rate, redis.Reveal.P99, mem.Reveal.P99))
	default:
		ratio := redis.Reveal.P99 / mem.Reveal.P99
		add(name, ratio <= goalRedisRatio, fmt.Sprintf("p99 %.2f ms vs memory %.2f ms = %.2f×", redis.Reveal.P99, mem.Reveal.P99, ratio))
	}
	name = fmt.Sprintf("server: ≤ %d allocations and ≤ %d KB allocated per tap (a whole round: open, two submits, close, pauses)", goalAllocs, goalAllocBytes>>10)
	if mem == nil || mem.Proc == nil || mem.Proc.AllocsPerRound == 0 {
		na(name, "needs mode memory with the server's /metrics")
	} else {
		add(name, mem.Proc.AllocsPerRound <= goalAllocs && mem.Proc.AllocBytesPerRound <= goalAllocBytes,
			fmt.Sprintf("memory: %.0f allocations, %.0f bytes per tap", mem.Proc.AllocsPerRound, mem.Proc.AllocBytesPerRound))
	}
	name = "RSS per idle socket ≤ 28 KiB"
	done := false
	for _, mode := range []string{ModeMemory, ModeTarget, ModeRedis, ModeTwo} {
		if r := byMode[mode]; r != nil && r.Proc != nil && r.Proc.BytesPerSocket > 0 && !done {
			if r.Sockets < 2000 {
				na(name, fmt.Sprintf("%s: %.0f bytes per socket over only %d sockets", r.Name, r.Proc.BytesPerSocket, r.Sockets))
			} else {
				add(name, r.Proc.BytesPerSocket <= goalBytesPerSocket, fmt.Sprintf("%s: %.0f bytes per socket over %d sockets", r.Name, r.Proc.BytesPerSocket, r.Sockets))
			}
			done = true
		}
	}
	if !done {
		na(name, "no server process to read")
	}
	var parts []string
	ok := true
	for _, r := range append(append(slices.Clone(rep.Results), rep.Peers...), rep.Floor) {
		if r == nil {
			continue
		}
		ok = ok && r.Lost == 0 && r.Duplicated == 0 && r.Mismatched == 0 && r.WrongReveal == 0
		parts = append(parts, fmt.Sprintf("%s %d/%d/%d", r.Name, r.Lost, r.Duplicated, r.Mismatched+r.WrongReveal))
	}
	gs = append(gs, Goal{Goal: "0 lost, 0 duplicated, identical and correct reveals (every server)", Status: judge(ok), Measured: "lost/duplicated/bad reveals: " + strings.Join(parts, ", ")})
	return gs
}

// Print writes the tables: one per measured server, beside the floor.
func Print(w io.Writer, rep *Report) {
	fmt.Fprintf(w, "\nsoftland-bench %s — %d CPUs, %.1f GiB, Linux %s, %s\n", rep.Date, rep.Machine.CPUs, float64(rep.Machine.MemTotal)/(1<<30), rep.Machine.Kernel, rep.Machine.GoVersion)
	s := rep.Settings
	fmt.Fprintf(w, "workload: %d pairs (%d sockets from %d loopback addresses), target %.0f taps/s open loop, %s of rounds, pause every %d rounds\n",
		s.Pairs, s.Sockets, s.SourceAddrs, s.Rate, time.Duration(s.DurationSecond*float64(time.Second)), s.PauseEvery)
	fmt.Fprintf(w, "pinned: %s\n", s.Pinning)
	fmt.Fprintf(w, "server: %s\n", rep.Server)
	printSummary(w, rep)
	for _, r := range append(slices.Clone(rep.Peers), rep.Results...) {
		if rep.Floor != nil {
			fmt.Fprintf(w, "\n== %s vs floor ==\n", r.Name)
		} else {
			fmt.Fprintf(w, "\n== %s ==\n", r.Name)
		}
		printTable(w, r, rep.Floor)
	}
	if rep.Floor != nil && (len(rep.Results) == 0 || len(rep.Floor.ErrorKinds) > 0) {
		fmt.Fprintf(w, "\n== floor ==\n")
		printTable(w, rep.Floor, nil)
	}
	fmt.Fprintf(w, "\ngoals (never asserted by tests):\n")
	for _, g := range rep.Goals {
		fmt.Fprintf(w, "  %-4s  %s\n        %s\n", g.Status, g.Goal, g.Measured)
	}
	for _, n := range rep.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
}

// printSummary is the comparison: every server of the run side by side,
// latency from each tap's due time. "other CPU" is what the rest of the
// machine used meanwhile (loopback networking in softirq counts there too):
// when it is high, the run's tails say more about the neighbours than about
// the server.
func printSummary(w io.Writer, rep *Report) {
	all := []*Result{}
	if rep.Floor != nil {
		all = append(all, rep.Floor)
	}
	all = append(append(all, rep.Peers...), rep.Results...)
	if len(all) == 0 {
		return
	}
	fmt.Fprintf(w, "\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "server\ttaps/s target\tachieved\tunsent\tp50 ms\tp99 ms\tp99.9 ms\tmax ms\tlost/dup\tserver CPU %%\tRSS/idle socket\tallocs/tap\tbytes/tap\twrites/tap\tphones CPU %%\tother CPU %%\t\n")
	for _, r := range all {
		cpu, rss, allocs, bytes, writes := "-", "-", "-", "-", "-"
		if p := r.Proc; p != nil {
			cpu = fmt.Sprintf("%.0f", p.CPUPercent)
			if r.Redis != nil {
				cpu += fmt.Sprintf(" +%.0f redis", r.Redis.CPUPercent)
			}
			if p.BytesPerSocket > 0 {
				rss = fmt.Sprintf("%.1f KiB", p.BytesPerSocket/1024)
			}
			if p.AllocsPerRound > 0 {
				allocs, bytes = fmt.Sprintf("%.0f", p.AllocsPerRound), fmt.Sprintf("%.0f", p.AllocBytesPerRound)
			}
			if p.WritesPerRound > 0 {
				writes = fmt.Sprintf("%.1f", p.WritesPerRound)
				if r.Redis != nil && r.Redis.WritesPerRound > 0 {
					writes += fmt.Sprintf(" +%.1f redis", r.Redis.WritesPerRound)
				}
			}
		}
		fmt.Fprintf(tw, "%s\t%.0f\t%.0f\t%d\t%.2f\t%.2f\t%.2f\t%.1f\t%d/%d\t%s\t%s\t%s\t%s\t%s\t%.0f\t%.0f\t\n",
			r.Name, r.ScheduledRate, r.AchievedRate, r.Unsent, r.Reveal.P50, r.Reveal.P99, r.Reveal.P999, r.Reveal.Max, r.Lost, r.Duplicated, cpu, rss, allocs, bytes, writes, r.Bench.CPUPercent, max(0, r.OtherCPUPercent))
	}
	tw.Flush()
}

func printTable(w io.Writer, r, floor *Result) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	name := r.Name
	if floor != nil {
		fmt.Fprintf(tw, "metric\t%s\tfloor\tratio\t\n", name)
	} else {
		fmt.Fprintf(tw, "metric\t%s\t\n", name)
	}
	row := func(label string, a, b float64, format string, ratio bool) {
		fa := fmt.Sprintf(format, a)
		if floor == nil {
			fmt.Fprintf(tw, "%s\t%s\t\n", label, fa)
			return
		}
		fb := fmt.Sprintf(format, b)
		rs := "-"
		if ratio && a > 0 && b > 0 {
			rs = fmt.Sprintf("%.2f×", a/b)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t\n", label, fa, fb, rs)
	}
	f := floor
	if f == nil {
		f = &Result{}
	}
	row("sockets set up", float64(r.Sockets), float64(f.Sockets), "%.0f", false)
	row("setup time (s)", r.SetupSeconds, f.SetupSeconds, "%.2f", true)
	row("setup rate (sockets/s)", r.SetupRate, f.SetupRate, "%.0f", true)
	row("taps/s scheduled", r.ScheduledRate, f.ScheduledRate, "%.0f", false)
	row("taps/s achieved", r.AchievedRate, f.AchievedRate, "%.0f", true)
	row("taps unsent", float64(r.Unsent), float64(f.Unsent), "%.0f", false)
	row("rounds started late", float64(r.LateRounds), float64(f.LateRounds), "%.0f", false)
	row("rounds", float64(r.Rounds), float64(f.Rounds), "%.0f", false)
	row("tap→reveal p50 (ms)", r.Reveal.P50, f.Reveal.P50, "%.3f", true)
	row("tap→reveal p90 (ms)", r.Reveal.P90, f.Reveal.P90, "%.3f", true)
	row("tap→reveal p99 (ms)", r.Reveal.P99, f.Reveal.P99, "%.3f", true)
	row("tap→reveal p99.9 (ms)", r.Reveal.P999, f.Reveal.P999, "%.3f", true)
	row("tap→reveal max (ms)", r.Reveal.Max, f.Reveal.Max, "%.3f", true)
	row("  p99 at the tapping phone (ms)", r.RevealSender.P99, f.RevealSender.P99, "%.3f", true)
	row("  p99 at the partner's phone (ms)", r.RevealPartner.P99, f.RevealPartner.P99, "%.3f", true)
	row("pause p50 (ms)", r.Pause.P50, f.Pause.P50, "%.3f", true)
	row("pause p99 (ms)", r.Pause.P99, f.Pause.P99, "%.3f", true)
	row("lost", float64(r.Lost), float64(f.Lost), "%.0f", false)
	row("  of which offset gaps", float64(r.Gaps), float64(f.Gaps), "%.0f", false)
	row("late (after -step-timeout)", float64(r.LateFrames), float64(f.LateFrames), "%.0f", false)
	row("duplicated", float64(r.Duplicated), float64(f.Duplicated), "%.0f", false)
	row("unexpected", float64(r.Unexpected), float64(f.Unexpected), "%.0f", false)
	row("reveal mismatched/wrong", float64(r.Mismatched+r.WrongReveal), float64(f.Mismatched+f.WrongReveal), "%.0f", false)
	row("errors", float64(r.Errors), float64(f.Errors), "%.0f", false)
	if r.Proc != nil {
		fp := f.Proc
		if fp == nil {
			fp = &ProcNumbers{}
		}
		row("server RSS before sockets (MiB)", mib(r.Proc.RSSBase), mib(fp.RSSBase), "%.1f", true)
		row("server RSS idle (MiB)", mib(r.Proc.RSSIdle), mib(fp.RSSIdle), "%.1f", true)
		row("server RSS peak (MiB)", mib(r.Proc.RSSPeak), mib(fp.RSSPeak), "%.1f", true)
		row("RSS bytes per idle socket", r.Proc.BytesPerSocket, fp.BytesPerSocket, "%.0f", true)
		row("heap bytes per idle socket", r.Proc.HeapPerSocket, fp.HeapPerSocket, "%.0f", true)
		row("goroutines per idle socket", r.Proc.GoroutinesPerSock, fp.GoroutinesPerSock, "%.2f", true)
		row("server CPU % idle, sockets open", r.Proc.IdleCPUPercent, fp.IdleCPUPercent, "%.1f", true)
		row("server CPU % (100 = 1 core)", r.Proc.CPUPercent, fp.CPUPercent, "%.1f", true)
		row("server allocs per round", r.Proc.AllocsPerRound, fp.AllocsPerRound, "%.0f", true)
		row("server alloc bytes per round", r.Proc.AllocBytesPerRound, fp.AllocBytesPerRound, "%.0f", true)
		row("server writes per round", r.Proc.WritesPerRound, fp.WritesPerRound, "%.1f", true)
	}
	if r.Redis != nil {
		row("redis RSS idle (MiB)", mib(r.Redis.RSSIdle), 0, "%.1f", false)
		row("redis CPU %", r.Redis.CPUPercent, 0, "%.1f", false)
	}
	row("bench (clients) CPU %", r.Bench.CPUPercent, f.Bench.CPUPercent, "%.1f", false)
	row("other processes' CPU %", max(0, r.OtherCPUPercent), max(0, f.OtherCPUPercent), "%.1f", false)
	tw.Flush()
	if len(r.ErrorKinds) > 0 {
		keys := make([]string, 0, len(r.ErrorKinds))
		for k := range r.ErrorKinds {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		fmt.Fprintf(w, "%s error kinds:\n", name)
		for _, k := range keys {
			fmt.Fprintf(w, "  %6d  %s\n", r.ErrorKinds[k], k)
		}
	}
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }
