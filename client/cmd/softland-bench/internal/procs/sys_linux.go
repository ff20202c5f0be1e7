package procs

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"syscall"
	"unsafe"
)

// ChildAttr makes a child die with this process (Pdeathsig) and keeps it out
// of the terminal's process group, so Ctrl-C reaches only the benchmark,
// which then stops its children in order.
func ChildAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}

// RaiseNofile raises RLIMIT_NOFILE towards need: to the hard limit, and
// beyond it when this process may (CAP_SYS_RESOURCE). It returns the limit
// it got. Children inherit it (Go passes on a limit the program set itself).
func RaiseNofile(need uint64) (uint64, error) {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	if lim.Max < need {
		want := syscall.Rlimit{Cur: need, Max: need}
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &want); err == nil {
			return need, nil
		}
	}
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		return 0, err
	}
	return lim.Cur, nil
}

// CPUMask is a sched_setaffinity mask for up to 1024 CPUs.
type CPUMask [16]uint64

func maskOf(cpus []int) CPUMask {
	var m CPUMask
	for _, c := range cpus {
		m[c/64] |= 1 << (c % 64)
	}
	return m
}

func setAffinity(tid int, m CPUMask) error {
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_SETAFFINITY, uintptr(tid), unsafe.Sizeof(m), uintptr(unsafe.Pointer(&m)))
	if e != 0 {
		return e
	}
	return nil
}

func getAffinity(tid int) (CPUMask, error) {
	var m CPUMask
	_, _, e := syscall.RawSyscall(syscall.SYS_SCHED_GETAFFINITY, uintptr(tid), unsafe.Sizeof(m), uintptr(unsafe.Pointer(&m)))
	if e != 0 {
		return m, e
	}
	return m, nil
}

// PinProcess sets the affinity of every thread of pid. A thread inherits
// the affinity of the thread that creates it, so after two passes over
// /proc/PID/task that find no new thread, every later thread is pinned too.
func PinProcess(pid int, cpus []int) error {
	m := maskOf(cpus)
	done := map[int]bool{}
	for quiet := 0; quiet < 2; {
		ents, err := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if err != nil {
			return err
		}
		fresh := 0
		for _, e := range ents {
			tid, err := strconv.Atoi(e.Name())
			if err != nil || done[tid] {
				continue
			}
			if err := setAffinity(tid, m); err != nil && !errors.Is(err, syscall.ESRCH) {
				return fmt.Errorf("sched_setaffinity: %w", err)
			}
			done[tid] = true
			fresh++
		}
		if fresh == 0 {
			quiet++
		} else {
			quiet = 0
		}
	}
	return nil
}

// SelfAffinity is this process's affinity now, to restore after a run.
func SelfAffinity() (CPUMask, error) { return getAffinity(0) }

// RestoreSelf sets every thread of this process back to m.
func RestoreSelf(m CPUMask) {
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		return
	}
	for _, e := range ents {
		if tid, err := strconv.Atoi(e.Name()); err == nil {
			setAffinity(tid, m)
		}
	}
}
