package redisstore_test

import (
	"fmt"
	"strings"
	"testing"

	"softland/server/edge"
	"softland/server/privacytest"
	"softland/server/redisstore"
	"softland/server/redisstore/redistest"
	"softland/server/servertest"
)

// TestCanaryRedisStore runs the privacy canary with the Redis store and
// searches everything Redis holds, every key and every value.
func TestCanaryRedisStore(t *testing.T) {
	t.Parallel()
	rs := redistest.Start(t)
	rc := rs.Client()
	store := newStore(t, rs.Client(), redisstore.Options{})
	privacytest.Run(t, privacytest.Setup{
		Options: servertest.Options{Store: store, Seats: store.Leases, Edge: edge.Config{Feed: store.Feed}},
		Dump: func(t *testing.T, _ string) string {
			keys, err := redistest.Keys(ctx(t), rc)
			if err != nil {
				t.Fatal(err)
			}
			var b strings.Builder
			for _, k := range keys {
				fmt.Fprintln(&b, k)
				vals, err := redistest.Values(ctx(t), rc, k)
				if err != nil {
					t.Error(err)
				}
				for _, v := range vals {
					fmt.Fprintln(&b, v)
				}
			}
			if len(keys) == 0 {
				t.Error("Redis holds nothing; the dump would prove nothing")
			}
			return b.String()
		},
	})
}
