package redisstore

import (
	"context"
	"time"

	"github.com/redis/go-redis/v9"
)

// vapidKey holds the one VAPID private key every instance signs Web Push
// with (package push): a subscription is bound to the public key it was made
// with, so all instances must share it. It is not a room's: it names no
// room and holds nothing a phone sent.
const vapidKey = "sl:vapid"

// vapidScript stores ARGV[1] unless a key is stored, gives the stored key
// ARGV[2] ms to live, and returns it; in one step, so two instances starting
// together agree on one key.
var vapidScript = redis.NewScript(`
redis.call('SET', KEYS[1], ARGV[1], 'NX')
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return redis.call('GET', KEYS[1])
`)

// VAPIDKey implements push.KeyStore. Like every key Softland stores, it
// expires: it lives a day longer than a room may stay idle, and each instance
// renews it at start and then every few hours (push.KeyRefresh), so while
// any room that may hold a subscription lives, so does the key it was made
// with. Once every instance has been down longer than that, every room is
// gone too, and a fresh key costs nothing.
func (s *Store) VAPIDKey(ctx context.Context, fresh string) (string, error) {
	ttl := s.opt.IdleTTL + 24*time.Hour
	return vapidScript.Run(ctx, s.client, []string{vapidKey}, fresh, ttl.Milliseconds()).Text()
}
