package report

import (
	"strings"
	"testing"
)

func TestSummarize(t *testing.T) {
	ns := make([]int64, 1000)
	for i := range ns {
		ns[len(ns)-1-i] = int64(i+1) * 1e6 // 1..1000 ms, reversed
	}
	got := Summarize(ns)
	want := Latency{N: 1000, P50: 500, P90: 900, P99: 990, P999: 999, Max: 1000}
	if got != want {
		t.Errorf("Summarize = %+v, want %+v", got, want)
	}
}

// TestGoalsKeepingUp: a server that left taps unsent, or completed fewer
// than it was scheduled for, does not keep up, however good its latency.
func TestGoalsKeepingUp(t *testing.T) {
	for name, c := range map[string]struct {
		achieved float64
		unsent   int64
		want     string
	}{
		"kept up":   {achieved: 4990, want: "PASS"},
		"too slow":  {achieved: 3600, want: "FAIL"},
		"left taps": {achieved: 5000, unsent: 3, want: "FAIL"},
	} {
		t.Run(name, func(t *testing.T) {
			rep := &Report{
				Settings: Settings{Pairs: 5000, Rate: 5000, Pinning: "server on CPU 0"},
				Results:  []*Result{{Name: "memory", Mode: ModeMemory, ScheduledRate: 5000, AchievedRate: c.achieved, Unsent: c.unsent}},
			}
			for _, g := range Goals(rep) {
				if strings.HasPrefix(g.Goal, "memory store keeps up") {
					if g.Status != c.want {
						t.Errorf("%s: %s (%s), want %s", g.Goal, g.Status, g.Measured, c.want)
					}
					return
				}
			}
			t.Fatal("no keep-up goal judged")
		})
	}
}

// TestGoalsRelative: the latency goals compare within one run.
func TestGoalsRelative(t *testing.T) {
	rep := &Report{
		Settings: Settings{Pairs: 5000, Rate: 1000, Pinning: "server on CPU 0"},
		Floor:    &Result{Name: "relay", Mode: ModeFloor, Reveal: Latency{N: 1, P99: 2}},
		Peers:    []*Result{{Name: "centrifugo", Mode: ModeCentrifugo, Reveal: Latency{N: 1, P99: 5}}},
		Results: []*Result{
			{Name: "memory", Mode: ModeMemory, Reveal: Latency{N: 1, P99: 7}},
			{Name: "redis", Mode: ModeRedis, Reveal: Latency{N: 1, P99: 14}},
		},
	}
	want := map[string]string{
		"memory store: tap→reveal p99 below Centrifugo's":       "FAIL", // 7 > 5
		"memory store: tap→reveal p99 within 3× the bare relay": "FAIL", // 3.5×
		"Redis store: p99 within 3× the memory store's":         "PASS", // 2×
	}
	for _, g := range Goals(rep) {
		for prefix, st := range want {
			if strings.HasPrefix(g.Goal, prefix) {
				if g.Status != st {
					t.Errorf("%s: %s (%s), want %s", g.Goal, g.Status, g.Measured, st)
				}
				delete(want, prefix)
			}
		}
	}
	for prefix := range want {
		t.Errorf("goal %q not judged", prefix)
	}
}
