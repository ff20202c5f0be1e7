//go:build !linux

package procs

import (
	"errors"
	"syscall"
)

func ChildAttr() *syscall.SysProcAttr { return nil }

func RaiseNofile(need uint64) (uint64, error) { return 1 << 20, nil }

type CPUMask struct{}

func PinProcess(int, []int) error    { return errors.New("CPU pinning needs Linux") }
func SelfAffinity() (CPUMask, error) { return CPUMask{}, errors.New("CPU pinning needs Linux") }
func RestoreSelf(CPUMask)            {}
