package memstore

import (
	"testing"

	"softland/server/protocol"
)

func TestEventLogKeepsTheNewest(t *testing.T) {
	for _, keep := range []int{1, 5, logChunk, logChunk + 1, 100} {
		var l eventLog
		for off := uint64(1); off <= 500; off++ {
			l.add(protocol.Event{Offset: off}, keep)
			if held := int(min(off, uint64(keep))); l.n != held || len(l.chunks) > keep/logChunk+2 {
				t.Fatalf("keep %d, after %d events: holds %d", keep, off, l.n)
			}
			oldest, ok := l.first()
			if !ok || oldest.Offset != off-uint64(l.n)+1 {
				t.Fatalf("keep %d, after %d events: oldest %d of %d held", keep, off, oldest.Offset, l.n)
			}
			for _, i := range []int{0, l.n / 2, l.n - 1} {
				evs := l.from(i)
				if len(evs) != l.n-i {
					t.Fatalf("keep %d: from(%d) gave %d of %d", keep, i, len(evs), l.n)
				}
				for k, ev := range evs {
					if want := oldest.Offset + uint64(i+k); ev.Offset != want {
						t.Fatalf("keep %d: from(%d)[%d] = offset %d, want %d", keep, i, k, ev.Offset, want)
					}
				}
			}
		}
	}
}
