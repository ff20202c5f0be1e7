package edge

import (
	"bytes"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// countingConn records every write that reaches the network.
type countingConn struct {
	net.Conn
	mu       sync.Mutex
	writes   [][]byte
	fail     error
	deadline []time.Time
}

func (c *countingConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail != nil {
		return 0, c.fail
	}
	c.writes = append(c.writes, append([]byte(nil), p...))
	return len(p), nil
}

func (c *countingConn) SetWriteDeadline(t time.Time) error {
	c.deadline = append(c.deadline, t)
	return nil
}

func TestBatchConnSendsABatchInOneWrite(t *testing.T) {
	under := &countingConn{}
	b := &batchConn{Conn: under, timeout: time.Second}

	b.Write([]byte("alone"))
	b.hold()
	for _, f := range []string{"event 1|", "event 2|", "ack"} {
		if n, err := b.Write([]byte(f)); err != nil || n != len(f) {
			t.Fatalf("write in a batch: %d, %v", n, err)
		}
	}
	if len(under.writes) != 1 {
		t.Fatalf("a held batch reached the network early: %q", under.writes)
	}
	if err := b.release(); err != nil {
		t.Fatal(err)
	}
	b.hold()
	if err := b.release(); err != nil { // an empty batch writes nothing
		t.Fatal(err)
	}
	b.Write([]byte("close"))

	want := []string{"alone", "event 1|event 2|ack", "close"}
	if len(under.writes) != len(want) {
		t.Fatalf("writes %q, want %q", under.writes, want)
	}
	for i, w := range want {
		if !bytes.Equal(under.writes[i], []byte(w)) {
			t.Fatalf("write %d = %q, want %q", i, under.writes[i], w)
		}
	}
	// The batch's write was bounded, and the bound lifted after it.
	if len(under.deadline) != 2 || under.deadline[0].IsZero() || !under.deadline[1].IsZero() {
		t.Fatalf("deadlines %v: want one bound, then none", under.deadline)
	}
	if b.buf != nil {
		t.Fatal("a released batch kept its buffer")
	}
}

func TestBatchConnReportsAFailedWrite(t *testing.T) {
	broken := errors.New("broken pipe")
	under := &countingConn{fail: broken}
	b := &batchConn{Conn: under, timeout: time.Second}
	b.hold()
	b.Write([]byte("event"))
	if err := b.release(); !errors.Is(err, broken) {
		t.Fatalf("release = %v, want the write's error", err)
	}
	if b.held || b.buf != nil {
		t.Fatal("a failed batch stayed open")
	}
}
