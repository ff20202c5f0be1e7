package edge

import (
	"net/http"
	"testing"
)

func TestClientIP(t *testing.T) {
	tests := map[string]struct {
		xff   []string
		trust bool
		want  string
	}{
		"peer":                        {nil, false, "192.0.2.1"},
		"header ignored untrusted":    {[]string{"198.51.100.7"}, false, "192.0.2.1"},
		"proxy's entry":               {[]string{"203.0.113.9, 198.51.100.7"}, true, "198.51.100.7"},
		"client's own line is not it": {[]string{"203.0.113.9", "198.51.100.7"}, true, "198.51.100.7"},
		"empty header":                {[]string{""}, true, "192.0.2.1"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := &http.Request{RemoteAddr: "192.0.2.1:5555", Header: http.Header{}}
			for _, v := range tc.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if got := clientIP(r, tc.trust); got != tc.want {
				t.Fatalf("got %s, want %s", got, tc.want)
			}
		})
	}
}
