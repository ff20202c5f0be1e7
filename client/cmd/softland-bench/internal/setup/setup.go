// Package setup connects a benchmark's pairs before the load starts: many
// at once, as a phone fleet would arrive, and with progress for the long
// setups of thousands of pairs.
package setup

import (
	"context"
	"sync"
	"sync/atomic"
)

// Pairs runs setUp for pairs 0…n-1 on up to dialers goroutines until all
// are done or ctx ends, and reports every 5,000 through progress (which may
// be nil). setUp says whether its pair is ready; Pairs returns how many are.
func Pairs(ctx context.Context, n, dialers int, setUp func(ctx context.Context, i int) bool, progress func(format string, args ...any)) int {
	var next, done, ready atomic.Int64
	var wg sync.WaitGroup
	for range max(1, min(dialers, n)) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if setUp(ctx, i) {
					ready.Add(1)
				}
				if d := done.Add(1); d%5000 == 0 && progress != nil {
					progress("  %d/%d pairs set up", d, n)
				}
			}
		})
	}
	wg.Wait()
	return int(ready.Load())
}
