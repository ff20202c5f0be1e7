package peers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"
)

// TestMessageSize: every tap carries exactly MessageBytes of data, as the
// comparison says, whatever its sequence number.
func TestMessageSize(t *testing.T) {
	for _, kind := range []Kind{Centrifugo, Relay} {
		p := &pair{f: &Fleet{cfg: Config{Kind: kind}}, channel: Namespace + ":p7"}
		for _, seq := range []int{0, 9, 12345, 999999} {
			msg := p.message(seq)
			if kind == Relay {
				if len(msg) != MessageBytes {
					t.Errorf("relay message %d is %d bytes, want %d", seq, len(msg), MessageBytes)
				}
				if got, err := relaySeq([]byte(msg)); err != nil || got != seq {
					t.Errorf("relaySeq(%q) = %d, %v", msg, got, err)
				}
				continue
			}
			var cmd struct {
				Publish struct {
					Channel string          `json:"channel"`
					Data    json.RawMessage `json:"data"`
				} `json:"publish"`
			}
			if err := json.Unmarshal([]byte(msg), &cmd); err != nil {
				t.Fatalf("publish %d is not JSON: %v", seq, err)
			}
			if len(cmd.Publish.Data) != MessageBytes || cmd.Publish.Channel != p.channel {
				t.Errorf("publish %d: %d bytes of data to %q", seq, len(cmd.Publish.Data), cmd.Publish.Channel)
			}
		}
	}
}

// TestToken: an HS256 JWT whose signature checks with the secret.
func TestToken(t *testing.T) {
	secret := []byte("s3cret")
	tok := Token(secret, "bench-3")
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("token has %d parts", len(parts))
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte(parts[0] + "." + parts[1]))
	if base64.RawURLEncoding.EncodeToString(m.Sum(nil)) != parts[2] {
		t.Error("signature does not check")
	}
	body, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims struct{ Sub string }
	if err := json.Unmarshal(body, &claims); err != nil || claims.Sub != "bench-3" {
		t.Errorf("claims %s: %v", body, err)
	}
}
