package redisstore

import "testing"

func TestWakeUpCarriesItsLastOffset(t *testing.T) {
	msg := string(wakeUp(42, []byte(`[{"offset":41},{"offset":42}]`)))
	last, events, ok := parseWakeUp(msg)
	if !ok || last != 42 || events != `[{"offset":41},{"offset":42}]` {
		t.Fatalf("parseWakeUp(%q) = %d, %q, %v", msg, last, events, ok)
	}
	// The previous release's bare array is read whole.
	if last, events, ok := parseWakeUp(`[{"offset":7}]`); !ok || last != 0 || events != `[{"offset":7}]` {
		t.Fatalf("a bare array: %d, %q, %v", last, events, ok)
	}
	for _, bad := range []string{`{"offset":1}`, `x:[]`, `:[]`, `-1:[]`, ``} {
		if _, _, ok := parseWakeUp(bad); ok {
			t.Errorf("parseWakeUp(%q) accepted", bad)
		}
	}
}
