package redisstore

import (
	"encoding/base64"
	"fmt"
	"strings"
	"testing"

	"softland/server/protocol"
)

// TestDecodeStateFromV1: a state a protocol version 1 server saved with an
// answered round open still loads after the upgrade (room.StateFromV1),
// and anything else that is not a state still fails.
func TestDecodeStateFromV1(t *testing.T) {
	var entries []string
	for r := range protocol.TokenSetSize {
		b := make([]byte, 32)
		b[0], b[1] = byte(r), 1
		entries = append(entries, fmt.Sprintf(`{"t":%q,"r":%d}`, base64.RawURLEncoding.EncodeToString(b), r))
	}
	v1 := `{"id":"room","epoch":"e","version":3,"seats":[{"taken":true},{"taken":true}],"announce":[null,null],` +
		`"round":{"id":"round","tokens":[[` + strings.Join(entries, ",") + `],null],"submits":[1,0],"rev":0}}`
	st, err := decodeState([]byte(v1))
	if err != nil || st.Round == nil || len(st.Round.Tokens[0]) != protocol.TokenSetLen || st.Round.Tokens[1] != "" || st.Version != 3 {
		t.Fatalf("decodeState(v1) = %+v, %v", st, err)
	}
	if _, err := decodeState([]byte(`{"round":`)); err == nil {
		t.Fatal("a broken state decoded")
	}
}
