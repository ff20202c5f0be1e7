package fleet

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"softland/client/cmd/softland-bench/internal/procs"
)

// Results is what a Fleet measured; worker processes send theirs to the
// benchmark as JSON, which merges them.
type Results struct {
	Pairs       int            `json:"pairs"`
	Active      int            `json:"active"`  // set up
	Sender      []int64        `json:"sender"`  // tap→reveal at the tapping phone, nanoseconds
	Partner     []int64        `json:"partner"` // tap→reveal at the other phone
	Pause       []int64        `json:"pause"`
	Rounds      int64          `json:"rounds"`
	Submits     int64          `json:"submits"`
	Taps        int64          `json:"taps"`        // completing submits whose reveal arrived
	Unsent      int64          `json:"unsent"`      // taps due before the end that never completed
	LastReveal  int64          `json:"last_reveal"` // Unix nanoseconds of the last tap's reveal
	LateRounds  int64          `json:"late_rounds"`
	LateFrames  int64          `json:"late_frames"`
	Lost        int64          `json:"lost"`
	Gaps        int64          `json:"gaps"` // of Lost: offsets a socket skipped
	Duplicated  int64          `json:"duplicated"`
	Unexpected  int64          `json:"unexpected"`
	Mismatched  int64          `json:"mismatched"`
	Wrong       int64          `json:"wrong"`
	Errors      int64          `json:"errors"`
	FailedPairs int            `json:"failed_pairs"`
	ErrorKinds  map[string]int `json:"error_kinds"`
}

func (r *Results) merge(o *Results) {
	r.Pairs += o.Pairs
	r.Active += o.Active
	r.Sender = append(r.Sender, o.Sender...)
	r.Partner = append(r.Partner, o.Partner...)
	r.Pause = append(r.Pause, o.Pause...)
	r.Rounds += o.Rounds
	r.Submits += o.Submits
	r.Taps += o.Taps
	r.Unsent += o.Unsent
	r.LastReveal = max(r.LastReveal, o.LastReveal)
	r.LateRounds += o.LateRounds
	r.LateFrames += o.LateFrames
	r.Lost += o.Lost
	r.Gaps += o.Gaps
	r.Duplicated += o.Duplicated
	r.Unexpected += o.Unexpected
	r.Mismatched += o.Mismatched
	r.Wrong += o.Wrong
	r.Errors += o.Errors
	r.FailedPairs += o.FailedPairs
	for k, v := range o.ErrorKinds {
		if r.ErrorKinds == nil {
			r.ErrorKinds = map[string]int{}
		}
		r.ErrorKinds[k] += v
	}
}

// active counts the pairs that were set up.
func (f *Fleet) active() int {
	n := 0
	for _, p := range f.pairs {
		if p.setUp {
			n++
		}
	}
	return n
}

// collect adds up every pair's and socket's counts. Call it after close.
func (f *Fleet) collect() *Results {
	r := &Results{Pairs: len(f.pairs), ErrorKinds: map[string]int{}}
	f.errMu.Lock()
	for k, v := range f.errSample {
		r.ErrorKinds[k] = v
	}
	f.errMu.Unlock()
	for _, p := range f.pairs {
		if p.setUp {
			r.Active++
		}
		r.Sender = append(r.Sender, p.revealSender...)
		r.Partner = append(r.Partner, p.revealPartner...)
		r.Pause = append(r.Pause, p.pause...)
		r.Rounds += p.rounds
		r.Submits += p.submits
		r.Taps += p.taps
		r.Unsent += p.unsent
		if p.taps > 0 {
			r.LastReveal = max(r.LastReveal, f.base.Add(time.Duration(p.lastReveal)).UnixNano())
		}
		r.LateRounds += p.late
		r.LateFrames += p.lateFrames
		r.Lost += p.missing
		r.Duplicated += p.dups
		r.Unexpected += p.unexpected
		r.Mismatched += p.mismatched
		r.Wrong += p.wrong
		r.Errors += p.errs
		for _, s := range p.s {
			if s == nil {
				continue
			}
			r.Lost += s.gaps.Load()
			r.Gaps += s.gaps.Load()
			r.Duplicated += s.dups.Load()
			r.Errors += s.epochErrs.Load()
			r.Unexpected += s.badFrames.Load()
		}
		if !p.ok {
			r.FailedPairs++
		}
	}
	r.Errors += f.setupErrs.Load()
	return r
}

// Side is the benchmark's phones: one Fleet in this process, or
// several in worker processes when one process may not open that many
// sockets. Its steps run in this order: setup, load, finish, results, close.
type Side interface {
	Setup(ctx context.Context) (active int, err error)
	Load(ctx context.Context, start time.Time, period, dur, grace time.Duration) error
	Finish(ctx context.Context) error
	Results(ctx context.Context) (*Results, error)
	Close()
	PIDs() []int // processes whose CPU counts as the benchmark's
}

// Local is a Fleet in this process.
type Local struct{ F *Fleet }

func (l *Local) Setup(ctx context.Context) (int, error) {
	l.F.setup(ctx)
	return l.F.active(), ctx.Err()
}

func (l *Local) Load(ctx context.Context, start time.Time, period, dur, grace time.Duration) error {
	l.F.load(ctx, start, period, dur, grace)
	return ctx.Err()
}

func (l *Local) Finish(context.Context) error { l.F.finish(finishQuiet); return nil }

func (l *Local) Results(context.Context) (*Results, error) {
	l.F.close()
	return l.F.collect(), nil
}

func (l *Local) Close()      { l.F.close() }
func (l *Local) PIDs() []int { return []int{os.Getpid()} }

// finishQuiet is how long a Fleet waits for stray frames after the load.
const finishQuiet = 500 * time.Millisecond

// workerCmd is a command to a worker process, one JSON line on its stdin;
// the worker answers each with one workerReply line on its stdout.
type workerCmd struct {
	Cmd    string  `json:"cmd"` // setup, load, finish, results
	Config *Config `json:"config,omitempty"`
	Start  int64   `json:"start,omitempty"` // Unix nanoseconds
	Period int64   `json:"period,omitempty"`
	Dur    int64   `json:"dur,omitempty"`
	Grace  int64   `json:"grace,omitempty"`
}

type workerReply struct {
	Err     string   `json:"err,omitempty"`
	Active  int      `json:"active,omitempty"`
	Results *Results `json:"results,omitempty"`
}

// ServeWorker is the hidden -worker role: a Fleet driven over stdin and
// stdout. It ends when stdin closes or ctx ends.
func ServeWorker(ctx context.Context, in io.Reader, out io.Writer) error {
	dec := json.NewDecoder(in)
	enc := json.NewEncoder(out)
	var f *Fleet
	defer func() {
		if f != nil {
			f.close()
		}
	}()
	for {
		var c workerCmd
		if err := dec.Decode(&c); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		var rep workerReply
		switch {
		case c.Cmd == "setup" && c.Config != nil && f == nil:
			f = New(ctx, *c.Config)
			f.setup(ctx)
			rep.Active = f.active()
		case c.Cmd == "load" && f != nil:
			f.load(ctx, time.Unix(0, c.Start), time.Duration(c.Period), time.Duration(c.Dur), time.Duration(c.Grace))
		case c.Cmd == "finish" && f != nil:
			f.finish(finishQuiet)
		case c.Cmd == "results" && f != nil:
			f.close()
			rep.Results = f.collect()
		default:
			rep.Err = "unexpected command " + c.Cmd
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := enc.Encode(&rep); err != nil {
			return err
		}
	}
}

// workers are fleets in child processes, all driven in lock step.
type workers struct {
	ws []*worker
}

type worker struct {
	cmd    *exec.Cmd
	in     io.WriteCloser
	out    *json.Decoder
	waited chan struct{}
	log    string
}

// StartWorkers starts n worker processes, each with its share of cfg's
// pairs, and tells them to set up.
func StartWorkers(dir, self string, cfg Config, n int) (*workers, error) {
	w := &workers{}
	for i := range n {
		lo, hi := cfg.Pairs*i/n, cfg.Pairs*(i+1)/n
		c := cfg
		c.First, c.Pairs = cfg.First+lo, hi-lo
		c.Dialers = max(1, cfg.Dialers/n)
		wk, err := startWorker(dir, self, i)
		if err != nil {
			w.Close()
			return nil, err
		}
		w.ws = append(w.ws, wk)
		if err := wk.send(&workerCmd{Cmd: "setup", Config: &c}); err != nil {
			w.Close()
			return nil, err
		}
	}
	return w, nil
}

func startWorker(dir, self string, i int) (*worker, error) {
	logPath := filepath.Join(dir, fmt.Sprintf("worker-%d.log", i+1))
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(self, "-worker")
	cmd.Env = procs.ChildEnviron(procs.ChildEnv + "=1")
	cmd.Stderr = logf
	cmd.SysProcAttr = procs.ChildAttr()
	in, err := cmd.StdinPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		logf.Close()
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, err
	}
	w := &worker{cmd: cmd, in: in, out: json.NewDecoder(bufio.NewReader(out)), waited: make(chan struct{}), log: logPath}
	go func() {
		cmd.Wait()
		logf.Close()
		close(w.waited)
	}()
	return w, nil
}

func (w *worker) send(c *workerCmd) error {
	b, err := json.Marshal(c)
	if err != nil {
		return err
	}
	_, err = w.in.Write(append(b, '\n'))
	return err
}

// all sends c to every worker (unless c is nil: then it only reads) and
// waits for every answer.
func (w *workers) all(ctx context.Context, c *workerCmd) ([]workerReply, error) {
	if c != nil {
		for _, wk := range w.ws {
			if err := wk.send(c); err != nil {
				return nil, fmt.Errorf("worker: %w", err)
			}
		}
	}
	reps := make([]workerReply, len(w.ws))
	errs := make([]error, len(w.ws))
	var wg sync.WaitGroup
	for i, wk := range w.ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := wk.out.Decode(&reps[i]); err != nil {
				errs[i] = fmt.Errorf("worker %d ended (%v); log: %s%s", i+1, err, wk.log, procs.Tail(wk.log))
			} else if reps[i].Err != "" {
				errs[i] = fmt.Errorf("worker %d: %s", i+1, reps[i].Err)
			}
		}()
	}
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		w.Close()
		<-done
		return nil, ctx.Err()
	}
	return reps, errors.Join(errs...)
}

func (w *workers) Setup(ctx context.Context) (int, error) {
	reps, err := w.all(ctx, nil) // the setup commands went out with the start
	n := 0
	for _, r := range reps {
		n += r.Active
	}
	return n, err
}

func (w *workers) Load(ctx context.Context, start time.Time, period, dur, grace time.Duration) error {
	_, err := w.all(ctx, &workerCmd{Cmd: "load", Start: start.UnixNano(), Period: int64(period), Dur: int64(dur), Grace: int64(grace)})
	return err
}

func (w *workers) Finish(ctx context.Context) error {
	_, err := w.all(ctx, &workerCmd{Cmd: "finish"})
	return err
}

func (w *workers) Results(ctx context.Context) (*Results, error) {
	reps, err := w.all(ctx, &workerCmd{Cmd: "results"})
	if err != nil {
		return nil, err
	}
	r := &Results{}
	for _, rep := range reps {
		if rep.Results != nil {
			r.merge(rep.Results)
		}
	}
	return r, nil
}

// close ends every worker: stdin closes, so they close their sockets and
// exit; a worker that does not is killed.
func (w *workers) Close() {
	for _, wk := range w.ws {
		wk.in.Close()
	}
	for _, wk := range w.ws {
		t := time.NewTimer(10 * time.Second)
		select {
		case <-wk.waited:
		case <-t.C:
			wk.cmd.Process.Kill()
			<-wk.waited
		}
		t.Stop()
	}
}

func (w *workers) PIDs() []int {
	p := []int{os.Getpid()}
	for _, wk := range w.ws {
		p = append(p, wk.cmd.Process.Pid)
	}
	return p
}
