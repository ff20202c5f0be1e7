package main

import (
	"context"
	"io"
	"log/slog"
	"testing"

	"softland/server/memstore"
	"softland/server/metrics"
	"softland/server/push"
)

// TestPushFlags: the VAPID contact defaults to the automatic-certificate
// name, a contact Apple refuses is refused at start, off turns Web Push
// off, and SOFTLAND_VAPID_PRIVATE_KEY fixes the key.
func TestPushFlags(t *testing.T) {
	none := func(string) string { return "" }
	c, err := parse(nil, none, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.pushContact != push.DefaultContact || !c.pushOn() {
		t.Fatalf("defaults: contact %q, on %v", c.pushContact, c.pushOn())
	}
	c, err = parse([]string{"-acme-domains", "softland.example.org, other.example.org"}, none, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if c.pushContact != "https://softland.example.org" {
		t.Fatalf("contact with -acme-domains: %q", c.pushContact)
	}
	if _, err := parse([]string{"-push-contact", "mailto:ops@localhost"}, none, io.Discard); err == nil {
		t.Fatal("mailto:…@localhost was accepted")
	}
	c, err = parse([]string{"-push-services", "off"}, none, io.Discard)
	if err != nil || c.pushOn() {
		t.Fatalf("-push-services off: %v, on %v", err, c != nil && c.pushOn())
	}

	k, err := push.NewKeys()
	if err != nil {
		t.Fatal(err)
	}
	c, err = parse(nil, none, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	store := memstore.New(memstore.Options{})
	defer store.Close()
	env := func(name string) string {
		if name == "SOFTLAND_VAPID_PRIVATE_KEY" {
			return k.Private()
		}
		return ""
	}
	s, err := newPusher(context.Background(), c, env, store, slog.New(slog.DiscardHandler), metrics.New())
	if err != nil {
		t.Fatal(err)
	}
	if s.PublicKey() != k.Public() {
		t.Fatal("SOFTLAND_VAPID_PRIVATE_KEY was not used")
	}
	bad := func(name string) string {
		if name == "SOFTLAND_VAPID_PRIVATE_KEY" {
			return "nope"
		}
		return ""
	}
	if _, err := newPusher(context.Background(), c, bad, store, slog.New(slog.DiscardHandler), metrics.New()); err == nil {
		t.Fatal("a bad SOFTLAND_VAPID_PRIVATE_KEY was accepted")
	}
}
