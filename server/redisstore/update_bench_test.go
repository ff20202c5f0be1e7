package redisstore_test

// What an update costs on Redis on the common path: a room with a phone
// connected to this instance, so the store watches it. The metrics it reports
// do not depend on the machine: round trips per update, as the client sees
// them, and the commands Redis ran per update (INFO commandstats counts the
// commands a script runs too: the GET inside the commit script is one).
//
//	go test -run '^$' -bench Update -benchtime 2000x ./server/redisstore

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/redis/go-redis/v9"

	"softland/server/protocol"
	"softland/server/redisstore"
	"softland/server/redisstore/redistest"
)

// tripCounter counts the round trips a client makes for updates: each GET,
// EVALSHA or EVAL is one. (The lease renewals and subscriptions the store
// makes meanwhile are other commands, or pipelines, and not counted.)
type tripCounter struct {
	n     atomic.Int64
	mu    sync.Mutex
	names []string // since the last reset
}

// reset starts counting afresh.
func (c *tripCounter) reset() {
	c.n.Store(0)
	c.mu.Lock()
	c.names = nil
	c.mu.Unlock()
}

// sent returns the commands counted since the last reset, in order.
func (c *tripCounter) sent() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.names)
}

func (c *tripCounter) DialHook(next redis.DialHook) redis.DialHook { return next }
func (c *tripCounter) ProcessHook(next redis.ProcessHook) redis.ProcessHook {
	return func(ctx context.Context, cmd redis.Cmder) error {
		switch name := cmd.Name(); name {
		case "get", "evalsha", "eval":
			c.n.Add(1)
			c.mu.Lock()
			c.names = append(c.names, name)
			c.mu.Unlock()
		}
		return next(ctx, cmd)
	}
}
func (c *tripCounter) ProcessPipelineHook(next redis.ProcessPipelineHook) redis.ProcessPipelineHook {
	return next
}

// commandCalls returns how often Redis ran each command, from INFO
// commandstats.
func commandCalls(b *testing.B, c *redis.Client) map[string]int64 {
	b.Helper()
	info, err := c.Info(context.Background(), "commandstats").Result()
	if err != nil {
		b.Fatal(err)
	}
	calls := make(map[string]int64)
	for _, line := range strings.Split(info, "\n") {
		name, rest, ok := strings.Cut(strings.TrimSpace(line), ":calls=")
		if !ok {
			continue
		}
		n, _, _ := strings.Cut(rest, ",")
		calls[strings.TrimPrefix(name, "cmdstat_")], _ = strconv.ParseInt(n, 10, 64)
	}
	return calls
}

func BenchmarkUpdate(b *testing.B) {
	srv := redistest.Start(b)
	c := srv.Client()
	trips := new(tripCounter)
	c.AddHook(trips)
	s := redisstore.New(c, redisstore.Options{})
	defer s.Close()
	ctx := context.Background()
	st := newState()
	if err := s.Create(ctx, st); err != nil {
		b.Fatal(err)
	}
	defer s.Subscribe(st.ID, func(protocol.Event) {})()
	if err := s.WaitSubscribed(ctx, st.ID); err != nil {
		b.Fatal(err)
	}
	stats := srv.Client()
	before := commandCalls(b, stats)
	trips.reset()
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := s.Update(ctx, st.ID, announce(1)); err != nil {
			b.Fatal(err)
		}
	}
	n := float64(b.N)
	b.ReportMetric(float64(trips.n.Load())/n, "trips/op")
	after := commandCalls(b, stats)
	var all int64
	for cmd, calls := range after {
		if cmd != "info" {
			all += calls - before[cmd]
		}
	}
	b.ReportMetric(float64(all)/n, "cmds/op")
	for _, cmd := range []string{"get", "evalsha"} {
		b.ReportMetric(float64(after[cmd]-before[cmd])/n, cmd+"/op")
	}
}
