package keys

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"softland/server/protocol"
)

var update = flag.Bool("update", false, "rewrite testdata/vectors.json from the implementation")

// vectors is the layout of testdata/vectors.json, the known answers the Go
// client and the web app must both reproduce. Binary values are unpadded
// base64url; plaintexts are UTF-8 text.
type vectors struct {
	Comment     string      `json:"comment"`
	Secret      string      `json:"secret"`
	Keys        derivedKeys `json:"keys"`
	JoinKey     string      `json:"joinKey"`
	JoinKeyHash string      `json:"joinKeyHash"`
	Link        linkVector  `json:"link"`
	Tokens      []tokenVec  `json:"tokens"`
	Submission  submitVec   `json:"submission"`
	Seals       []sealVec   `json:"seals"`
}

// submitVec is a round.submit's "tokens" from known parts: the tokens of
// IDs at positions 0.. (their ranks), then Decoys in order.
type submitVec struct {
	Round  string   `json:"round"`
	IDs    []string `json:"ids"`
	Decoys []string `json:"decoys"`
	Tokens string   `json:"tokens"`
}

type derivedKeys struct {
	Join  string `json:"join"`
	Match string `json:"match"`
	Seal  string `json:"seal"`
}

type linkVector struct {
	Origin string `json:"origin"`
	Room   string `json:"room"`
	Link   string `json:"link"`
}

type tokenVec struct {
	Round string `json:"round"`
	ID    string `json:"id"`
	HMAC  string `json:"hmac"`  // the whole HMAC-SHA-256
	Token string `json:"token"` // its first 16 bytes
}

type sealVec struct {
	Room      string `json:"room"`
	Context   string `json:"context"`
	Nonce     string `json:"nonce"`
	Plaintext string `json:"plaintext"`
	Blob      string `json:"blob"`
}

const (
	vecRoom   = "6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
	vecRound1 = "0a9b8c7d-6e5f-4a3b-9c2d-1e0f2a3b4c5d"
	vecRound2 = "f0e1d2c3-b4a5-4968-8776-655443322110"
)

// fixedSecret is bytes 0x00..0x1f: obviously not random, which is the point.
func fixedSecret() []byte {
	s := make([]byte, SecretSize)
	for i := range s {
		s[i] = byte(i)
	}
	return s
}

// compute builds the vectors from the implementation.
func compute(t *testing.T) vectors {
	t.Helper()
	secret := fixedSecret()
	k, err := Derive(secret)
	if err != nil {
		t.Fatal(err)
	}
	seal := mustHKDF(t, secret, InfoSeal)
	v := vectors{
		Comment: "Softland crypto known answers (client/keys). All binary values are unpadded base64url. " +
			"keys.* = HKDF-SHA-256(IKM=secret, salt=empty, info=softland/v1/{join,match,seal}, 32 bytes). " +
			"hmac = HMAC-SHA-256(match, UTF-8(round + \"/\" + id)); token = its first 16 bytes. " +
			"submission.tokens = base64url(token(ids[0]) || token(ids[1]) || ... || decoys[0] || decoys[1] || ...), 64 tokens of 16 bytes. " +
			"blob = nonce || AES-256-GCM(seal, nonce, UTF-8(plaintext), AAD=UTF-8(\"softland/v1/\" + room + \"/\" + context)). " +
			"Regenerate only on purpose: go test ./client/keys -run TestVectors -update",
		Secret: Encoding.EncodeToString(secret),
		Keys: derivedKeys{
			Join:  Encoding.EncodeToString(k.join),
			Match: Encoding.EncodeToString(k.match),
			Seal:  Encoding.EncodeToString(seal),
		},
		JoinKey:     k.JoinKey(),
		JoinKeyHash: k.JoinKeyHash(),
	}
	l := Link{Origin: "https://softland.example", Room: vecRoom, Secret: secret}
	v.Link = linkVector{Origin: l.Origin, Room: l.Room, Link: l.String()}
	for _, tv := range []tokenVec{
		{Round: vecRound1, ID: "water"},
		{Round: vecRound1, ID: "hold@1"},
		{Round: vecRound1, ID: "hold@2"},
		{Round: vecRound2, ID: "water"},
		{Round: vecRound2, ID: "té-calentito ☕"},
	} {
		m := hmac.New(sha256.New, k.match)
		m.Write([]byte(tv.Round + "/" + tv.ID))
		tv.HMAC = Encoding.EncodeToString(m.Sum(nil))
		tv.Token = k.Token(tv.Round, tv.ID)
		v.Tokens = append(v.Tokens, tv)
	}
	sub := submitVec{Round: vecRound1, IDs: []string{"water", "hold@1"}}
	var raw []byte
	for _, id := range sub.IDs {
		t := k.MatchToken(sub.Round, id)
		raw = append(raw, t[:]...)
	}
	for i := len(sub.IDs); i < 64; i++ {
		d := bytes.Repeat([]byte{byte(i)}, TokenSize)
		sub.Decoys = append(sub.Decoys, Encoding.EncodeToString(d))
		raw = append(raw, d...)
	}
	sub.Tokens = Encoding.EncodeToString(raw)
	v.Submission = sub
	for i, sv := range []sealVec{
		{Room: vecRoom, Context: ContextAnnounce, Plaintext: `{"kind":"space","minutes":20,"until":1767225600000}`},
		{Room: vecRoom, Context: ContextSettings, Plaintext: `{"pauseWord":"mandarina","signals":["amarillo","rojo 🛑"]}`},
		{Room: vecRoom, Context: DebriefContext(vecRound1), Plaintext: `{"helped":"the blanket","next":"more quiet first"}`},
		{Room: vecRoom, Context: ContextAnnounce, Plaintext: ""},
	} {
		nonce := make([]byte, NonceSize)
		for j := range nonce {
			nonce[j] = byte(0xa0 + 16*i + j)
		}
		sv.Nonce = Encoding.EncodeToString(nonce)
		sv.Blob = k.sealWithNonce(sv.Room, sv.Context, nonce, []byte(sv.Plaintext))
		v.Seals = append(v.Seals, sv)
	}
	return v
}

func mustHKDF(t *testing.T, secret []byte, info string) []byte {
	t.Helper()
	// Keys holds the seal key only inside its AEAD; derive the bytes again
	// for the vector file.
	b, err := hkdfKey(secret, info)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestVectors(t *testing.T) {
	path := filepath.Join("testdata", "vectors.json")
	got := compute(t)
	if *update {
		var b bytes.Buffer
		enc := json.NewEncoder(&b)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(got); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want vectors
	dec := json.NewDecoder(bytes.NewReader(raw))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&want); err != nil {
		t.Fatal(err)
	}

	// Check the file against the implementation entry by entry, starting
	// from the file's own inputs, so a mismatch names what drifted.
	secret, err := Encoding.DecodeString(want.Secret)
	if err != nil {
		t.Fatal(err)
	}
	k, err := Derive(secret)
	if err != nil {
		t.Fatal(err)
	}
	if g := Encoding.EncodeToString(k.join); g != want.Keys.Join {
		t.Errorf("join key = %s, want %s", g, want.Keys.Join)
	}
	if g := Encoding.EncodeToString(k.match); g != want.Keys.Match {
		t.Errorf("match key = %s, want %s", g, want.Keys.Match)
	}
	if g := got.Keys.Seal; g != want.Keys.Seal {
		t.Errorf("seal key = %s, want %s", g, want.Keys.Seal)
	}
	if g := k.JoinKey(); g != want.JoinKey || len(g) != protocol.KeyLen {
		t.Errorf("JoinKey = %s, want %s", g, want.JoinKey)
	}
	if g := k.JoinKeyHash(); g != want.JoinKeyHash || !protocol.IsKey(g) {
		t.Errorf("JoinKeyHash = %s, want %s", g, want.JoinKeyHash)
	}
	l, err := ParseLink(want.Link.Link)
	if err != nil {
		t.Fatalf("ParseLink(vector link): %v", err)
	}
	if l.Origin != want.Link.Origin || l.Room != want.Link.Room || !bytes.Equal(l.Secret, secret) {
		t.Errorf("ParseLink(vector link) = %+v", l)
	}
	if g := l.String(); g != want.Link.Link {
		t.Errorf("Link.String = %s, want %s", g, want.Link.Link)
	}
	if len(want.Tokens) == 0 || len(want.Seals) == 0 {
		t.Fatal("vector file has no tokens or seals")
	}
	for _, tv := range want.Tokens {
		m := hmac.New(sha256.New, k.match)
		m.Write([]byte(tv.Round + "/" + tv.ID))
		whole := m.Sum(nil)
		if g := k.Token(tv.Round, tv.ID); g != tv.Token || g != Encoding.EncodeToString(whole[:TokenSize]) || tv.HMAC != Encoding.EncodeToString(whole) {
			t.Errorf("Token(%s, %q) = %s, want %s, the start of %s", tv.Round, tv.ID, g, tv.Token, tv.HMAC)
		}
	}
	sub := want.Submission
	var set []protocol.Token
	for _, id := range sub.IDs {
		set = append(set, k.MatchToken(sub.Round, id))
	}
	for _, d := range sub.Decoys {
		b, err := Encoding.DecodeString(d)
		if err != nil || len(b) != TokenSize {
			t.Fatalf("bad decoy %q", d)
		}
		set = append(set, protocol.Token(b))
	}
	var parsed protocol.TokenSet
	if g := protocol.EncodeTokens(set); g != sub.Tokens || len(set) != protocol.TokenSetSize || protocol.DecodeTokenSet(g, &parsed) != "" {
		t.Errorf("submission tokens = %s, want %s", g, sub.Tokens)
	}
	for _, sv := range want.Seals {
		nonce, err := Encoding.DecodeString(sv.Nonce)
		if err != nil || len(nonce) != NonceSize {
			t.Fatalf("bad nonce %q", sv.Nonce)
		}
		if g := k.sealWithNonce(sv.Room, sv.Context, nonce, []byte(sv.Plaintext)); g != sv.Blob {
			t.Errorf("seal(%s) = %s, want %s", sv.Context, g, sv.Blob)
		}
		pt, err := k.Open(sv.Room, sv.Context, sv.Blob)
		if err != nil || string(pt) != sv.Plaintext {
			t.Errorf("Open(%s) = %q, %v; want %q", sv.Context, pt, err, sv.Plaintext)
		}
	}

	// And the file must be exactly what the implementation computes, so
	// nobody can edit one entry by hand without the others following.
	gb, _ := json.Marshal(got)
	wb, _ := json.Marshal(want)
	if !bytes.Equal(gb, wb) {
		t.Errorf("testdata/vectors.json differs from the implementation; run with -update only if the change is intended")
	}
}

func TestDeriveSeparatesKeys(t *testing.T) {
	k, err := Derive(fixedSecret())
	if err != nil {
		t.Fatal(err)
	}
	seal, err := hkdfKey(fixedSecret(), InfoSeal)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(k.join, k.match) || bytes.Equal(k.join, seal) || bytes.Equal(k.match, seal) {
		t.Fatal("derived keys are not distinct")
	}
	for _, n := range []int{0, 16, 31, 33, 64} {
		if _, err := Derive(make([]byte, n)); err == nil {
			t.Errorf("Derive(%d bytes) succeeded", n)
		}
	}
}

func TestNewSecretAndDecoy(t *testing.T) {
	a, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	b, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	if len(a) != SecretSize || bytes.Equal(a, b) {
		t.Fatalf("NewSecret: %d bytes, equal=%v", len(a), bytes.Equal(a, b))
	}
	seen := map[string]bool{}
	for range 100 {
		d, err := Decoy()
		if err != nil {
			t.Fatal(err)
		}
		if !protocol.IsKey(d) {
			t.Fatalf("decoy %q is not a 32-byte base64url value", d)
		}
		if seen[d] {
			t.Fatal("decoy repeated")
		}
		seen[d] = true
	}
}

func TestTokens(t *testing.T) {
	k1, _ := Derive(fixedSecret())
	other := fixedSecret()
	other[0] ^= 1
	k2, _ := Derive(other)
	tok := k1.Token(vecRound1, "water")
	if again := k1.Token(vecRound1, "water"); again != tok {
		t.Error("Token is not deterministic")
	}
	for name, g := range map[string]string{
		"other round":  k1.Token(vecRound2, "water"),
		"other id":     k1.Token(vecRound1, "snack"),
		"other secret": k2.Token(vecRound1, "water"),
	} {
		if g == tok {
			t.Errorf("%s gives the same token", name)
		}
	}
	// round + "/" + id is the whole input, so these two collide by design;
	// ids never contain the round id, and round ids are UUIDs without "/".
	if k1.Token(vecRound1+"/w", "ater") != k1.Token(vecRound1, "w/ater") {
		t.Error("token input is not round + \"/\" + id")
	}
}

func TestSealRoundTrip(t *testing.T) {
	k, _ := Derive(fixedSecret())
	for _, pt := range [][]byte{nil, []byte("{}"), bytes.Repeat([]byte("x"), 5000)} {
		blob, err := k.Seal(vecRoom, ContextSettings, pt)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Encoding.DecodeString(blob); err != nil {
			t.Fatalf("blob is not unpadded base64url: %v", err)
		}
		got, err := k.Open(vecRoom, ContextSettings, blob)
		if err != nil || !bytes.Equal(got, pt) {
			t.Fatalf("Open = %q, %v", got, err)
		}
		again, _ := k.Seal(vecRoom, ContextSettings, pt)
		if again == blob {
			t.Fatal("two seals of the same plaintext are equal: nonce reuse")
		}
	}
}

func TestOpenRefuses(t *testing.T) {
	k, _ := Derive(fixedSecret())
	other := fixedSecret()
	other[31] ^= 0x80
	k2, _ := Derive(other)
	blob, err := k.Seal(vecRoom, DebriefContext(vecRound1), []byte(`{"helped":"tea"}`))
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := Encoding.DecodeString(blob)
	flip := func(i int) string {
		b := append([]byte(nil), raw...)
		b[i] ^= 1
		return Encoding.EncodeToString(b)
	}
	cases := map[string]struct {
		k             *Keys
		room, context string
		blob          string
	}{
		"nonce flipped":      {k, vecRoom, DebriefContext(vecRound1), flip(0)},
		"ciphertext flipped": {k, vecRoom, DebriefContext(vecRound1), flip(NonceSize + 2)},
		"tag flipped":        {k, vecRoom, DebriefContext(vecRound1), flip(len(raw) - 1)},
		"truncated":          {k, vecRoom, DebriefContext(vecRound1), Encoding.EncodeToString(raw[:len(raw)-1])},
		"too short":          {k, vecRoom, DebriefContext(vecRound1), Encoding.EncodeToString(raw[:NonceSize+TagSize-1])},
		"empty":              {k, vecRoom, DebriefContext(vecRound1), ""},
		"padded":             {k, vecRoom, DebriefContext(vecRound1), blob + "="},
		"not base64url":      {k, vecRoom, DebriefContext(vecRound1), strings.Replace(blob, blob[:1], "+", 1)},
		"wrong context":      {k, vecRoom, ContextAnnounce, blob},
		"wrong round":        {k, vecRoom, DebriefContext(vecRound2), blob},
		"wrong room":         {k, vecRound2, DebriefContext(vecRound1), blob},
		"wrong secret":       {k2, vecRoom, DebriefContext(vecRound1), blob},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			pt, err := c.k.Open(c.room, c.context, c.blob)
			if !errors.Is(err, ErrOpen) || pt != nil {
				t.Fatalf("Open = %q, %v; want ErrOpen", pt, err)
			}
		})
	}
}
