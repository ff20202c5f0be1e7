package memstore

import "softland/server/protocol"

// logChunk is how many events one chunk of a room's log holds.
const logChunk = 32

// eventLog is a room's last events, oldest first, in chunks of logChunk.
// Appending never copies what is already logged, as one growing slice did
// (an Event is ~260 bytes, and doubling a slice of them, then copying it
// down to drop the oldest, was a twentieth of the server's time at load).
// The first chunk grows as a slice does, so a room with few events holds
// little; later chunks are whole from the start. Events leave from the
// front of the first chunk, which goes once all of its events have left.
type eventLog struct {
	chunks [][]protocol.Event
	head   int // events of chunks[0] that have left
	n      int // events held
}

// add logs ev, keeping the last keep events.
func (l *eventLog) add(ev protocol.Event, keep int) {
	last := len(l.chunks) - 1
	if last < 0 || len(l.chunks[last]) == logChunk {
		var c []protocol.Event
		if last >= 0 {
			c = make([]protocol.Event, 0, logChunk)
		}
		l.chunks = append(l.chunks, c)
		last++
	}
	l.chunks[last] = append(l.chunks[last], ev)
	l.n++
	for l.n > keep {
		l.chunks[0][l.head] = protocol.Event{} // let its strings go
		l.head++
		l.n--
		if l.head == len(l.chunks[0]) && len(l.chunks) > 1 {
			l.chunks[0] = nil
			l.chunks = l.chunks[1:]
			l.head = 0
		}
	}
}

// first returns the oldest event held; ok is false when there is none.
func (l *eventLog) first() (protocol.Event, bool) {
	if l.n == 0 {
		return protocol.Event{}, false
	}
	return l.chunks[0][l.head], true
}

// from returns a copy of the events from the i-th held (0: the oldest) on.
func (l *eventLog) from(i int) []protocol.Event {
	out := make([]protocol.Event, 0, l.n-i)
	i += l.head
	for _, c := range l.chunks {
		if i >= len(c) {
			i -= len(c)
			continue
		}
		out = append(out, c[i:]...)
		i = 0
	}
	return out
}
