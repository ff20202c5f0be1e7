package procs

import (
	"slices"
	"testing"
)

func TestParsePin(t *testing.T) {
	for in, want := range map[string]*Pinning{
		"0/1":       {Server: []int{0}, Phones: []int{1}},
		"0-1/2-3":   {Server: []int{0, 1}, Phones: []int{2, 3}},
		"0,2/1,3-4": {Server: []int{0, 2}, Phones: []int{1, 3, 4}},
		"off":       nil,
	} {
		got, err := ParsePin(in)
		if err != nil {
			t.Errorf("ParsePin(%q): %v", in, err)
			continue
		}
		if (got == nil) != (want == nil) || got != nil && (!slices.Equal(got.Server, want.Server) || !slices.Equal(got.Phones, want.Phones)) {
			t.Errorf("ParsePin(%q) = %v, want %v", in, got, want)
		}
	}
	for _, in := range []string{"0", "0/0", "1-0/2", "a/1", "0/", "0/1/2"} {
		if p, err := ParsePin(in); err == nil {
			t.Errorf("ParsePin(%q) = %v, want an error", in, p)
		}
	}
}
