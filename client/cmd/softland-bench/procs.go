package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// childEnv marks a process this benchmark started from its own executable,
// so a test binary re-executed as the floor (see TestMain) knows its role.
const childEnv = "SOFTLAND_BENCH_CHILD"

// proc is a child process: a server, the floor or redis-server.
type proc struct {
	name    string
	cmd     *exec.Cmd
	url     string // http base URL, for servers
	logPath string
	waited  chan struct{}
	waitErr error
}

var listeningRE = regexp.MustCompile(`listening on (http://\S+)`)

// startProc starts bin and, for servers, waits for the line that says where
// it listens. Its stderr and stdout go to a log file in dir. The child gets
// SIGKILL if this process dies (Pdeathsig), so nothing outlives a crash; stop
// ends it normally.
//
// With cpus, the child runs on those CPUs only: under taskset when it is
// installed, else pinned thread by thread right after it started.
func startProc(ctx context.Context, name, dir, bin string, args, env []string, wantURL bool, cpus []int) (*proc, error) {
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	pinAfter := false
	if len(cpus) > 0 {
		var wrapped bool
		bin, args, wrapped = wrapTaskset(cpus, bin, args)
		pinAfter = !wrapped
	}
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	cmd.Stderr = logf
	cmd.SysProcAttr = childAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, waited: make(chan struct{})}
	found := make(chan string, 1)
	var copyDone sync.WaitGroup
	copyDone.Add(1)
	go func() {
		defer copyDone.Done()
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			line := sc.Text()
			fmt.Fprintln(logf, line)
			if m := listeningRE.FindStringSubmatch(line); m != nil {
				select {
				case found <- m[1]:
				default:
				}
			}
		}
	}()
	go func() {
		copyDone.Wait()
		p.waitErr = cmd.Wait()
		logf.Close()
		close(p.waited)
	}()
	if pinAfter {
		if err := pinProcess(cmd.Process.Pid, cpus); err != nil {
			p.stop()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if !wantURL {
		return p, nil
	}
	t := time.NewTimer(60 * time.Second)
	defer t.Stop()
	select {
	case p.url = <-found:
		return p, nil
	case <-p.waited:
		return nil, fmt.Errorf("%s exited before listening (%v); log: %s%s", name, p.waitErr, logPath, tail(logPath))
	case <-t.C:
	case <-ctx.Done():
	}
	p.stop()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, fmt.Errorf("%s did not start listening in time; log: %s%s", name, logPath, tail(logPath))
}

// pid is the child's process id.
func (p *proc) pid() int { return p.cmd.Process.Pid }

// stop ends the process: SIGTERM, then SIGKILL if it lingers.
func (p *proc) stop() {
	select {
	case <-p.waited:
		return
	default:
	}
	p.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(3 * time.Second)
	defer t.Stop()
	select {
	case <-p.waited:
	case <-t.C:
		p.cmd.Process.Kill()
		<-p.waited
	}
}

// alive reports whether the process is still running.
func (p *proc) alive() bool {
	select {
	case <-p.waited:
		return false
	default:
		return true
	}
}

// tail returns the last lines of a log file, for error messages.
func tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "\n" + string(b)
}

// childEnviron is this process's environment without SOFTLAND_* settings (a
// SOFTLAND_REDIS_URL from the shell must not turn the memory mode into Redis),
// plus extra.
func childEnviron(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SOFTLAND_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// freePort returns a loopback port nobody listens on right now.
func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// waitHTTP polls url until it answers 200.
func waitHTTP(ctx context.Context, url string, p *proc) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		if p != nil && !p.alive() {
			return fmt.Errorf("%s exited; log: %s%s", p.name, p.logPath, tail(p.logPath))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not become ready", url)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// buildServer builds ./server/cmd/softland into dir, from the module root
// that `go env GOMOD` names.
func buildServer(ctx context.Context, dir string) (string, error) {
	out, err := exec.CommandContext(ctx, "go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", errors.New("not inside the softland module: run from the repository, or give -server-bin")
	}
	bin := filepath.Join(dir, "softland")
	cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./server/cmd/softland")
	cmd.Dir = filepath.Dir(gomod)
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./server/cmd/softland: %v\n%s", err, out)
	}
	return bin, nil
}

// serverCaps is what the softland binary's flags allow.
type serverCaps struct {
	socketsPerIP bool // -sockets-per-ip
	admitsPerIP  bool // -admits-per-ip
	pprof        bool // -pprof
}

// probeServer reads the binary's -h output for the flags the benchmark can use.
func probeServer(ctx context.Context, bin string) serverCaps {
	cmd := exec.CommandContext(ctx, bin, "-h")
	cmd.Env = childEnviron()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Run() // -h exits non-zero
	s := out.String()
	return serverCaps{
		socketsPerIP: strings.Contains(s, "-sockets-per-ip"),
		admitsPerIP:  strings.Contains(s, "-admits-per-ip"),
		pprof:        strings.Contains(s, "-pprof"),
	}
}

// startRedis starts a redis-server without persistence on a free port.
func startRedis(ctx context.Context, dir, bin string, cpus []int) (*proc, string, error) {
	port, err := freePort()
	if err != nil {
		return nil, "", err
	}
	rdir := filepath.Join(dir, "redis")
	if err := os.MkdirAll(rdir, 0o700); err != nil {
		return nil, "", err
	}
	args := []string{
		"--port", strconv.Itoa(port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--protected-mode", "no",
		"--dir", rdir, "--maxclients", "50000", "--loglevel", "warning",
	}
	p, err := startProc(ctx, "redis", dir, bin, args, childEnviron(), false, cpus)
	if err != nil {
		return nil, "", err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(15 * time.Second)
	for {
		if redisPing(addr) == nil {
			return p, "redis://" + addr, nil
		}
		if !p.alive() || time.Now().After(deadline) || ctx.Err() != nil {
			p.stop()
			return nil, "", fmt.Errorf("redis-server did not answer PING; log: %s%s", p.logPath, tail(p.logPath))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func redisPing(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "+PONG") {
		return fmt.Errorf("redis answered %q", line)
	}
	return nil
}

// procStat is what /proc says about one process.
type procStat struct {
	rss, hwm int64 // bytes
	cpu      float64
}

// readProc reads VmRSS and VmHWM from /proc/PID/status and utime+stime
// (seconds) from /proc/PID/stat.
func readProc(pid int) (procStat, error) {
	var st procStat
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return st, err
	}
	for _, line := range strings.Split(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(f[1], 10, 64)
		switch f[0] {
		case "VmRSS:":
			st.rss = kb << 10
		case "VmHWM:":
			st.hwm = kb << 10
		}
	}
	b, err = os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return st, err
	}
	// The command name may contain spaces; fields start after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return st, errors.New("unexpected /proc/PID/stat")
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 13 {
		return st, errors.New("unexpected /proc/PID/stat")
	}
	ut, _ := strconv.ParseFloat(f[11], 64)  // field 14: utime
	stt, _ := strconv.ParseFloat(f[12], 64) // field 15: stime
	st.cpu = (ut + stt) / clockTicks()
	return st, nil
}

// readProcs sums readProc over pids.
func readProcs(pids []int) (procStat, bool) {
	var sum procStat
	if len(pids) == 0 {
		return sum, false
	}
	for _, pid := range pids {
		st, err := readProc(pid)
		if err != nil {
			return sum, false
		}
		sum.rss += st.rss
		sum.hwm += st.hwm
		sum.cpu += st.cpu
	}
	return sum, true
}

var clockTicksOnce = sync.OnceValue(func() float64 {
	// AT_CLKTCK (17) in the auxiliary vector is sysconf(_SC_CLK_TCK).
	b, err := os.ReadFile("/proc/self/auxv")
	if err == nil {
		for i := 0; i+16 <= len(b); i += 16 {
			if binary.NativeEndian.Uint64(b[i:]) == 17 {
				if v := binary.NativeEndian.Uint64(b[i+8:]); v > 0 {
					return float64(v)
				}
			}
		}
	}
	return 100
})

func clockTicks() float64 { return clockTicksOnce() }

// goStats are the Go runtime numbers a server's /metrics page shows (the
// softland server's Prometheus Go collector, the floor's own copy).
type goStats struct {
	mallocs, allocBytes   float64
	heapInuse, stackInuse float64
	goroutines            float64
	ok                    bool
}

// scrapeGo reads goStats from base+"/metrics".
func scrapeGo(ctx context.Context, base string) goStats {
	var g goStats
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return g
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return g
	}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	n := 0
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		switch f[0] {
		case "go_memstats_mallocs_total":
			g.mallocs = v
		case "go_memstats_alloc_bytes_total":
			g.allocBytes = v
		case "go_memstats_heap_inuse_bytes":
			g.heapInuse = v
		case "go_memstats_stack_inuse_bytes":
			g.stackInuse = v
		case "go_goroutines":
			g.goroutines = v
		default:
			continue
		}
		n++
	}
	g.ok = n == 5
	return g
}

// fetch saves base+path to file.
func fetch(ctx context.Context, base, path, file string) error {
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+path, nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %s", path, resp.Status)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, resp.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// machineBusy returns the CPU seconds all processes of the machine spent busy
// so far (everything but idle and iowait, from /proc/stat), so a run can
// show how much of the machine something else was using.
func machineBusy() (float64, bool) {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	if len(f) < 6 || f[0] != "cpu" {
		return 0, false
	}
	var busy float64
	for i, v := range f[1:] {
		n, _ := strconv.ParseFloat(v, 64)
		if i == 3 || i == 4 { // idle, iowait
			continue
		}
		if i >= 8 { // guest time is already in user
			break
		}
		busy += n
	}
	return busy / clockTicks(), true
}
