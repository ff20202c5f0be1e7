package protocol_test

import (
	"errors"
	"testing"

	"softland/server/protocol"
)

func TestDecodeIsStrictAboutKeys(t *testing.T) {
	key := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	room := "6f1c2f55-6f5a-4c5e-9a55-3b1f0e6f9d10"
	tests := map[string]struct {
		frame string
		ok    bool
	}{
		"exact":                 {`{"v":1,"type":"resume","room":"` + room + `","device":"` + key + `","offset":0}`, true},
		"optional id and epoch": {`{"v":1,"type":"resume","id":"9","epoch":"e","room":"` + room + `","device":"` + key + `","offset":0}`, true},
		"upper-case key":        {`{"V":1,"type":"ping"}`, false},
		"mixed-case key":        {`{"v":1,"Type":"ping"}`, false},
		"repeated key":          {`{"v":1,"type":"ping","type":"ping"}`, false},
		"missing offset":        {`{"v":1,"type":"resume","room":"` + room + `","device":"` + key + `"}`, false},
		"missing join key":      {`{"v":1,"type":"join","room":"` + room + `"}`, false},
		"lenient blob":          {`{"v":1,"type":"announce","blob":"AB"}`, false},
		"strict blob":           {`{"v":1,"type":"announce","blob":"AA"}`, true},
		"token missing rank":    {`{"v":1,"type":"round.submit","round":"` + room + `","tokens":[{"t":"` + key + `"}]}`, false},
		"token upper-case key":  {`{"v":1,"type":"round.submit","round":"` + room + `","tokens":[{"T":"` + key + `","r":0}]}`, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := protocol.DecodeRequest([]byte(tc.frame))
			var de *protocol.DecodeError
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && (!errors.As(err, &de) || de.Code != protocol.CodeBadRequest) {
				t.Fatalf("want bad_request, got %v", err)
			}
		})
	}
}
