package push_test

import (
	"strings"
	"testing"

	"softland/server/push"
)

// TestCheckContact: a VAPID subject is a mailto: with a public domain or an
// https URL; what Apple's push service refuses is refused at start.
func TestCheckContact(t *testing.T) {
	for contact, ok := range map[string]bool{
		push.DefaultContact:                  true,
		"https://softland.example.org":       true,
		"mailto:care@softland.example.org":   true,
		"mailto:care@localhost":              false,
		"mailto:care@LOCALHOST":              false,
		"mailto:care@box.local":              false,
		"mailto:care@intranet":               false,
		"mailto:care":                        false,
		"mailto:a@example.org,b@example.org": false,
		"care@softland.example.org":          false,
		"http://softland.example.org":        false,
		"https://":                           false,
		"":                                   false,
	} {
		if err := push.CheckContact(contact); (err == nil) != ok {
			t.Errorf("CheckContact(%q) = %v", contact, err)
		}
	}
}

// TestParseKey: a key round-trips through its text form, and a bad one is
// refused without being quoted.
func TestParseKey(t *testing.T) {
	k, err := push.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	again, err := push.ParseKey(k.Private())
	if err != nil {
		t.Fatal(err)
	}
	if again.Public() != k.Public() || len(k.Public()) != 87 {
		t.Fatalf("public key %q, then %q", k.Public(), again.Public())
	}
	for _, bad := range []string{"", "not-a-key", k.Public(), k.Private() + "AA", strings.Repeat("_", 43)} {
		_, err := push.ParseKey(bad)
		if err == nil {
			t.Errorf("ParseKey(%q) took it", bad)
		} else if bad != "" && strings.Contains(err.Error(), bad) {
			t.Errorf("the error quotes the key: %v", err)
		}
	}
}
