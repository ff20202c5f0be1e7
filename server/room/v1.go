package room

import (
	"encoding/base64"
	"encoding/json"
	"errors"

	"softland/server/protocol"
)

// StateFromV1 reads a state saved by a server of protocol version 1, for
// a store that finds one it cannot decode after an upgrade. Only the open
// round changed shape: its token sets were lists of {t, r} objects with
// 32-byte tokens, and its reveals lists of such tokens. A version 2 token
// is the first 16 bytes of the same HMAC, so the round carries on where
// it was: each set becomes the wire form with the token of rank r at
// position r (a decoy cut to 16 bytes is still 16 random bytes), each
// reveal the wire form of its tokens cut alike. A set that does not
// convert into 64 distinct tokens is dropped, and that seat answers again.
func StateFromV1(b []byte) (*State, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		return nil, errors.New("stored state is not a JSON object")
	}
	round := fields["round"]
	delete(fields, "round")
	rest, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	st := new(State)
	if err := json.Unmarshal(rest, st); err != nil {
		return nil, errors.New("stored state is neither version 2 nor version 1")
	}
	if len(round) == 0 || string(round) == "null" {
		return st, nil
	}
	var old struct {
		ID       string `json:"id"`
		By       int    `json:"by"`
		OpenedAt int64  `json:"openedAt"`
		ClosesAt int64  `json:"closesAt"`
		Tokens   [2][]struct {
			T string `json:"t"`
			R int    `json:"r"`
		} `json:"tokens"`
		Submits [2]int     `json:"submits"`
		Reveal  []string   `json:"reveal"`
		Rev     int        `json:"rev"`
		Reveals [][]string `json:"reveals"`
	}
	if err := json.Unmarshal(round, &old); err != nil {
		return nil, errors.New("stored round is neither version 2 nor version 1")
	}
	r := &Round{ID: old.ID, By: old.By, OpenedAt: old.OpenedAt, ClosesAt: old.ClosesAt, Submits: old.Submits, Rev: old.Rev}
	for seat, set := range old.Tokens {
		var ts [protocol.TokenSetSize]protocol.Token
		var placed [protocol.TokenSetSize]bool
		ok := len(set) == protocol.TokenSetSize
		for _, e := range set {
			t, good := cutV1(e.T)
			if !ok || !good || e.R < 0 || e.R >= len(ts) || placed[e.R] {
				ok = false
				break
			}
			ts[e.R], placed[e.R] = t, true
		}
		if !ok {
			continue
		}
		wire := protocol.EncodeTokens(ts[:])
		var check protocol.TokenSet
		if protocol.DecodeTokenSet(wire, &check) == "" {
			r.Tokens[seat] = wire
		}
	}
	r.Reveal = revealFromV1(old.Reveal)
	for _, rv := range old.Reveals {
		r.Reveals = append(r.Reveals, revealFromV1(rv))
	}
	st.Round = r
	return st, nil
}

// cutV1 returns the version 2 token of a version 1 one: its first 16 bytes.
func cutV1(t string) (protocol.Token, bool) {
	b, err := base64.RawURLEncoding.Strict().DecodeString(t)
	if err != nil || len(b) != 32 {
		return protocol.Token{}, false
	}
	return protocol.Token(b), true
}

func revealFromV1(reveal []string) string {
	ts := make([]protocol.Token, 0, len(reveal))
	for _, t := range reveal {
		if c, ok := cutV1(t); ok {
			ts = append(ts, c)
		}
	}
	return protocol.EncodeTokens(ts)
}
