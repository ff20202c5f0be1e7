package procs

import (
	"os"
	"path/filepath"
	"runtime"
	"testing"
)

func TestReadProcCountsWrites(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("reads Linux's /proc")
	}
	before, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if before.RSS <= 0 {
		t.Fatalf("ReadProc(self) = %+v: no memory", before)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "w"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for range 5 {
		if _, err := f.Write([]byte("x")); err != nil {
			t.Fatal(err)
		}
	}
	after, err := ReadProc(os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if after.Writes-before.Writes < 5 {
		t.Fatalf("five writes counted as %d", after.Writes-before.Writes)
	}
}
