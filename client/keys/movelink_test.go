package keys

import (
	"bytes"
	"strings"
	"testing"
)

const vecCode = "KGVsWDk_DDedcK7RqqhTTN8ULeZdCKBkvPDrFakd1w0"

func TestMoveLinkRoundTrip(t *testing.T) {
	secret := fixedSecret()
	l := MoveLink{Origin: "https://softland.example", Room: vecRoom, Code: vecCode, Secret: secret}
	s := l.String()
	if want := "https://softland.example/#m=" + vecRoom + "." + vecCode + "." + Encoding.EncodeToString(secret); s != want {
		t.Fatalf("String = %q, want %q", s, want)
	}
	got, err := ParseMoveLink("  " + s + "\n")
	if err != nil {
		t.Fatal(err)
	}
	if got.Origin != l.Origin || got.Room != vecRoom || got.Code != vecCode || !bytes.Equal(got.Secret, secret) {
		t.Fatalf("parsed %+v", got)
	}
	// A pairing-link reader refuses a move link, and the other way round.
	if _, err := ParseLink(s); err == nil {
		t.Fatal("ParseLink took a move link")
	}
	pair := Link{Origin: l.Origin, Room: vecRoom, Secret: secret}.String()
	if _, err := ParseMoveLink(pair); err == nil {
		t.Fatal("ParseMoveLink took a pairing link")
	}
}

func TestParseMoveLinkErrors(t *testing.T) {
	enc := Encoding.EncodeToString(fixedSecret())
	frag := "m=" + vecRoom + "." + vecCode + "." + enc
	for name, s := range map[string]string{
		"no fragment":     "https://softland.example/",
		"ftp":             "ftp://softland.example/#" + frag,
		"path":            "https://softland.example/app/#" + frag,
		"no prefix":       "https://softland.example/#" + strings.TrimPrefix(frag, "m="),
		"two parts":       "https://softland.example/#m=" + vecRoom + "." + enc,
		"four parts":      "https://softland.example/#" + frag + "." + enc,
		"upper-case room": "https://softland.example/#m=" + strings.ToUpper(vecRoom) + "." + vecCode + "." + enc,
		"short code":      "https://softland.example/#m=" + vecRoom + ".abc." + enc,
		"short secret":    "https://softland.example/#m=" + vecRoom + "." + vecCode + "." + enc[:40],
	} {
		_, err := ParseMoveLink(s)
		if err == nil {
			t.Errorf("%s: accepted", name)
			continue
		}
		if strings.Contains(err.Error(), enc) || strings.Contains(err.Error(), vecCode) {
			t.Errorf("%s: the error quotes a secret: %v", name, err)
		}
	}
}
