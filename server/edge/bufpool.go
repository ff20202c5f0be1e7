package edge

import "sync"

// bufPool lends byte buffers that start at size bytes and keeps none that
// grew past max, so one unusually large message (a welcome with a long
// replay, a frame near the read limit) does not stay in memory. The socket
// paths that borrow from one hold a buffer only while they use it, so an
// idle socket holds none.
type bufPool struct {
	pool      sync.Pool
	size, max int
}

func (p *bufPool) get() *[]byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, p.size)
	return &b
}

// put gives b back, emptied; nil is ignored.
func (p *bufPool) put(b *[]byte) {
	if b != nil && cap(*b) <= p.max {
		*b = (*b)[:0]
		p.pool.Put(b)
	}
}
