package push

import (
	"context"
	"crypto/ecdh"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// Keys is the server's VAPID key pair (RFC 8292). Phones subscribe with the
// public key; every push is signed with the private one. A subscription
// made with one public key is refused by the push service when signed with
// another, so every instance of a deployment must use the same pair, and
// keep it as long as any room keeps a subscription.
type Keys struct {
	private string // the 32-byte scalar, unpadded base64url
	public  string // the uncompressed point, unpadded base64url
}

// NewKeys makes a fresh key pair.
func NewKeys() (*Keys, error) {
	k, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	return ParseKey(base64.RawURLEncoding.EncodeToString(k.Bytes()))
}

// ParseKey reads a private key given as its 32-byte scalar in unpadded
// base64url (the form of SOFTLAND_VAPID_PRIVATE_KEY). Its errors never
// quote the key.
func ParseKey(private string) (*Keys, error) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(strings.TrimSpace(private))
	if err != nil || len(b) != 32 {
		return nil, errors.New("push: a VAPID private key is 32 bytes in unpadded base64url")
	}
	k, err := ecdh.P256().NewPrivateKey(b)
	if err != nil {
		return nil, errors.New("push: the VAPID private key is not a P-256 key")
	}
	return &Keys{
		private: base64.RawURLEncoding.EncodeToString(b),
		public:  base64.RawURLEncoding.EncodeToString(k.PublicKey().Bytes()),
	}, nil
}

// Public returns the public key, an uncompressed P-256 point in unpadded
// base64url: a phone's applicationServerKey.
func (k *Keys) Public() string { return k.public }

// Private returns the private key in the form ParseKey reads.
func (k *Keys) Private() string { return k.private }

// KeyStore keeps the one VAPID private key all instances share (the Redis
// store implements it). VAPIDKey stores fresh unless a key is already
// stored, refreshes the stored key's expiry, and returns the stored key:
// the first instance to start decides, the others adopt its key.
type KeyStore interface {
	VAPIDKey(ctx context.Context, fresh string) (string, error)
}

// SharedKeys returns the key pair every instance uses: from ks when there is
// one (generating it if no instance has yet), else a fresh pair kept in this
// process's memory, which is right for the memory store: its rooms, and the
// subscriptions in them, end with the process too.
func SharedKeys(ctx context.Context, ks KeyStore) (*Keys, error) {
	fresh, err := NewKeys()
	if err != nil || ks == nil {
		return fresh, err
	}
	stored, err := ks.VAPIDKey(ctx, fresh.Private())
	if err != nil {
		return nil, fmt.Errorf("push: shared VAPID key: %w", err)
	}
	return ParseKey(stored)
}

// DefaultContact is the VAPID subject when neither -push-contact nor an
// automatic-certificate name gives one: a reserved name (RFC 2606) that
// push services accept. Set a real one so a push service can reach the
// operator.
const DefaultContact = "https://example.com"

// CheckContact checks a VAPID subject: a mailto: address or an https URL
// (RFC 8292 §2.1). Apple's push service refuses a mailto: at localhost or a
// .local name, so those are refused here, where the operator sees it.
func CheckContact(c string) error {
	u, err := url.Parse(c)
	if err != nil {
		return errors.New("push contact must be a mailto: address or an https:// URL")
	}
	switch u.Scheme {
	case "mailto":
		_, domain, ok := strings.Cut(u.Opaque, "@")
		if !ok || domain == "" || strings.ContainsAny(u.Opaque, "?,") {
			return errors.New("push contact: mailto: needs one address, such as mailto:ops@example.org")
		}
		if d := strings.ToLower(domain); d == "localhost" || strings.HasSuffix(d, ".local") || strings.HasSuffix(d, ".localhost") || !strings.Contains(d, ".") {
			return errors.New("push contact: Apple's push service refuses a mailto: address without a public domain")
		}
	case "https":
		if u.Host == "" {
			return errors.New("push contact: an https:// URL needs a host")
		}
	default:
		return errors.New("push contact must be a mailto: address or an https:// URL")
	}
	return nil
}

// subscriber is the contact as webpush-go v1.4.0 wants it: it puts
// "mailto:" in front of anything that does not start with "https:", so a
// mailto: contact is given without its scheme (else the JWT would say
// "mailto:mailto:…", which Apple refuses).
func subscriber(contact string) string {
	return strings.TrimPrefix(contact, "mailto:")
}
