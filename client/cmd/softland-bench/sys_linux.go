package main

import "syscall"

// childAttr makes a child die with this process (Pdeathsig) and keeps it out
// of the terminal's process group, so Ctrl-C reaches only the benchmark,
// which then stops its children in order.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL, Setpgid: true}
}

// raiseNofile raises RLIMIT_NOFILE towards need: to the hard limit, and
// beyond it when this process may (CAP_SYS_RESOURCE). It returns the limit
// it got. Children inherit it (Go passes on a limit the program set itself).
func raiseNofile(need uint64) (uint64, error) {
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
