package edge

import (
	"reflect"
	"testing"

	"softland/server/protocol"
)

// TestHandlersMatchRegistry: every request type protocol decodes has a
// handler, every handler a request type, and each handler takes the struct
// its type decodes into, so handle never meets a request it cannot carry
// out. Adding a request type to protocol's registry without a handler here
// fails this test.
func TestHandlersMatchRegistry(t *testing.T) {
	registered := map[string]bool{}
	for _, typ := range protocol.RequestTypes() {
		registered[typ] = true
		h, ok := handlers[typ]
		if !ok {
			t.Errorf("request type %q has no handler", typ)
			continue
		}
		if want := reflect.TypeOf(protocol.NewRequest(typ)); h.msg != want {
			t.Errorf("handler of %q takes %v, the type decodes into %v", typ, h.msg, want)
		}
		set := 0
		for _, f := range []bool{h.anytime != nil, h.admit != nil, h.inRoom != nil} {
			if f {
				set++
			}
		}
		if set != 1 {
			t.Errorf("handler of %q has %d kinds, want 1", typ, set)
		}
	}
	for typ := range handlers {
		if !registered[typ] {
			t.Errorf("handler for %q, which is no registered request type", typ)
		}
	}
	if len(registered) == 0 {
		t.Fatal("protocol registers no request types")
	}
}

// TestAdmissionTypes: the first-message-only types are exactly the ones
// that create, join or resume a seat, as the protocol documents.
func TestAdmissionTypes(t *testing.T) {
	want := map[string]bool{
		protocol.TypeCreate: true, protocol.TypeJoin: true, protocol.TypeResume: true,
		protocol.TypeMove: true, protocol.TypeReplace: true,
	}
	for typ, h := range handlers {
		if (h.admit != nil) != want[typ] {
			t.Errorf("%q: admission %v, want %v", typ, h.admit != nil, want[typ])
		}
		if anytime := typ == protocol.TypePing || typ == protocol.TypeBye; (h.anytime != nil) != anytime {
			t.Errorf("%q: allowed before admission %v, want %v", typ, h.anytime != nil, anytime)
		}
	}
}
