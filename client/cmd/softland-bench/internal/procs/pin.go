package procs

import (
	"fmt"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
)

// Pinning is the pinned mode: the measured server (and its redis-server)
// run on one set of CPUs, the phones (this process and its workers) on
// another, so the phones' work does not steal the server's core and every
// server is measured on the same share of the machine.
type Pinning struct {
	Server, Phones []int
}

// ParsePin reads -pin: "off", "auto" (server on CPU 0, phones on the rest,
// when there are at least two CPUs) or "SERVER/PHONES" as CPU lists such as
// "0/1" or "0-1/2-3".
func ParsePin(s string) (*Pinning, error) {
	switch s {
	case "off", "":
		return nil, nil
	case "auto":
		n := runtime.NumCPU()
		if n < 2 {
			return nil, nil
		}
		p := &Pinning{Server: []int{0}}
		for c := 1; c < n; c++ {
			p.Phones = append(p.Phones, c)
		}
		return p, nil
	}
	a, b, ok := strings.Cut(s, "/")
	if !ok {
		return nil, fmt.Errorf("-pin %q: want off, auto or SERVER/PHONES CPU lists such as 0/1", s)
	}
	srv, err := cpuList(a)
	if err != nil {
		return nil, err
	}
	ph, err := cpuList(b)
	if err != nil {
		return nil, err
	}
	for _, c := range srv {
		for _, d := range ph {
			if c == d {
				return nil, fmt.Errorf("-pin %q: CPU %d is in both sets", s, c)
			}
		}
	}
	return &Pinning{Server: srv, Phones: ph}, nil
}

// cpuList parses "0", "0,2" or "1-3".
func cpuList(s string) ([]int, error) {
	var out []int
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 0 || b < a || b >= 1024 {
			return nil, fmt.Errorf("-pin: %q is not a CPU list", s)
		}
		for c := a; c <= b; c++ {
			out = append(out, c)
		}
	}
	return out, nil
}

func (p *Pinning) String() string {
	if p == nil {
		return "off"
	}
	return fmt.Sprintf("server and redis-server on CPU %s, phones on CPU %s", joinInts(p.Server), joinInts(p.Phones))
}

func joinInts(v []int) string {
	s := make([]string, len(v))
	for i, n := range v {
		s[i] = strconv.Itoa(n)
	}
	return strings.Join(s, ",")
}

// wrapTaskset returns bin and args run under taskset on cpus when taskset
// is installed, so the child starts pinned with every thread it will have;
// ok is false when it is not, and the caller pins the child after it
// started (PinProcess).
func wrapTaskset(cpus []int, bin string, args []string) (string, []string, bool) {
	ts, err := exec.LookPath("taskset")
	if err != nil {
		return bin, args, false
	}
	return ts, append([]string{"-c", joinInts(cpus), bin}, args...), true
}
