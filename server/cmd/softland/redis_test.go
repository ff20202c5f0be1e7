package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/redis/go-redis/v9"

	"softland/server/protocol"
	"softland/server/redisstore/redistest"
)

// TestRunWithRedis starts the binary against a real Redis, a single node by
// URL and a Cluster by addresses, and checks that a room created through it
// lands in Redis.
func TestRunWithRedis(t *testing.T) {
	rs := redistest.Start(t)
	cl := redistest.StartCluster(t, 3)
	for name, tc := range map[string]struct {
		env     map[string]string
		clients []*redis.Client
	}{
		"url":     {map[string]string{"SOFTLAND_REDIS_URL": rs.URL()}, []*redis.Client{rs.Client()}},
		"cluster": {map[string]string{"SOFTLAND_REDIS_ADDRS": strings.Join(cl.Addrs(), ", ")}, []*redis.Client{cl.Nodes[0].Client(), cl.Nodes[1].Client(), cl.Nodes[2].Client()}},
	} {
		t.Run(name, func(t *testing.T) {
			url, stop := start(t, tc.env)
			if code, body := get(t, url+"/readyz"); code != http.StatusOK {
				t.Fatalf("/readyz: %d %s", code, body)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			ws, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(url, "http")+"/ws", nil)
			if err != nil {
				t.Fatal(err)
			}
			defer ws.CloseNow()
			hash := strings.Repeat("A", 43)
			b, _ := protocol.Marshal(&protocol.Create{Header: protocol.Header{Type: protocol.TypeCreate}, JoinKeyHash: hash})
			ws.Write(ctx, websocket.MessageText, b)
			_, b, err = ws.Read(ctx)
			if err != nil || !strings.Contains(string(b), `"welcome"`) {
				t.Fatalf("create: %s %v", b, err)
			}
			var w protocol.Welcome
			json.Unmarshal(b, &w)
			keys, err := redistest.Keys(ctx, tc.clients...)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Contains(keys, "sl:{"+w.Room+"}:state") {
				t.Fatalf("room not in Redis; keys %q", keys)
			}
			if err := stop(); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func TestRedisFlags(t *testing.T) {
	for name, tc := range map[string]struct {
		args []string
		env  map[string]string
	}{
		"master without addrs":   {args: []string{"-redis-master", "m"}},
		"password without redis": {env: map[string]string{"SOFTLAND_REDIS_PASSWORD": "secret"}},
		"tls without redis":      {args: []string{"-redis-tls"}},
	} {
		if _, err := parse(tc.args, func(k string) string { return tc.env[k] }, io.Discard); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	c, err := parse([]string{"-redis-addrs", "a:1, b:2", "-redis-master", "m"}, func(k string) string {
		return map[string]string{"SOFTLAND_REDIS_PASSWORD": "pw", "SOFTLAND_REDIS_TLS": "true"}[k]
	}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	rc := c.redis.store()
	if len(rc.Addrs) != 2 || rc.Addrs[1] != "b:2" || rc.MasterName != "m" || rc.Password != "pw" || !rc.TLS {
		t.Fatalf("redis config %+v", rc)
	}
	// Both a URL and addresses: run refuses to start, without echoing the URL.
	env := map[string]string{"SOFTLAND_REDIS_URL": "redis://:secret@127.0.0.1:1", "SOFTLAND_REDIS_ADDRS": "127.0.0.1:2"}
	err = run(context.Background(), []string{"-addr", "127.0.0.1:0"}, func(k string) string { return env[k] }, io.Discard, io.Discard)
	if err == nil || strings.Contains(err.Error(), "secret") {
		t.Fatalf("run: %v", err)
	}
}
