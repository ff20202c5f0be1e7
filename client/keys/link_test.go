package keys

import (
	"bytes"
	"strings"
	"testing"
)

func TestLinkRoundTrip(t *testing.T) {
	secret, err := NewSecret()
	if err != nil {
		t.Fatal(err)
	}
	for _, origin := range []string{"https://softland.example", "http://127.0.0.1:8080", "http://[::1]:9000"} {
		l := Link{Origin: origin, Room: vecRoom, Secret: secret}
		s := l.String()
		if !strings.HasPrefix(s, origin+"/#"+vecRoom+".") || strings.Contains(s, "=") {
			t.Fatalf("String = %q", s)
		}
		got, err := ParseLink(s)
		if err != nil {
			t.Fatalf("ParseLink(%q): %v", s, err)
		}
		if got.Origin != origin || got.Room != vecRoom || !bytes.Equal(got.Secret, secret) {
			t.Fatalf("ParseLink(%q) = %+v", s, got)
		}
	}
}

func TestParseLinkLenient(t *testing.T) {
	enc := Encoding.EncodeToString(fixedSecret())
	for _, s := range []string{
		"  https://softland.example/#" + vecRoom + "." + enc + "\n",
		"https://softland.example#" + vecRoom + "." + enc,
		"HTTPS://softland.example/#" + vecRoom + "." + enc,
	} {
		l, err := ParseLink(s)
		if err != nil {
			t.Errorf("ParseLink(%q): %v", s, err)
			continue
		}
		if l.Origin != "https://softland.example" {
			t.Errorf("ParseLink(%q).Origin = %q", s, l.Origin)
		}
	}
}

func TestParseLinkErrors(t *testing.T) {
	enc := Encoding.EncodeToString(fixedSecret())
	frag := vecRoom + "." + enc
	cases := map[string]string{
		"empty":            "",
		"no fragment":      "https://softland.example/",
		"no origin":        "#" + frag,
		"bare fragment":    frag,
		"ftp":              "ftp://softland.example/#" + frag,
		"no host":          "https:///#" + frag,
		"userinfo":         "https://me@softland.example/#" + frag,
		"path":             "https://softland.example/app/#" + frag,
		"query":            "https://softland.example/?x=1#" + frag,
		"no dot":           "https://softland.example/#" + vecRoom + enc,
		"uppercase room":   "https://softland.example/#" + strings.ToUpper(vecRoom) + "." + enc,
		"room not uuid":    "https://softland.example/#room." + enc,
		"padded secret":    "https://softland.example/#" + frag + "=",
		"std base64":       "https://softland.example/#" + vecRoom + "." + strings.NewReplacer("-", "+", "_", "/").Replace(enc) + "+/",
		"short secret":     "https://softland.example/#" + vecRoom + "." + enc[:40],
		"long secret":      "https://softland.example/#" + vecRoom + "." + enc + "AAAA",
		"empty secret":     "https://softland.example/#" + vecRoom + ".",
		"second fragment":  "https://softland.example/#" + frag + "#x",
		"trailing garbage": "https://softland.example/#" + frag + " extra",
	}
	for name, s := range cases {
		t.Run(name, func(t *testing.T) {
			l, err := ParseLink(s)
			if err == nil {
				t.Fatalf("ParseLink(%q) = %+v, want error", s, l)
			}
			if strings.Contains(err.Error(), enc) {
				t.Fatalf("error quotes the secret: %v", err)
			}
		})
	}
}
