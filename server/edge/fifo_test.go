package edge

import "testing"

// TestFIFO: items come out in order however pushes and pops interleave,
// and a queue that never quite empties does not grow without bound.
func TestFIFO(t *testing.T) {
	var q fifo[int]
	next, want := 0, 0
	for round := range 1000 {
		for range round%5 + 1 {
			q.push(next)
			next++
		}
		for range round % 4 {
			v, ok := q.pop()
			if !ok || v != want {
				t.Fatalf("round %d: pop %d %v, want %d", round, v, ok, want)
			}
			want++
		}
		if q.len() != next-want {
			t.Fatalf("round %d: len %d, want %d", round, q.len(), next-want)
		}
		if cap(q.items) > 4*(q.len()+8) {
			t.Fatalf("round %d: capacity %d for %d items", round, cap(q.items), q.len())
		}
	}
	for q.len() > 0 {
		if v, _ := q.pop(); v != want {
			t.Fatalf("drain: %d, want %d", v, want)
		}
		want++
	}
	if _, ok := q.pop(); ok || want != next {
		t.Fatal("empty queue returned an item")
	}
}
