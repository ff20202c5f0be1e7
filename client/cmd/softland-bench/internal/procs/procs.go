// Package procs starts, pins, watches and measures the processes the
// benchmark runs: the servers it measures (softland, redis-server, the floor,
// Centrifugo), built or probed as needed; what /proc and a Go server's
// /metrics say about their memory and CPU; and the pinned mode's CPU sets.
package procs

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

// ChildEnv marks a process this benchmark started from its own executable,
// so a test binary re-executed as the floor (see TestMain) knows its role.
const ChildEnv = "SOFTLAND_BENCH_CHILD"

// Proc is a child process: a server, the floor or redis-server.
type Proc struct {
	Name    string
	cmd     *exec.Cmd
	URL     string // http base URL, for servers
	LogPath string
	waited  chan struct{}
	waitErr error
}

var listeningRE = regexp.MustCompile(`listening on (http://\S+)`)

// Start starts bin and, for servers, waits for the line that says where
// it listens. Its stderr and stdout go to a log file in dir. The child gets
// SIGKILL if this process dies (Pdeathsig), so nothing outlives a crash; stop
// ends it normally.
//
// With cpus, the child runs on those CPUs only: under taskset when it is
// installed, else pinned thread by thread right after it started.
func Start(ctx context.Context, name, dir, bin string, args, env []string, wantURL bool, cpus []int) (*Proc, error) {
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
	cmd.SysProcAttr = ChildAttr()
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	p := &Proc{Name: name, cmd: cmd, LogPath: logPath, waited: make(chan struct{})}
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
		if err := PinProcess(cmd.Process.Pid, cpus); err != nil {
			p.Stop()
			return nil, fmt.Errorf("%s: %w", name, err)
		}
	}
	if !wantURL {
		return p, nil
	}
	t := time.NewTimer(60 * time.Second)
	defer t.Stop()
	select {
	case p.URL = <-found:
		return p, nil
	case <-p.waited:
		return nil, fmt.Errorf("%s exited before listening (%v); log: %s%s", name, p.waitErr, logPath, Tail(logPath))
	case <-t.C:
	case <-ctx.Done():
	}
	p.Stop()
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	return nil, fmt.Errorf("%s did not start listening in time; log: %s%s", name, logPath, Tail(logPath))
}

// pid is the child's process id.
func (p *Proc) PID() int { return p.cmd.Process.Pid }

// stop ends the process: SIGTERM, then SIGKILL if it lingers.
func (p *Proc) Stop() {
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
func (p *Proc) Alive() bool {
	select {
	case <-p.waited:
		return false
	default:
		return true
	}
}

// Tail returns the last lines of a log file, for error messages.
func Tail(path string) string {
	b, err := os.ReadFile(path)
	if err != nil || len(b) == 0 {
		return ""
	}
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return "\n" + string(b)
}

// ChildEnviron is this process's environment without SOFTLAND_* settings (a
// SOFTLAND_REDIS_URL from the shell must not turn the memory mode into Redis),
// plus extra.
func ChildEnviron(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "SOFTLAND_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// FreePort returns a loopback port nobody listens on right now.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// WaitHTTP polls url until it answers 200.
func WaitHTTP(ctx context.Context, url string, p *Proc) error {
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
		if p != nil && !p.Alive() {
			return fmt.Errorf("%s exited; log: %s%s", p.Name, p.LogPath, Tail(p.LogPath))
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

// BuildServer builds ./server/cmd/softland into dir, from the module root
// that `go env GOMOD` names.
func BuildServer(ctx context.Context, dir string) (string, error) {
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

// ServerCaps is what the softland binary's flags allow.
type ServerCaps struct {
	SocketsPerIP bool // -sockets-per-ip
	AdmitsPerIP  bool // -admits-per-ip
	Pprof        bool // -pprof
}

// ProbeServer reads the binary's -h output for the flags the benchmark can use.
func ProbeServer(ctx context.Context, bin string) ServerCaps {
	cmd := exec.CommandContext(ctx, bin, "-h")
	cmd.Env = ChildEnviron()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	cmd.Run() // -h exits non-zero
	s := out.String()
	return ServerCaps{
		SocketsPerIP: strings.Contains(s, "-sockets-per-ip"),
		AdmitsPerIP:  strings.Contains(s, "-admits-per-ip"),
		Pprof:        strings.Contains(s, "-pprof"),
	}
}

// StartRedis starts a redis-server without persistence on a free port.
func StartRedis(ctx context.Context, dir, bin string, cpus []int) (*Proc, string, error) {
	port, err := FreePort()
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
	p, err := Start(ctx, "redis", dir, bin, args, ChildEnviron(), false, cpus)
	if err != nil {
		return nil, "", err
	}
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(15 * time.Second)
	for {
		if redisPing(addr) == nil {
			return p, "redis://" + addr, nil
		}
		if !p.Alive() || time.Now().After(deadline) || ctx.Err() != nil {
			p.Stop()
			return nil, "", fmt.Errorf("redis-server did not answer PING; log: %s%s", p.LogPath, Tail(p.LogPath))
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

// Stat is what /proc says about one process.
type Stat struct {
	RSS, HWM int64 // bytes
	CPU      float64
	// Writes is the write-type system calls made so far (syscw in
	// /proc/PID/io): with one frame per write it is the frames sent, so it
	// shows what batching saves whatever the machine's speed. 0 when
	// /proc/PID/io cannot be read.
	Writes int64
}

// ReadProc reads VmRSS and VmHWM from /proc/PID/status and utime+stime
// (seconds) from /proc/PID/stat.
func ReadProc(pid int) (Stat, error) {
	var st Stat
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
			st.RSS = kb << 10
		case "VmHWM:":
			st.HWM = kb << 10
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
	st.CPU = (ut + stt) / clockTicks()
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/io", pid)); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "syscw: "); ok {
				st.Writes, _ = strconv.ParseInt(v, 10, 64)
			}
		}
	}
	return st, nil
}

// ReadProcs sums ReadProc over pids.
func ReadProcs(pids []int) (Stat, bool) {
	var sum Stat
	if len(pids) == 0 {
		return sum, false
	}
	for _, pid := range pids {
		st, err := ReadProc(pid)
		if err != nil {
			return sum, false
		}
		sum.RSS += st.RSS
		sum.HWM += st.HWM
		sum.CPU += st.CPU
		sum.Writes += st.Writes
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

// GoStats are the Go runtime numbers a server's /metrics page shows (the
// softland server's Prometheus Go collector, the floor's own copy).
type GoStats struct {
	Mallocs, AllocBytes   float64
	HeapInuse, StackInuse float64
	Goroutines            float64
	OK                    bool
}

// ScrapeGo reads GoStats from base+"/metrics".
func ScrapeGo(ctx context.Context, base string) GoStats {
	var g GoStats
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
			g.Mallocs = v
		case "go_memstats_alloc_bytes_total":
			g.AllocBytes = v
		case "go_memstats_heap_inuse_bytes":
			g.HeapInuse = v
		case "go_memstats_stack_inuse_bytes":
			g.StackInuse = v
		case "go_goroutines":
			g.Goroutines = v
		default:
			continue
		}
		n++
	}
	g.OK = n == 5
	return g
}

// Fetch saves base+path to file.
func Fetch(ctx context.Context, base, path, file string) error {
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

// MachineBusy returns the CPU seconds all processes of the machine spent busy
// so far (everything but idle and iowait, from /proc/stat), so a run can
// show how much of the machine something else was using.
func MachineBusy() (float64, bool) {
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
