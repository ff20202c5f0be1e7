// Package redistest runs real redis-server processes for tests: one node or
// a small Cluster, on free loopback ports, in temporary directories, killed
// when the test ends. Tests that need Redis call Start; when redis-server is
// not installed they are skipped, or fail when the CI environment variable is
// set, because CI must never pass by skipping them.
package redistest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// waitFor bounds every wait for a process; it guards against hanging and is
// never a speed assertion.
const waitFor = 20 * time.Second

// Server is one redis-server process. Its port and directory stay the same
// across Stop and Restart, so a server started with "--appendonly yes" comes
// back with its data.
type Server struct {
	t    testing.TB
	Port int
	Dir  string
	args []string
	// sentinel runs the server as a Sentinel, with sentinel.conf in Dir.
	sentinel bool
	// cluster makes it a Cluster node; BusPort is its cluster bus port.
	cluster bool
	BusPort int

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{} // closed when cmd has exited
}

// Need returns the path of a binary the tests need, skipping the test when it
// is missing, or failing it when CI is set.
func Need(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s missing: the test command must install it", name)
	}
	t.Skipf("%s not installed; skipping (set CI to make this fail)", name)
	return ""
}

// Start runs redis-server on a free loopback port with persistence off
// (args are appended, so "--appendonly", "yes" turns it on) and waits until
// it answers PING. The process is killed when the test ends.
func Start(t testing.TB, args ...string) *Server {
	t.Helper()
	Need(t, "redis-server")
	s := &Server{t: t, Dir: t.TempDir(), args: args}
	launch(t, s)
	return s
}

// StartSentinel runs a Sentinel that watches master under name, with a
// quorum of one and a down-after of one second, so that a test can make it
// fail over quickly.
func StartSentinel(t testing.TB, name string, master *Server) *Server {
	t.Helper()
	Need(t, "redis-server")
	s := &Server{t: t, Dir: t.TempDir(), sentinel: true}
	conf := fmt.Sprintf("sentinel monitor %[1]s 127.0.0.1 %[2]d 1\n"+
		"sentinel down-after-milliseconds %[1]s 1000\n"+
		"sentinel failover-timeout %[1]s 5000\n", name, master.Port)
	if err := os.WriteFile(filepath.Join(s.Dir, "sentinel.conf"), []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	launch(t, s)
	return s
}

// launch starts s on a free port and arranges for it to die with the test.
func launch(t testing.TB, s *Server) {
	t.Helper()
	var err error
	for range 5 { // a free port can be taken between finding and binding it
		s.Port, err = FreePort()
		if err == nil && s.cluster {
			s.BusPort, err = FreePort()
		}
		if err != nil {
			t.Fatal(err)
		}
		if err = s.start(); err == nil {
			break
		}
	}
	if err != nil {
		t.Fatalf("redis-server did not start: %v", err)
	}
	t.Cleanup(func() {
		s.Kill()
		if t.Failed() {
			s.dumpLog()
		}
	})
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}

// Addr is host:port.
func (s *Server) Addr() string { return "127.0.0.1:" + strconv.Itoa(s.Port) }

// URL is the server's redis:// URL.
func (s *Server) URL() string { return "redis://" + s.Addr() }

// Client returns a go-redis client for the server, closed when the test ends.
func (s *Server) Client() *redis.Client {
	c := redis.NewClient(&redis.Options{Addr: s.Addr(), ContextTimeoutEnabled: true})
	s.t.Cleanup(func() { c.Close() })
	return c
}

func (s *Server) start() error {
	common := []string{
		"--port", strconv.Itoa(s.Port),
		"--bind", "127.0.0.1",
		"--dir", s.Dir,
		"--logfile", "redis.log",
	}
	var args []string
	if s.sentinel {
		args = append([]string{filepath.Join(s.Dir, "sentinel.conf"), "--sentinel"}, common...)
	} else {
		args = append(common, "--save", "", "--appendonly", "no")
	}
	if s.cluster {
		args = append(args,
			"--cluster-enabled", "yes",
			"--cluster-config-file", "nodes.conf",
			"--cluster-port", strconv.Itoa(s.BusPort),
			"--cluster-node-timeout", "5000")
	}
	args = append(args, s.args...)
	cmd := exec.Command("redis-server", args...)
	cmd.Dir = s.Dir
	setDeathSignal(cmd)
	if err := cmd.Start(); err != nil {
		return err
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	s.mu.Lock()
	s.cmd, s.done = cmd, done
	s.mu.Unlock()
	if err := waitPing(s.Addr(), cmd.Process.Pid, done); err != nil {
		cmd.Process.Kill()
		<-done
		return err
	}
	return nil
}

// waitPing waits until addr answers as process pid (not a server of another
// test that took the port first) and has loaded its data, or until the
// process exits.
func waitPing(addr string, pid int, exited <-chan struct{}) error {
	deadline := time.Now().Add(waitFor)
	for time.Now().Before(deadline) {
		select {
		case <-exited:
			return errors.New("redis-server exited")
		default:
		}
		if got, err := serverPID(addr); err == nil {
			if got != pid {
				return fmt.Errorf("%s is another server's", addr)
			}
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("no answer from %s", addr)
}

// serverPID asks the server at addr for its process id, over a plain
// socket. It fails while the server still loads its data.
func serverPID(addr string) (int, error) {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("INFO\r\n")); err != nil {
		return 0, err
	}
	r := bufio.NewReader(c)
	head, err := r.ReadString('\n')
	if err != nil {
		return 0, err
	}
	if !strings.HasPrefix(head, "$") {
		return 0, fmt.Errorf("answer %q", head) // e.g. -LOADING
	}
	n, err := strconv.Atoi(strings.TrimSpace(head[1:]))
	if err != nil {
		return 0, err
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(r, body); err != nil {
		return 0, err
	}
	pid := 0
	for _, line := range strings.Split(string(body), "\r\n") {
		if v, ok := strings.CutPrefix(line, "process_id:"); ok {
			pid, _ = strconv.Atoi(v)
		}
		if line == "loading:1" {
			return 0, errors.New("loading")
		}
	}
	if pid == 0 {
		return 0, errors.New("no process_id")
	}
	return pid, nil
}

// Stop shuts the server down gracefully (SIGTERM: an AOF is flushed) and
// waits for it to exit.
func (s *Server) Stop() { s.signal(syscall.SIGTERM) }

// Kill ends the server at once (SIGKILL), like a crash.
func (s *Server) Kill() { s.signal(syscall.SIGKILL) }

func (s *Server) signal(sig os.Signal) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	cmd.Process.Signal(sig)
	select {
	case <-done:
	case <-time.After(waitFor):
		cmd.Process.Kill()
		<-done
	}
}

// Freeze stops the server's process with SIGSTOP, like a machine that
// hangs: its sockets stay open and what clients send waits, unread, until
// Thaw. Commands sent meanwhile may still run after Thaw, even when their
// client has given up on the answer. On Linux, Freeze returns once the
// process has stopped, so whatever the caller sends next finds it frozen.
func (s *Server) Freeze() error {
	pid, err := s.sendSignal(syscall.SIGSTOP)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(waitFor)
	for {
		stopped, known := processStopped(pid)
		if stopped || !known {
			return nil
		}
		if time.Now().After(deadline) {
			return errors.New("redis-server did not stop")
		}
		time.Sleep(time.Millisecond)
	}
}

// Thaw lets a frozen server run on (SIGCONT).
func (s *Server) Thaw() error {
	_, err := s.sendSignal(syscall.SIGCONT)
	return err
}

// sendSignal sends sig to the running process without waiting for anything
// and returns its process id.
func (s *Server) sendSignal(sig os.Signal) (int, error) {
	s.mu.Lock()
	cmd, done := s.cmd, s.done
	s.mu.Unlock()
	if cmd == nil {
		return 0, errors.New("redis-server is not running")
	}
	select {
	case <-done:
		return 0, errors.New("redis-server has exited")
	default:
	}
	return cmd.Process.Pid, cmd.Process.Signal(sig)
}

// processStopped reports whether process pid is stopped by a signal, from
// /proc; known is false where there is no /proc to ask.
func processStopped(pid int) (stopped, known bool) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false, false
	}
	// The state follows the command name, which is in parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false, false
	}
	return b[i+2] == 'T', true
}

// Restart starts the server again on the same port and directory (stopping
// it first if it runs).
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	var err error
	for range 50 { // the port may linger for a moment
		if err = s.start(); err == nil {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	s.t.Fatalf("redis-server did not restart: %v", err)
}

func (s *Server) dumpLog() {
	b, err := os.ReadFile(filepath.Join(s.Dir, "redis.log"))
	if err != nil {
		return
	}
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	s.t.Logf("redis-server %d log (tail):\n%s", s.Port, b)
}

// Cluster is a Redis Cluster of masters without replicas.
type Cluster struct {
	Nodes []*Server
}

// StartCluster starts n cluster-enabled masters (n ≥ 3), joins them with
// redis-cli --cluster create and waits until every node reports
// cluster_state:ok, which a node does once it knows an owner for every slot.
func StartCluster(t testing.TB, n int) *Cluster {
	t.Helper()
	Need(t, "redis-server")
	Need(t, "redis-cli")
	c := &Cluster{}
	for range n {
		s := &Server{t: t, Dir: t.TempDir(), cluster: true}
		launch(t, s)
		c.Nodes = append(c.Nodes, s)
	}
	args := []string{"--cluster", "create"}
	args = append(args, c.Addrs()...)
	args = append(args, "--cluster-replicas", "0", "--cluster-yes")
	ctx, cancel := context.WithTimeout(context.Background(), waitFor)
	defer cancel()
	out, err := exec.CommandContext(ctx, "redis-cli", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	deadline := time.Now().Add(waitFor)
	for _, s := range c.Nodes {
		cl := s.Client()
		for {
			info, err := cl.ClusterInfo(ctx).Result()
			if err == nil && strings.Contains(info, "cluster_state:ok") {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("cluster not ok on %s: %v\n%s", s.Addr(), err, info)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	return c
}

// Addrs returns the nodes' host:port.
func (c *Cluster) Addrs() []string {
	var a []string
	for _, s := range c.Nodes {
		a = append(a, s.Addr())
	}
	return a
}

// Keys returns every key on every node (by SCAN), for audits.
func Keys(ctx context.Context, clients ...*redis.Client) ([]string, error) {
	return scan(ctx, "*", clients)
}

// RoomKeys returns the keys of rooms (sl:{<room>}:...), leaving out the
// instances' own keys (sl:live:..., sl:held:..., sl:instances).
func RoomKeys(ctx context.Context, clients ...*redis.Client) ([]string, error) {
	return scan(ctx, "sl:{*", clients)
}

// Values returns what key holds, as text, for the kinds of keys Softland
// writes: a string, each entry of a stream, each member of a set. Any other
// kind is an error.
func Values(ctx context.Context, c *redis.Client, key string) ([]string, error) {
	switch typ, err := c.Type(ctx, key).Result(); {
	case err != nil:
		return nil, err
	case typ == "string":
		v, err := c.Get(ctx, key).Result()
		return []string{v}, err
	case typ == "stream":
		msgs, err := c.XRange(ctx, key, "-", "+").Result()
		var out []string
		for _, m := range msgs {
			out = append(out, fmt.Sprint(m.ID, " ", m.Values))
		}
		return out, err
	case typ == "set":
		return c.SMembers(ctx, key).Result()
	default:
		return nil, fmt.Errorf("%s: a %s, which Softland never writes", key, typ)
	}
}

func scan(ctx context.Context, match string, clients []*redis.Client) ([]string, error) {
	var keys []string
	for _, c := range clients {
		iter := c.Scan(ctx, 0, match, 100).Iterator()
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
		}
		if err := iter.Err(); err != nil {
			return nil, err
		}
	}
	return keys, nil
}
