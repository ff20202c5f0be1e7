package redisstore_test

import (
	"os"
	"testing"

	"github.com/redis/go-redis/v9/logging"
)

func TestMain(m *testing.M) {
	// go-redis logs every failed dial to stderr, which the outage tests
	// cause on purpose. The command silences it the same way.
	logging.Disable()
	os.Exit(m.Run())
}
