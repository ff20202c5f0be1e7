// Package peers drives other servers with the benchmark's tap schedule, so
// Softland's numbers stand next to theirs from the same run on the same
// machine: Centrifugo, and the bare relay (package floor) carrying one
// message per tap. Each pair is one subscriber and one publisher socket, one
// 100-byte message per tap, latency from the tap's due time to the
// subscriber's receipt.
package peers

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"softland/client/cmd/softland-bench/internal/report"
	"softland/client/cmd/softland-bench/internal/setup"
)

// CentrifugoModule is the release compared with, which the Go module proxy
// serves.
const CentrifugoModule = "github.com/centrifugal/centrifugo/v6@v6.9.1"

// MessageBytes is the size of one publication's data, as in the issue's
// comparison.
const MessageBytes = 100

// BuildCentrifugo returns the centrifugo binary in cacheDir, building it
// with go install the first time.
func BuildCentrifugo(ctx context.Context, cacheDir string) (string, error) {
	dir := filepath.Join(cacheDir, "centrifugo-"+CentrifugoModule[strings.LastIndexByte(CentrifugoModule, '@')+1:])
	bin := filepath.Join(dir, "centrifugo")
	if _, err := os.Stat(bin); err == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	cmd := exec.CommandContext(ctx, "go", "install", CentrifugoModule)
	cmd.Env = append(os.Environ(), "GOBIN="+dir)
	cmd.Dir = dir // outside any module, so go install takes the version as given
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go install %s: %v\n%s", CentrifugoModule, err, lastLines(out, 20))
	}
	return bin, nil
}

func lastLines(b []byte, n int) string {
	lines := strings.Split(strings.TrimSpace(string(b)), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Namespace is the channel namespace the benchmark publishes in.
const Namespace = "bench"

// WriteCentrifugoConfig writes a JSON configuration for one loopback node:
// HMAC-signed connection tokens with secret, a namespace whose channels any
// connected client may subscribe and publish to, the health endpoint on, and
// no history or presence (a relay, like the floor).
func WriteCentrifugoConfig(dir string, port int, secret []byte) (string, error) {
	cfg := map[string]any{
		"log":         map[string]any{"level": "error"},
		"http_server": map[string]any{"address": "127.0.0.1", "port": port},
		"health":      map[string]any{"enabled": true},
		"prometheus":  map[string]any{"enabled": true},
		"client": map[string]any{
			"token":           map[string]any{"hmac_secret_key": string(secret)},
			"allowed_origins": []string{"*"},
		},
		"channel": map[string]any{
			"namespaces": []map[string]any{{
				"name":                       Namespace,
				"allow_subscribe_for_client": true,
				"allow_publish_for_client":   true,
			}},
		},
	}
	b, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return "", err
	}
	path := filepath.Join(dir, "centrifugo.json")
	return path, os.WriteFile(path, b, 0o600)
}

// Token is an HS256 connection token for user sub.
func Token(secret []byte, sub string) string {
	enc := base64.RawURLEncoding
	head := enc.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`))
	body := enc.EncodeToString([]byte(`{"sub":"` + sub + `"}`))
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(head + "." + body))
	return head + "." + body + "." + enc.EncodeToString(m.Sum(nil))
}

// Kind is which server a fleet speaks to.
type Kind int

const (
	// Centrifugo: connect with an HS256 token, subscribe, publish.
	Centrifugo Kind = iota
	// Relay: the benchmark's bare relay (package floor): register both
	// sockets of a pair, then frames whose id starts with "m" go one way,
	// from the publisher to its partner, and are not echoed.
	Relay
)

// Config is one fleet's workload.
type Config struct {
	Kind        Kind
	URL         string // ws://host:port/connection/websocket, or the relay's /ws
	Secret      []byte
	Pairs       int
	Dialers     int
	StepTimeout time.Duration
	// Client is the HTTP client socket n dials with (the benchmark spreads
	// sockets over loopback source addresses).
	Client   func(sock int) *http.Client
	Progress func(format string, args ...any)
}

// Results is what a fleet measured.
type Results struct {
	Active     int
	Latency    []int64 // due time → receipt at the subscriber, nanoseconds
	Taps       int64   // publications received
	Unsent     int64   // due before the end, never published
	Lost       int64   // published, never received
	Duplicated int64
	Errors     int64
	LastRecv   int64 // Unix nanoseconds of the last receipt
	ErrorKinds map[string]int
}

// Fleet is every pair's two sockets.
type Fleet struct {
	cfg     Config
	pairs   []*pair
	readers sync.WaitGroup

	errs   atomic.Int64
	errMu  sync.Mutex
	errSet map[string]int
}

type pair struct {
	f        *Fleet
	idx      int
	channel  string
	sub, pub *websocket.Conn
	ok       bool

	// Set before the load, read by the subscriber's reader.
	first  time.Time
	period time.Duration

	mu       sync.Mutex
	got      []bool // by sequence number
	lat      []int64
	lastRecv int64
	dups     int64

	sent, unsent int64 // publisher only
}

// New makes a fleet of cfg.Pairs pairs; Setup connects them.
func New(cfg Config) *Fleet {
	f := &Fleet{cfg: cfg, errSet: map[string]int{}}
	for i := range cfg.Pairs {
		f.pairs = append(f.pairs, &pair{f: f, idx: i, channel: Namespace + ":p" + strconv.Itoa(i)})
	}
	return f
}

func (f *Fleet) noteErr(kind string) {
	f.errs.Add(1)
	f.errMu.Lock()
	if len(f.errSet) < 50 || f.errSet[kind] > 0 {
		f.errSet[kind]++
	}
	f.errMu.Unlock()
}

// Setup connects every pair (the subscriber subscribed) and returns how
// many succeeded.
func (f *Fleet) Setup(ctx context.Context) int {
	return setup.Pairs(ctx, len(f.pairs), f.cfg.Dialers, func(ctx context.Context, i int) bool {
		p := f.pairs[i]
		if err := p.setup(ctx); err != nil {
			f.noteErr("setup: " + err.Error())
			return false
		}
		p.ok = true
		return true
	}, f.cfg.Progress)
}

func (p *pair) setup(ctx context.Context) error {
	f := p.f
	var err error
	if f.cfg.Kind == Relay {
		if p.pub, err = p.register(ctx, 0); err != nil {
			return err
		}
		if p.sub, err = p.register(ctx, 1); err != nil {
			return err
		}
		f.readers.Add(2)
		go p.readSub()
		go p.readPub()
		return nil
	}
	if p.sub, err = p.connect(ctx, 2*p.idx); err != nil {
		return err
	}
	if err := command(ctx, p.sub, f.cfg.StepTimeout, 2, `{"id":2,"subscribe":{"channel":"`+p.channel+`"}}`); err != nil {
		return fmt.Errorf("subscribe: %w", err)
	}
	if p.pub, err = p.connect(ctx, 2*p.idx+1); err != nil {
		return err
	}
	f.readers.Add(2)
	go p.readSub()
	go p.readPub()
	return nil
}

// register dials the relay for seat and registers it under the pair (the
// relay echoes the registration).
func (p *pair) register(ctx context.Context, seat int) (*websocket.Conn, error) {
	f := p.f
	ctx, cancel := context.WithTimeout(ctx, f.cfg.StepTimeout)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, f.cfg.URL, &websocket.DialOptions{
		HTTPClient:      f.cfg.Client(2*p.idx + seat),
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		return nil, fmt.Errorf("dial: %s", kind(err))
	}
	hello := fmt.Sprintf(`{"id":"r.m%d.%d"}`, p.idx, seat)
	if err := ws.Write(ctx, websocket.MessageText, []byte(hello)); err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("register: %s", kind(err))
	}
	if _, _, err := ws.Read(ctx); err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("register: %s", kind(err))
	}
	return ws, nil
}

// connect dials socket n and sends the connect command with its token.
func (p *pair) connect(ctx context.Context, n int) (*websocket.Conn, error) {
	f := p.f
	dctx, cancel := context.WithTimeout(ctx, f.cfg.StepTimeout)
	defer cancel()
	ws, _, err := websocket.Dial(dctx, f.cfg.URL, &websocket.DialOptions{
		HTTPClient:      f.cfg.Client(n),
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		return nil, fmt.Errorf("dial: %s", kind(err))
	}
	tok := Token(f.cfg.Secret, "bench-"+strconv.Itoa(n))
	if err := command(ctx, ws, f.cfg.StepTimeout, 1, `{"id":1,"connect":{"token":"`+tok+`","name":"softland-bench"}}`); err != nil {
		ws.CloseNow()
		return nil, fmt.Errorf("connect: %w", err)
	}
	return ws, nil
}

// reply is one line of a Centrifugo JSON-protocol frame (a frame may carry
// several, one per line).
type reply struct {
	ID    uint32 `json:"id"`
	Error *struct {
		Code    int    `json:"code"`
		Message string `json:"message"`
	} `json:"error"`
	Push *struct {
		Pub *struct {
			Data struct {
				Seq int `json:"s"`
			} `json:"data"`
		} `json:"pub"`
	} `json:"push"`
}

// command sends cmd and reads until the reply with id comes.
func command(ctx context.Context, ws *websocket.Conn, timeout time.Duration, id uint32, cmd string) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	if err := ws.Write(ctx, websocket.MessageText, []byte(cmd)); err != nil {
		return errors.New(kind(err))
	}
	for {
		_, b, err := ws.Read(ctx)
		if err != nil {
			return errors.New(kind(err))
		}
		for line := range bytes.Lines(b) {
			var r reply
			if json.Unmarshal(line, &r) != nil || r.ID != id {
				continue
			}
			if r.Error != nil {
				return fmt.Errorf("error %d", r.Error.Code)
			}
			return nil
		}
	}
}

// readSub takes the subscriber's frames: publications (their receipt is
// the measurement) and pings, answered with a pong.
func (p *pair) readSub() {
	defer p.f.readers.Done()
	for {
		_, b, err := p.sub.Read(context.Background())
		if err != nil {
			return
		}
		at := time.Now()
		if p.f.cfg.Kind == Relay {
			seq, err := relaySeq(b)
			if err != nil {
				p.f.noteErr("bad frame")
				continue
			}
			p.received(seq, at)
			continue
		}
		for line := range bytes.Lines(b) {
			line = bytes.TrimSpace(line)
			if string(line) == "{}" {
				p.sub.Write(context.Background(), websocket.MessageText, []byte("{}"))
				continue
			}
			var r reply
			if err := json.Unmarshal(line, &r); err != nil {
				p.f.noteErr("bad frame")
				continue
			}
			switch {
			case r.Error != nil:
				p.f.noteErr("error " + strconv.Itoa(r.Error.Code))
			case r.Push != nil && r.Push.Pub != nil:
				p.received(r.Push.Pub.Data.Seq, at)
			}
		}
	}
}

func (p *pair) received(seq int, at time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if seq < 0 || p.period == 0 {
		p.f.noteErr("publication out of schedule")
		return
	}
	for len(p.got) <= seq {
		p.got = append(p.got, false)
	}
	if p.got[seq] {
		p.dups++
		return
	}
	p.got[seq] = true
	due := p.first.Add(time.Duration(seq) * p.period)
	p.lat = append(p.lat, int64(at.Sub(due)))
	p.lastRecv = max(p.lastRecv, at.UnixNano())
}

// readPub takes the publisher's frames: publish replies (errors count) and
// pings.
func (p *pair) readPub() {
	defer p.f.readers.Done()
	for {
		_, b, err := p.pub.Read(context.Background())
		if err != nil {
			return
		}
		for line := range bytes.Lines(b) {
			line = bytes.TrimSpace(line)
			if string(line) == "{}" {
				p.pub.Write(context.Background(), websocket.MessageText, []byte("{}"))
				continue
			}
			var r reply
			if err := json.Unmarshal(line, &r); err != nil {
				p.f.noteErr("bad frame")
			} else if r.Error != nil {
				p.f.noteErr("error " + strconv.Itoa(r.Error.Code))
			}
		}
	}
}

// Load publishes on every pair, open loop: pair i's k-th tap is due at
// start+period*(i/pairs+k) for every due time before start+dur; it is
// published then, or at once when the publisher is behind, and never after
// start+dur+grace (it then counts as unsent).
func (f *Fleet) Load(ctx context.Context, start time.Time, period, dur, grace time.Duration) {
	end, cutoff := start.Add(dur), start.Add(dur+grace)
	var wg sync.WaitGroup
	for _, p := range f.pairs {
		if !p.ok {
			continue
		}
		p.mu.Lock()
		p.first = start.Add(time.Duration(int64(period) * int64(p.idx) / int64(max(1, len(f.pairs)))))
		p.period = period
		p.mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			p.publish(ctx, end, cutoff)
		}()
	}
	wg.Wait()
}

func (p *pair) publish(ctx context.Context, end, cutoff time.Time) {
	t := time.NewTimer(0)
	defer t.Stop()
	<-t.C
	for seq, due := 0, p.first; due.Before(end); seq, due = seq+1, due.Add(p.period) {
		if !time.Now().Before(cutoff) || ctx.Err() != nil {
			p.unsent++
			continue
		}
		if d := time.Until(due); d > 0 {
			t.Reset(d)
			select {
			case <-t.C:
			case <-ctx.Done():
				p.unsent++
				continue
			}
		}
		msg := p.message(seq)
		wctx, cancel := context.WithDeadline(ctx, cutoff)
		err := p.pub.Write(wctx, websocket.MessageText, []byte(msg))
		cancel()
		if err != nil {
			p.f.noteErr("publish: " + kind(err))
			p.unsent++
			continue
		}
		p.sent++
	}
}

// message is tap seq's frame: a publish of MessageBytes of data to
// Centrifugo, or a frame of MessageBytes to the relay.
func (p *pair) message(seq int) string {
	num := strconv.Itoa(seq)
	if p.f.cfg.Kind == Relay {
		pad := strings.Repeat("x", max(0, MessageBytes-len(`{"id":"m","p":""}`)-len(num)))
		return `{"id":"m` + num + `","p":"` + pad + `"}`
	}
	pad := strings.Repeat("x", max(0, MessageBytes-len(`{"s":,"p":""}`)-len(num)))
	return `{"id":` + strconv.Itoa(seq+10) + `,"publish":{"channel":"` + p.channel + `","data":{"s":` + num + `,"p":"` + pad + `"}}}`
}

// relaySeq reads the sequence number from a relay message's id, "m<seq>".
func relaySeq(b []byte) (int, error) {
	const key = `{"id":"m`
	if !bytes.HasPrefix(b, []byte(key)) {
		return 0, errors.New("not a message")
	}
	b = b[len(key):]
	i := bytes.IndexByte(b, '"')
	if i < 0 {
		return 0, errors.New("not a message")
	}
	return strconv.Atoi(string(b[:i]))
}

// Finish waits up to wait for publications still on their way.
func (f *Fleet) Finish(wait time.Duration) {
	deadline := time.Now().Add(wait)
	for time.Now().Before(deadline) {
		missing := int64(0)
		for _, p := range f.pairs {
			p.mu.Lock()
			missing += p.sent - int64(len(p.lat))
			p.mu.Unlock()
		}
		if missing <= 0 {
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Close ends every socket and waits for the readers.
func (f *Fleet) Close() {
	for _, p := range f.pairs {
		if p.sub != nil {
			p.sub.CloseNow()
		}
		if p.pub != nil {
			p.pub.CloseNow()
		}
	}
	f.readers.Wait()
}

// Results adds up every pair. Call it after Close.
func (f *Fleet) Results() *Results {
	r := &Results{ErrorKinds: map[string]int{}}
	for _, p := range f.pairs {
		if p.ok {
			r.Active++
		}
		p.mu.Lock()
		r.Latency = append(r.Latency, p.lat...)
		r.Taps += int64(len(p.lat))
		r.Lost += max(0, p.sent-int64(len(p.lat)))
		r.Duplicated += p.dups
		r.Unsent += p.unsent
		r.LastRecv = max(r.LastRecv, p.lastRecv)
		p.mu.Unlock()
	}
	r.Errors = f.errs.Load()
	f.errMu.Lock()
	for k, v := range f.errSet {
		r.ErrorKinds[k] = v
	}
	f.errMu.Unlock()
	return r
}

// kind is report.ErrorKind, or "other".
func kind(err error) string {
	if k, ok := report.ErrorKind(err); ok {
		return k
	}
	return "other"
}
