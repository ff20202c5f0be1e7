package edge

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
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

// closingConn is a countingConn that records its Close.
type closingConn struct {
	countingConn
	closed bool
}

func (c *closingConn) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	return nil
}

// The WebSocket library answers a phone's close frame from the reader
// goroutine and closes the connection right after. If the writer holds a
// batch at that moment, the answer went into the batch: Close must send it
// (with the frames before it) rather than drop it, or the phone sees its
// close unanswered (1006) instead of a clean close.
func TestBatchConnCloseSendsWhatItHolds(t *testing.T) {
	under := &closingConn{}
	b := &batchConn{Conn: under, timeout: time.Second}
	b.hold()
	b.Write([]byte("event|"))
	b.Write([]byte("close answer"))
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if !under.closed {
		t.Fatal("Close did not close the connection")
	}
	if len(under.writes) != 1 || string(under.writes[0]) != "event|close answer" {
		t.Fatalf("writes %q, want the held batch before the close", under.writes)
	}
	if b.held || b.buf != nil {
		t.Fatal("a closed batchConn still holds a batch")
	}
}

// Close must not wait for a write in progress: a write blocked on a phone
// that does not read ends only when the connection is closed.
func TestBatchConnCloseDoesNotWaitForAWrite(t *testing.T) {
	srv, cli := net.Pipe() // cli is never read: a write on srv blocks
	defer cli.Close()
	b := &batchConn{Conn: srv, timeout: time.Second}
	wrote := make(chan error, 1)
	go func() {
		_, err := b.Write([]byte("to a phone that does not read"))
		wrote <- err
	}()
	// Wait until the write holds the lock.
	for b.mu.TryLock() {
		b.mu.Unlock()
		time.Sleep(time.Millisecond)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-wrote; err == nil {
		t.Fatal("the blocked write succeeded after Close")
	}
}

// A phone that closes while the server's writer holds a batch still gets
// its close answered: the library writes the answer into the batch from
// the reader goroutine and closes the connection at once.
func TestCloseAnsweredWhileABatchIsHeld(t *testing.T) {
	done := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		defer close(done)
		hr := &hijackRecorder{ResponseWriter: w, timeout: time.Second}
		ws, err := websocket.Accept(hr, r, &websocket.AcceptOptions{CompressionMode: websocket.CompressionDisabled})
		if err != nil {
			t.Error(err)
			return
		}
		hr.batch.hold() // the writer is in the middle of a batch
		if _, _, err := ws.Read(context.Background()); websocket.CloseStatus(err) != websocket.StatusNormalClosure {
			t.Errorf("server read: %v, want the phone's close", err)
		}
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := ws.Close(websocket.StatusNormalClosure, "bye"); err != nil {
		t.Fatalf("the phone's close was not answered: %v", err)
	}
	<-done
}
