//go:build !linux

package main

import (
	"errors"
	"syscall"
)

func childAttr() *syscall.SysProcAttr { return nil }

func raiseNofile(need uint64) (uint64, error) { return 1 << 20, nil }

type cpuMask struct{}

func pinProcess(int, []int) error    { return errors.New("CPU pinning needs Linux") }
func selfAffinity() (cpuMask, error) { return cpuMask{}, errors.New("CPU pinning needs Linux") }
func restoreSelf(cpuMask)            {}
