// Package keys is Softland's cryptography on the phone: the room secret, the
// keys derived from it, match tokens, decoys and sealed blobs. The web app
// implements the very same steps with WebCrypto; both are checked against
// testdata/vectors.json, so this comment is the specification for both.
//
// All binary values travel as unpadded base64url (RFC 4648 §5 without "=").
//
// # Secret and keys
//
// A room secret is 32 random bytes, made by the phone that creates the room
// and handed to the partner only inside the pairing link's fragment (see
// Link), which browsers never send to a server.
//
// Three 32-byte keys are derived from it with HKDF-SHA-256 (RFC 5869), with
// the secret as input keying material, an empty salt and these infos:
//
//	join key   info "softland/v1/join"
//	match key  info "softland/v1/match"
//	seal key   info "softland/v1/seal"
//
// The join key is shown to the server once, by the partner, as
// base64url(joinKey) (43 characters). The creator sends only
// base64url(SHA-256(joinKey)), so the server can check the partner's key
// without ever having held it. The match and seal keys never leave the phones.
//
// # Tokens
//
// The token of a concrete suggestion in a round is the first 16 bytes of
//
//	HMAC-SHA-256(matchKey, UTF-8(roundID + "/" + suggestionID))
//
// Both phones compute the same token for the same suggestion in the same round
// and nothing else can, so the server can intersect two token sets without
// learning what they mean. Binding the round id in makes tokens of one round
// useless in the next. A decoy is 16 random bytes: indistinguishable from a
// token to anyone without the match key (docs/threat-model.md shows why 16
// bytes of the HMAC lose nothing).
//
// # Sealed blobs
//
// Whatever the partner must read and the server must not (announcements,
// shared settings, debriefs) is sealed with AES-256-GCM under the seal key:
//
//	blob = base64url(nonce || AES-256-GCM-Seal(sealKey, nonce, plaintext, aad))
//	nonce = 12 random bytes
//	aad   = UTF-8("softland/v1/" + roomID + "/" + context)
//
// The ciphertext includes GCM's 16-byte tag, so a blob is at least 28 bytes.
// The context names what the blob is for — ContextAnnounce, ContextSettings,
// or DebriefContext(roundID) — so the server cannot replay a blob from one
// place (or room, or round) into another: opening it there fails.
package keys

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
)

// Sizes, in bytes.
const (
	SecretSize = 32 // the room secret
	KeySize    = 32 // each derived key
	NonceSize  = 12 // the AES-GCM nonce at the start of a sealed blob
	TagSize    = 16 // the AES-GCM tag at the end of a sealed blob
	TokenSize  = 16 // a match token or decoy: the HMAC truncated, or random
)

// HKDF infos, one per derived key.
const (
	InfoJoin  = "softland/v1/join"
	InfoMatch = "softland/v1/match"
	InfoSeal  = "softland/v1/seal"
)

// Seal contexts. A debrief's context names its round: DebriefContext.
const (
	ContextAnnounce = "announce"
	ContextSettings = "settings"
)

// aadPrefix starts every sealed blob's additional authenticated data.
const aadPrefix = "softland/v1/"

// DebriefContext is the seal context of a debrief for round: "debrief/" + round.
func DebriefContext(round string) string { return "debrief/" + round }

// ErrOpen is returned by Open for any blob that is not valid base64url, is too
// short, was changed, or was sealed for another room, context or secret. The
// cases are deliberately not told apart.
var ErrOpen = errors.New("keys: sealed blob cannot be opened (damaged, or sealed for another room, context or secret)")

// Encoding is unpadded base64url, the one encoding of every binary value on
// the wire and in links. Decoding is strict: no padding, no stray bits.
var Encoding = base64.RawURLEncoding.Strict()

// Keys are the keys derived from one room secret. They are safe for
// concurrent use.
type Keys struct {
	join  []byte
	match []byte
	aead  cipher.AEAD
}

// NewSecret returns a new random room secret of SecretSize bytes.
func NewSecret() ([]byte, error) {
	s := make([]byte, SecretSize)
	if _, err := rand.Read(s); err != nil {
		return nil, fmt.Errorf("keys: new secret: %w", err)
	}
	return s, nil
}

// Derive derives the join, match and seal keys from a room secret, which must
// be exactly SecretSize bytes.
func Derive(secret []byte) (*Keys, error) {
	if len(secret) != SecretSize {
		return nil, fmt.Errorf("keys: derive: the secret has %d bytes, want %d", len(secret), SecretSize)
	}
	derive := func(info string) ([]byte, error) { return hkdfKey(secret, info) }
	k := new(Keys)
	var err error
	if k.join, err = derive(InfoJoin); err != nil {
		return nil, fmt.Errorf("keys: derive join key: %w", err)
	}
	if k.match, err = derive(InfoMatch); err != nil {
		return nil, fmt.Errorf("keys: derive match key: %w", err)
	}
	seal, err := derive(InfoSeal)
	if err != nil {
		return nil, fmt.Errorf("keys: derive seal key: %w", err)
	}
	block, err := aes.NewCipher(seal)
	if err != nil {
		return nil, fmt.Errorf("keys: seal key: %w", err)
	}
	if k.aead, err = cipher.NewGCM(block); err != nil {
		return nil, fmt.Errorf("keys: seal key: %w", err)
	}
	return k, nil
}

// hkdfKey derives one KeySize-byte key: HKDF-SHA-256 with an empty salt.
func hkdfKey(secret []byte, info string) ([]byte, error) {
	return hkdf.Key(sha256.New, secret, nil, info, KeySize)
}

// JoinKey returns base64url(joinKey): what the partner presents once to take
// the second seat.
func (k *Keys) JoinKey() string { return Encoding.EncodeToString(k.join) }

// JoinKeyHash returns base64url(SHA-256(joinKey)): what the creator sends
// instead of the join key.
func (k *Keys) JoinKeyHash() string {
	h := sha256.Sum256(k.join)
	return Encoding.EncodeToString(h[:])
}

// MatchToken returns the match token of the concrete suggestion id in
// round: the first TokenSize bytes of HMAC-SHA-256(matchKey, UTF-8(round +
// "/" + id)).
func (k *Keys) MatchToken(round, id string) [TokenSize]byte {
	m := hmac.New(sha256.New, k.match)
	m.Write([]byte(round + "/" + id))
	return [TokenSize]byte(m.Sum(nil))
}

// Token returns MatchToken in unpadded base64url (22 characters), the form
// of the known-answer vectors.
func (k *Keys) Token(round, id string) string {
	t := k.MatchToken(round, id)
	return Encoding.EncodeToString(t[:])
}

// DecoyToken returns a decoy: TokenSize random bytes.
func DecoyToken() ([TokenSize]byte, error) {
	var d [TokenSize]byte
	if _, err := rand.Read(d[:]); err != nil {
		return d, fmt.Errorf("keys: decoy: %w", err)
	}
	return d, nil
}

// Decoy returns 32 random bytes in base64url, the form of a join, move or
// re-pair nonce (decoy tokens are DecoyToken).
func Decoy() (string, error) {
	b := make([]byte, KeySize)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("keys: decoy: %w", err)
	}
	return Encoding.EncodeToString(b), nil
}

// Seal encrypts plaintext for room and context with a fresh random nonce and
// returns the blob (see the package comment for its layout).
func (k *Keys) Seal(room, context string, plaintext []byte) (string, error) {
	nonce := make([]byte, NonceSize)
	if _, err := rand.Read(nonce); err != nil {
		return "", fmt.Errorf("keys: seal: %w", err)
	}
	return k.sealWithNonce(room, context, nonce, plaintext), nil
}

// sealWithNonce is Seal with a given nonce, for known-answer tests only: a
// nonce must never be used twice with the same key.
func (k *Keys) sealWithNonce(room, context string, nonce, plaintext []byte) string {
	out := make([]byte, NonceSize, NonceSize+len(plaintext)+TagSize)
	copy(out, nonce)
	out = k.aead.Seal(out, nonce, plaintext, aad(room, context))
	return Encoding.EncodeToString(out)
}

// Open decrypts a blob sealed for room and context. It returns ErrOpen if the
// blob is malformed, was tampered with, or belongs to another room, context or
// secret.
func (k *Keys) Open(room, context, blob string) ([]byte, error) {
	b, err := Encoding.DecodeString(blob)
	if err != nil || len(b) < NonceSize+TagSize {
		return nil, ErrOpen
	}
	pt, err := k.aead.Open(nil, b[:NonceSize], b[NonceSize:], aad(room, context))
	if err != nil {
		return nil, ErrOpen
	}
	return pt, nil
}

func aad(room, context string) []byte {
	return []byte(aadPrefix + room + "/" + context)
}
