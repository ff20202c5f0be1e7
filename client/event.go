package client

import (
	"encoding/json"
	"errors"
	"fmt"
	"sync"

	"softland/client/keys"
	"softland/client/rules"
	"softland/server/protocol"
)

// Event is a room event as the server logged it, with what this phone can
// make of it: the revealed suggestions mapped back from their tokens, and
// sealed payloads opened.
type Event struct {
	protocol.Event

	// Suggestions are the concrete suggestion ids of a round.revealed event,
	// best first: the same list on both phones.
	Suggestions []string
	// Unknown counts revealed tokens that match no concrete suggestion of
	// this phone's catalog (the partner's app has another catalog version).
	Unknown int
	// Plaintext is the opened JSON of an announced or settings event; see
	// Announcement and SharedSettings for the web app's forms.
	Plaintext []byte
	// Debriefs are the opened debriefs of a debrief.released event, seat 1's
	// first.
	Debriefs []DebriefAnswer
	// Err says why a sealed payload could not be opened (keys.ErrOpen), or
	// held something other than expected. The event is delivered anyway.
	Err error
}

// Snapshot is the room as a welcome described it, with what this phone can
// make of it.
type Snapshot struct {
	protocol.Snapshot

	// Suggestions are the open round's current mutual suggestions, best first.
	Suggestions []string
	// Unknown counts revealed tokens this phone's catalog does not know.
	Unknown int
	// SettingsPlaintext is the opened shared settings, or nil.
	SettingsPlaintext []byte
	// AnnouncePlaintext are the opened latest announcements of seat 1 and 2.
	AnnouncePlaintext [2][]byte
	// Released are the released debriefs by round id, seat 1's first.
	Released map[string][]DebriefAnswer
	// Err is the first failure to open a sealed payload, if any.
	Err error
}

// Announcement is the web app's announcement: {"kind":"space","minutes":20,
// "until":<Unix ms>} says "I need 20 minutes of space".
type Announcement struct {
	Kind    string `json:"kind"`
	Minutes int    `json:"minutes,omitempty"`
	Until   int64  `json:"until,omitempty"`
}

// AnnouncementSpace is the Kind of a space announcement.
const AnnouncementSpace = "space"

// SharedSettings are the couple's shared settings as the web app seals them.
type SharedSettings struct {
	PauseWord string   `json:"pauseWord"`
	Signals   []string `json:"signals"`
}

// DebriefAnswer is one partner's debrief: what helped, and what they would
// prefer next time.
type DebriefAnswer struct {
	Helped string `json:"helped"`
	Next   string `json:"next"`
}

// catalog is the embedded catalog, parsed once per process.
var catalog = sync.OnceValues(rules.Default)

// errBadPayload is an opened payload that is not the JSON it should be.
var errBadPayload = errors.New("client: an opened payload is not the expected JSON")

// decodeLocked adds what the phone can read to a logged event. c.mu is held.
func (c *Client) decodeLocked(ev protocol.Event) Event {
	e := Event{Event: ev}
	switch ev.Kind {
	case protocol.KindRoundRevealed:
		e.Suggestions, e.Unknown = c.suggestionsLocked(ev.Round, ev.Reveal)
	case protocol.KindAnnounced:
		e.Plaintext, e.Err = c.keys.Open(c.room, keys.ContextAnnounce, ev.Blob)
	case protocol.KindSettings:
		e.Plaintext, e.Err = c.keys.Open(c.room, keys.ContextSettings, ev.Blob)
		if e.Err == nil {
			c.settingsPT = e.Plaintext
		}
	case protocol.KindDebriefReleased:
		e.Debriefs, e.Err = c.openDebriefs(ev.Round, ev.Blobs)
	case protocol.KindRoundClosed:
		delete(c.tokenMap, ev.Round)
		delete(c.decoys, ev.Round)
	}
	return e
}

// decodeSnapshotLocked adds what the phone can read to a snapshot.
func (c *Client) decodeSnapshotLocked(s *protocol.Snapshot) *Snapshot {
	out := &Snapshot{Snapshot: *s}
	note := func(err error) {
		if err != nil && out.Err == nil {
			out.Err = err
		}
	}
	if r := s.Round; r != nil {
		out.Suggestions, out.Unknown = c.suggestionsLocked(r.Round, r.Reveal)
	}
	var err error
	if s.Settings != nil {
		out.SettingsPlaintext, err = c.keys.Open(c.room, keys.ContextSettings, s.Settings.Blob)
		note(err)
		if err == nil {
			c.settingsPT = out.SettingsPlaintext
		}
	}
	for i, a := range s.Announce {
		if a != nil {
			out.AnnouncePlaintext[i], err = c.keys.Open(c.room, keys.ContextAnnounce, a.Blob)
			note(err)
		}
	}
	for _, d := range s.Debriefs {
		if len(d.Released) == 0 {
			continue
		}
		ans, err := c.openDebriefs(d.Round, d.Released)
		note(err)
		if out.Released == nil {
			out.Released = make(map[string][]DebriefAnswer)
		}
		out.Released[d.Round] = ans
	}
	return out
}

// openDebriefs opens both released debriefs of round.
func (c *Client) openDebriefs(round string, blobs []string) ([]DebriefAnswer, error) {
	if len(blobs) != 2 {
		return nil, fmt.Errorf("client: a debrief release holds %d debriefs, not 2", len(blobs))
	}
	out := make([]DebriefAnswer, 2)
	var first error
	for i, b := range blobs {
		pt, err := c.keys.Open(c.room, keys.DebriefContext(round), b)
		if err == nil && json.Unmarshal(pt, &out[i]) != nil {
			err = errBadPayload
		}
		if err != nil && first == nil {
			first = err
		}
	}
	return out, first
}

// suggestionsLocked maps a reveal (wire form) back to concrete suggestion
// ids by computing the token of every concrete id of the catalog for the
// round. Tokens that map to nothing are counted, not guessed at; so is a
// reveal that does not decode, as one.
func (c *Client) suggestionsLocked(round string, reveal string) (ids []string, unknown int) {
	tokens, err := protocol.DecodeTokens(reveal)
	if err != nil {
		return nil, 1
	}
	m := c.tokenMap[round]
	if m == nil {
		all := rules.ConcreteIDs(c.cat)
		m = make(map[protocol.Token]string, len(all))
		for _, id := range all {
			m[c.keys.MatchToken(round, id)] = id
		}
		if len(c.tokenMap) >= 4 { // rounds come one at a time; keep few
			clear(c.tokenMap)
		}
		c.tokenMap[round] = m
	}
	for _, t := range tokens {
		if id, ok := m[t]; ok {
			ids = append(ids, id)
		} else {
			unknown++
		}
	}
	return ids, unknown
}
