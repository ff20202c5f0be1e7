package push_test

import (
	"context"
	"encoding/base64"
	"io"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9/logging"

	"softland/server/protocol"
	"softland/server/push"
	"softland/server/push/pushtest"
	"softland/server/redisstore"
	"softland/server/redisstore/redistest"
)

// TestTwoInstancesPushOnce: two instances on one Redis share one VAPID key,
// and a pause committed on instance 1 for a partner subscribed through
// instance 2 is pushed once, by instance 1. The subscription lives only
// under the room's keys, every key expires, and after the erase no key holds
// it.
func TestTwoInstancesPushOnce(t *testing.T) {
	logging.Disable()
	rs := redistest.Start(t)
	ctx := context.Background()
	open := func() *redisstore.Node {
		s := redisstore.New(rs.Client(), redisstore.Options{})
		t.Cleanup(func() { s.Close() })
		return s
	}
	s1, s2 := open(), open()
	k1, err := push.SharedKeys(ctx, s1)
	if err != nil {
		t.Fatal(err)
	}
	k2, err := push.SharedKeys(ctx, s2)
	if err != nil {
		t.Fatal(err)
	}
	if k1.Public() != k2.Public() {
		t.Fatal("the instances have different VAPID keys")
	}

	svc := pushtest.Start(t)
	in1 := newInstance(t, s1, svc, k1, io.Discard, nil)
	in2 := newInstance(t, s2, svc, k2, io.Discard, nil)
	in1.run(t)
	in2.run(t)
	a, b := pair(t, in1, in2)
	subA, subB := svc.Subscribe(), svc.Subscribe()
	subscribe(t, in1, a, subA, allKinds)
	subscribe(t, in2, b, subB, allKinds)
	away(t, in2, b)

	off, err := in1.rooms.Pause(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	checkPush(t, svc.Next(), subB, protocol.PushPause, off)
	if o := in1.next(t); o != (outcome{protocol.PushPause, push.OutcomeSent}) {
		t.Fatalf("instance 1: outcome %v", o)
	}
	// Now instance 2 pushes something of its own; had it also taken up the
	// pause, its one worker would have counted that first.
	away(t, in1, a)
	off, err = in2.rooms.Announce(ctx, b, base64.RawURLEncoding.EncodeToString(make([]byte, 40)))
	if err != nil {
		t.Fatal(err)
	}
	checkPush(t, svc.Next(), subA, protocol.PushSpace, off)
	if o := in2.next(t); o != (outcome{protocol.PushSpace, push.OutcomeSent}) {
		t.Fatalf("instance 2: outcome %v, want only its own notice", o)
	}
	if n := svc.Pending(); n != 0 {
		t.Fatalf("%d more pushes", n)
	}
	if n := len(in1.outcomes) + len(in2.outcomes); n != 0 {
		t.Fatalf("%d more outcomes", n)
	}

	rc := rs.Client()
	defer rc.Close()
	keys, err := redistest.Keys(ctx, rc)
	if err != nil {
		t.Fatal(err)
	}
	holders := 0
	for _, k := range keys {
		ttl, err := rc.PTTL(ctx, k).Result()
		if err != nil {
			t.Fatal(err)
		}
		if ttl <= 0 {
			t.Errorf("key %s does not expire", k)
		}
		vals, err := redistest.Values(ctx, rc, k)
		if err != nil {
			t.Fatal(err)
		}
		if v := strings.Join(vals, "\n"); strings.Contains(v, subB.Auth) || strings.Contains(v, subB.P256dh) {
			holders++
			if !strings.HasPrefix(k, "sl:{"+a.Room+"}") {
				t.Errorf("key %s, not the room's, holds the subscription", k)
			}
		}
	}
	if holders == 0 {
		t.Fatal("no key holds the subscription; the audit would prove nothing")
	}

	if err := in1.rooms.Erase(ctx, a); err != nil {
		t.Fatal(err)
	}
	keys, err = redistest.Keys(ctx, rc)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		vals, err := redistest.Values(ctx, rc, k)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range []string{subA.Endpoint, subA.Auth, subB.Endpoint, subB.Auth, subB.P256dh} {
			if strings.Contains(strings.Join(vals, "\n"), s) {
				t.Errorf("key %s still holds a subscription after the erase", k)
			}
		}
	}
}
