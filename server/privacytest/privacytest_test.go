package privacytest_test

import (
	"testing"

	"softland/server/privacytest"
)

// TestCanaryMemoryStore runs the canary against the memory store; the Redis
// store runs it in its own package with a dump of every key and value.
func TestCanaryMemoryStore(t *testing.T) {
	privacytest.Run(t, privacytest.Setup{})
}
