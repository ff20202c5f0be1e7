// Package pushtest is a local stand-in for a Web Push service (RFC 8030),
// for tests without the internet. Like a real push service it takes a POST
// to a subscription's endpoint only with a valid VAPID authorization (RFC
// 8292: an ES256 JWT for the endpoint's origin that expires within 24 hours,
// signed by the key in the header); unlike one, it also holds each
// subscription's private keys, so it decrypts every body (RFC 8291) and hands
// the test the plaintext. A test scripts the status it answers, to play a
// push service that is gone (410) or overloaded (429, 5xx).
package pushtest

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/ecdh"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"softland/server/protocol"
)

// Service is a running stand-in push service.
type Service struct {
	*httptest.Server
	t testing.TB

	mu     sync.Mutex
	subs   map[string]*Sub
	status func(n int) int // the status of the n-th request (from 1)
	n      int
	msgs   chan Message
}

// Sub is a subscription the stand-in made, as a browser's PushManager would:
// its endpoint on the stand-in and its keys. The private key stays here.
type Sub struct {
	Endpoint, P256dh, Auth string

	key  *ecdh.PrivateKey
	auth []byte
}

// Message is one request the stand-in received, checked and decrypted.
type Message struct {
	Sub     *Sub // nil for an endpoint it never made
	Status  int  // what it answered
	Err     error
	BodyLen int
	Plain   []byte // the decrypted plaintext, padding removed
	Push    protocol.PushMessage
	Topic   string
	Urgency string
	TTL     string
	// Subject is the JWT's "sub" claim.
	Subject string
}

// Start runs a stand-in until the test ends. It answers 201 unless told
// otherwise with Answer.
func Start(t testing.TB) *Service {
	s := &Service{t: t, subs: map[string]*Sub{}, msgs: make(chan Message, 256)}
	s.Server = httptest.NewTLSServer(http.HandlerFunc(s.serve))
	t.Cleanup(s.Close)
	return s
}

// Host returns the stand-in's host:port, for the server's allowlist.
func (s *Service) Host() string {
	u, _ := url.Parse(s.URL)
	return u.Host
}

// Answer sets the status of every request from now on: f gets the number
// of the request (1 for the next one) and returns the status.
func (s *Service) Answer(f func(n int) int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.status, s.n = f, 0
}

// Subscribe makes a new subscription, as PushManager.subscribe would.
func (s *Service) Subscribe() *Sub {
	id := make([]byte, 16)
	rand.Read(id)
	return s.SubscribeAs(base64.RawURLEncoding.EncodeToString(id))
}

// SubscribeAs makes a new subscription whose endpoint ends in name, so a
// test can look for it (a privacy canary).
func (s *Service) SubscribeAs(name string) *Sub {
	key, err := ecdh.P256().GenerateKey(rand.Reader)
	if err != nil {
		s.t.Fatal(err)
	}
	auth := make([]byte, 16)
	rand.Read(auth)
	sub := &Sub{
		Endpoint: s.URL + "/push/" + name,
		P256dh:   base64.RawURLEncoding.EncodeToString(key.PublicKey().Bytes()),
		Auth:     base64.RawURLEncoding.EncodeToString(auth),
		key:      key,
		auth:     auth,
	}
	s.mu.Lock()
	s.subs[sub.Endpoint] = sub
	s.mu.Unlock()
	return sub
}

// Next returns the next message received, failing the test if none comes
// within a minute.
func (s *Service) Next() Message {
	s.t.Helper()
	select {
	case m := <-s.msgs:
		return m
	case <-time.After(time.Minute):
		s.t.Fatal("no push came")
		return Message{}
	}
}

// Pending returns how many messages were received and not yet taken.
func (s *Service) Pending() int { return len(s.msgs) }

func (s *Service) serve(w http.ResponseWriter, r *http.Request) {
	m := s.check(r)
	s.mu.Lock()
	s.n++
	status := http.StatusCreated
	if m.Err != nil {
		status = http.StatusBadRequest
	} else if s.status != nil {
		status = s.status(s.n)
	}
	s.mu.Unlock()
	m.Status = status
	w.WriteHeader(status)
	select {
	case s.msgs <- m:
	default:
		s.t.Error("pushtest: too many pushes")
	}
}

func (s *Service) check(r *http.Request) Message {
	m := Message{Topic: r.Header.Get("Topic"), Urgency: r.Header.Get("Urgency"), TTL: r.Header.Get("TTL")}
	s.mu.Lock()
	m.Sub = s.subs[s.URL+r.URL.Path]
	s.mu.Unlock()
	body, err := io.ReadAll(r.Body)
	m.BodyLen = len(body)
	switch {
	case err != nil:
		m.Err = err
	case r.Method != http.MethodPost:
		m.Err = errors.New("not a POST")
	case m.Sub == nil:
		m.Err = errors.New("unknown endpoint")
	case r.Header.Get("Content-Encoding") != "aes128gcm":
		m.Err = errors.New("Content-Encoding is not aes128gcm")
	}
	if m.Err != nil {
		return m
	}
	if m.Subject, m.Err = checkVAPID(r.Header.Get("Authorization"), s.URL); m.Err != nil {
		return m
	}
	if m.Plain, m.Err = m.Sub.decrypt(body); m.Err != nil {
		return m
	}
	dec := json.NewDecoder(bytes.NewReader(m.Plain))
	dec.DisallowUnknownFields()
	m.Err = dec.Decode(&m.Push)
	return m
}

// checkVAPID checks an RFC 8292 authorization: "vapid t=JWT, k=KEY", an
// ES256 JWT whose aud is origin, whose exp is in the next 24 hours and whose
// sub is a mailto: or https: URL, signed by KEY.
func checkVAPID(h, origin string) (sub string, err error) {
	rest, ok := strings.CutPrefix(h, "vapid ")
	if !ok {
		return "", errors.New("authorization scheme is not vapid")
	}
	var tok, key string
	for _, p := range strings.Split(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(p), "=")
		switch k {
		case "t":
			tok = v
		case "k":
			key = v
		}
	}
	kb, err := base64.RawURLEncoding.DecodeString(key)
	if err != nil {
		return "", errors.New("k is not base64url")
	}
	pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), kb)
	if err != nil {
		return "", fmt.Errorf("k: %w", err)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return "", errors.New("t is not a JWT")
	}
	var hdr struct{ Alg, Typ string }
	if err := decodePart(parts[0], &hdr); err != nil || hdr.Alg != "ES256" {
		return "", errors.New("JWT is not ES256")
	}
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || len(sig) != 64 {
		return "", errors.New("JWT signature is not 64 bytes")
	}
	digest := sha256.Sum256([]byte(parts[0] + "." + parts[1]))
	if !ecdsa.Verify(pub, digest[:], new(big.Int).SetBytes(sig[:32]), new(big.Int).SetBytes(sig[32:])) {
		return "", errors.New("JWT signature does not verify with k")
	}
	var claims struct {
		Aud string
		Exp int64
		Sub string
	}
	if err := decodePart(parts[1], &claims); err != nil {
		return "", err
	}
	now := time.Now().Unix()
	switch {
	case claims.Aud != origin:
		return "", fmt.Errorf("aud %q is not the endpoint's origin", claims.Aud)
	case claims.Exp <= now || claims.Exp > now+24*3600:
		return "", errors.New("exp is not within the next 24 hours")
	case !strings.HasPrefix(claims.Sub, "mailto:") && !strings.HasPrefix(claims.Sub, "https://"):
		return "", fmt.Errorf("sub %q is not a mailto: or https:// URL", claims.Sub)
	case strings.HasPrefix(claims.Sub, "mailto:mailto:"):
		return "", errors.New("sub says mailto: twice")
	}
	return claims.Sub, nil
}

func decodePart(p string, v any) error {
	b, err := base64.RawURLEncoding.DecodeString(p)
	if err != nil {
		return err
	}
	return json.Unmarshal(b, v)
}

// decrypt opens an aes128gcm body (RFC 8188) encrypted to the subscription
// as RFC 8291 says, and returns the plaintext without its padding.
func (sub *Sub) decrypt(body []byte) ([]byte, error) {
	if len(body) < 21 {
		return nil, errors.New("body shorter than the aes128gcm header")
	}
	salt, rs, idlen := body[:16], binary.BigEndian.Uint32(body[16:20]), int(body[20])
	if idlen != 65 || len(body) < 21+idlen+17 {
		return nil, errors.New("keyid is not a 65-byte P-256 point")
	}
	asPub, ct := body[21:21+idlen], body[21+idlen:]
	if uint32(len(ct)) > rs {
		return nil, errors.New("more than one record")
	}
	as, err := ecdh.P256().NewPublicKey(asPub)
	if err != nil {
		return nil, err
	}
	secret, err := sub.key.ECDH(as)
	if err != nil {
		return nil, err
	}
	info := append(append([]byte("WebPush: info\x00"), sub.key.PublicKey().Bytes()...), asPub...)
	ikm, err := hkdf.Key(sha256.New, secret, sub.auth, string(info), 32)
	if err != nil {
		return nil, err
	}
	prk, err := hkdf.Extract(sha256.New, ikm, salt)
	if err != nil {
		return nil, err
	}
	cek, _ := hkdf.Expand(sha256.New, prk, "Content-Encoding: aes128gcm\x00", 16)
	nonce, _ := hkdf.Expand(sha256.New, prk, "Content-Encoding: nonce\x00", 12)
	block, err := aes.NewCipher(cek)
	if err != nil {
		return nil, err
	}
	gcm, err := cipher.NewGCM(block)
	if err != nil {
		return nil, err
	}
	plain, err := gcm.Open(nil, nonce, ct, nil)
	if err != nil {
		return nil, errors.New("body does not decrypt with the subscription's keys")
	}
	end := len(plain) - 1
	for end >= 0 && plain[end] == 0 {
		end--
	}
	if end < 0 || plain[end] != 2 {
		return nil, errors.New("no last-record padding delimiter")
	}
	return plain[:end], nil
}
