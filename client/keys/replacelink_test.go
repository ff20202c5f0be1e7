package keys

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
)

// verifyVectors is the layout of testdata/verify.json: known answers for
// the verification words and the re-pair link, shared with the web app's
// static/js/replace.test.mjs.
type verifyVectors struct {
	Comment string      `json:"comment"`
	Words   []string    `json:"words"` // VerifyWordList, in order
	Cases   []verifyVec `json:"cases"`
	Link    struct {
		Origin string `json:"origin"`
		Room   string `json:"room"`
		Code   string `json:"code"`
		Secret string `json:"secret"`
		Link   string `json:"link"`
	} `json:"link"`
}

type verifyVec struct {
	Secret string   `json:"secret"`
	Room   string   `json:"room"`
	Code   string   `json:"code"`
	Nonce  string   `json:"nonce"`
	Verify []string `json:"verify"`
}

func seq(start byte) string {
	b := make([]byte, SecretSize)
	for i := range b {
		b[i] = start + byte(i)
	}
	return Encoding.EncodeToString(b)
}

func computeVerify(t *testing.T) verifyVectors {
	t.Helper()
	v := verifyVectors{
		Comment: "Softland verification words and re-pair link (client/keys/replacelink.go). verify = VerifyWordList[b] for each byte b of " +
			"HKDF-SHA-256(IKM=secret, salt=empty, info=UTF-8(\"softland/v1/verify/\" + room + \"/\" + code + \"/\" + nonce), 4 bytes). " +
			"Regenerate only on purpose: go test ./client/keys -run TestVerifyVectors -update",
		Words: VerifyWordList[:],
	}
	room := "6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b"
	for _, c := range [][3]string{{seq(0), seq(32), seq(64)}, {seq(100), seq(132), seq(164)}, {seq(100), seq(132), seq(165)}} {
		secret, _ := Encoding.DecodeString(c[0])
		w, err := VerifyWords(secret, room, c[1], c[2])
		if err != nil {
			t.Fatal(err)
		}
		v.Cases = append(v.Cases, verifyVec{Secret: c[0], Room: room, Code: c[1], Nonce: c[2], Verify: w})
	}
	secret, _ := Encoding.DecodeString(seq(100))
	l := ReplaceLink{Origin: "https://softland.example", Room: room, Code: seq(132), Secret: secret}
	v.Link.Origin, v.Link.Room, v.Link.Code, v.Link.Secret, v.Link.Link = l.Origin, l.Room, l.Code, seq(100), l.String()
	return v
}

// TestVerifyVectors: the implementation matches the shared known answers.
func TestVerifyVectors(t *testing.T) {
	path := filepath.Join("testdata", "verify.json")
	got := computeVerify(t)
	if *update {
		b, err := json.MarshalIndent(got, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, append(b, '\n'), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var want verifyVectors
	if err := json.Unmarshal(b, &want); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("the implementation no longer matches %s", path)
	}
	if reflect.DeepEqual(want.Cases[1].Verify, want.Cases[2].Verify) {
		t.Fatal("another nonce gives the same words")
	}
	l, err := ParseReplaceLink(want.Link.Link)
	if err != nil || l.Room != want.Link.Room || l.Code != want.Link.Code || Encoding.EncodeToString(l.Secret) != want.Link.Secret {
		t.Fatalf("ParseReplaceLink(vector link) = %+v, %v", l, err)
	}
}

// TestVerifyWordList: 256 distinct, sorted, plain lowercase words, so no
// two can be confused by spelling and the list is easy to check by eye.
func TestVerifyWordList(t *testing.T) {
	if !sort.StringsAreSorted(VerifyWordList[:]) {
		t.Fatal("the list is not sorted")
	}
	for i, w := range VerifyWordList {
		if w == "" || strings.Trim(w, "abcdefghijklmnopqrstuvwxyz") != "" {
			t.Fatalf("word %d %q is not plain lowercase", i, w)
		}
		if i > 0 && VerifyWordList[i-1] == w {
			t.Fatalf("%q twice", w)
		}
	}
}

// TestParseReplaceLink refuses what is not a re-pair link, without quoting
// the code or the secret.
func TestParseReplaceLink(t *testing.T) {
	good := "https://softland.example/#r=6f1c2a8e-3b4d-4e5f-8a9b-0c1d2e3f4a5b." + seq(1) + "." + seq(2)
	if _, err := ParseReplaceLink(good); err != nil {
		t.Fatal(err)
	}
	for _, bad := range []string{
		strings.Replace(good, "#r=", "#m=", 1),
		strings.Replace(good, "#r=", "#", 1),
		strings.Replace(good, "https:", "ftp:", 1),
		good + ".x",
		strings.Replace(good, seq(2), seq(2)[:40], 1),
	} {
		_, err := ParseReplaceLink(bad)
		if err == nil {
			t.Errorf("ParseReplaceLink(%q) accepted", bad)
			continue
		}
		if strings.Contains(err.Error(), seq(1)) || strings.Contains(err.Error(), seq(2)[:20]) {
			t.Errorf("error quotes the link: %v", err)
		}
	}
}
