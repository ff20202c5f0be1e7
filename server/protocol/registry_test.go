package protocol_test

import (
	"fmt"
	"regexp"
	"strings"
	"testing"

	"softland/server/protocol"
)

// TestDocListsEveryRequestType: docs/protocol.md §5 has a section for each
// registered request type and for no other, and §2.3 counts them right.
func TestDocListsEveryRequestType(t *testing.T) {
	doc := readDoc(t)
	types := protocol.RequestTypes()
	documented := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^### 5\\.\\d+ `([^`]+)`$").FindAllStringSubmatch(doc, -1) {
		documented[m[1]] = true
	}
	for _, typ := range types {
		if !documented[typ] {
			t.Errorf("§5 has no section for request type %q", typ)
		}
		delete(documented, typ)
	}
	for typ := range documented {
		t.Errorf("§5 documents %q, which is no request type", typ)
	}
	if want := fmt.Sprintf("one of the %d request types of §5", len(types)); !strings.Contains(doc, want) {
		t.Errorf("§2.3 does not say %q", want)
	}
}

// TestNewRequest: each registered type decodes into the struct NewRequest
// makes for it, and an unknown type has none.
func TestNewRequest(t *testing.T) {
	for _, typ := range protocol.RequestTypes() {
		m := protocol.NewRequest(typ)
		if m == nil || m.MessageType() != typ {
			t.Fatalf("NewRequest(%q) = %#v", typ, m)
		}
		_, err := protocol.DecodeRequest([]byte(`{"v":1,"type":"` + typ + `"}`))
		if err != nil && strings.Contains(err.Error(), protocol.CodeUnknownType) {
			t.Errorf("%q is registered but not decoded: %v", typ, err)
		}
	}
	if protocol.NewRequest("nope") != nil {
		t.Error("NewRequest of an unknown type")
	}
}
