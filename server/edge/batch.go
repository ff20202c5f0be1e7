package edge

import (
	"net"
	"sync"
	"time"
)

// batchConn is the connection under one socket's WebSocket. coder/websocket
// flushes every message on its own, one write(2) each; a request commonly
// owes its phone two or three frames at once (the events it caused, then its
// ack), and its partner one or two. While the socket's writer holds a batch
// (hold), what coder/websocket flushes is appended to one buffer, and
// release sends the lot with a single write. Nothing is held between
// batches, so an idle socket costs no buffer, and nothing waits for a batch
// to fill: the writer releases as soon as its queues are empty, and before
// anything that could wait (a store call).
//
// Writes outside a batch (the close handshake, run by another goroutine)
// go straight through, after whatever the batch holds: mu keeps the bytes
// in the order they were written.
type batchConn struct {
	net.Conn
	timeout time.Duration // bound on each release's write

	mu   sync.Mutex
	held bool
	buf  *[]byte // pooled; non-nil only while a batch holds bytes
}

// batchBufs holds the buffers of batches in flight: a few frames of at
// most a few KB.
var batchBufs = bufPool{size: 8 << 10, max: 64 << 10}

// Write implements net.Conn: inside a batch it only appends.
func (b *batchConn) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.held {
		return b.Conn.Write(p)
	}
	if b.buf == nil {
		b.buf = batchBufs.get()
	}
	*b.buf = append(*b.buf, p...)
	return len(p), nil
}

// hold starts a batch.
func (b *batchConn) hold() {
	b.mu.Lock()
	b.held = true
	b.mu.Unlock()
}

// Close implements net.Conn. The WebSocket library answers a phone's close
// frame from the reader goroutine and closes the connection right after; if
// the writer held a batch just then, the answer went into it, behind the
// frames before it, and they are sent first, within closeGrace (a phone
// that just sent its close is reading). Close never waits for a write in
// progress: one blocked on a phone that does not read ends only when the
// connection is closed. So a batch being appended to at that very instant
// is dropped, as unsent bytes are on any close.
func (b *batchConn) Close() error {
	if b.mu.TryLock() {
		b.sendLocked(min(b.timeout, closeGrace))
		b.mu.Unlock()
	}
	return b.Conn.Close()
}

// release ends the batch and writes what it holds, within timeout. An error
// means the socket is broken: the bytes may be partly sent.
func (b *batchConn) release() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	if sent, err := b.sendLocked(b.timeout); !sent || err != nil {
		return err
	}
	// The close handshake writes outside batches, bounded by its own
	// context: no deadline may be left behind for it.
	return b.Conn.SetWriteDeadline(time.Time{})
}

// sendLocked ends the batch and writes what it holds within timeout; sent
// is false when it held nothing. b.mu must be held.
func (b *batchConn) sendLocked(timeout time.Duration) (sent bool, err error) {
	b.held = false
	buf := b.buf
	if buf == nil {
		return false, nil
	}
	b.buf = nil
	defer batchBufs.put(buf)
	if err := b.Conn.SetWriteDeadline(time.Now().Add(timeout)); err != nil {
		return true, err
	}
	_, err = b.Conn.Write(*buf)
	return true, err
}
