// Package rules is the Go interpreter of Softland's catalog rules.
//
// After a session each partner taps needs on their own phone. The phone, not
// the server, turns those taps into the ranked list of suggestions it can
// accept, so that only HMAC tokens of suggestion ids ever leave it. This
// package does that turning for the Go client; static/js/rules.js does the
// same for the web app. Both are written from the same specification and must
// pass the shared vectors in static/rules-vectors.json, so the two phones of
// a couple always agree on what a tap means, whatever app each one runs.
//
// A suggestion with roles ("{giver} holds {receiver}") exists twice on the
// wire, once per giving seat: "hold@1" means seat 1 gives and seat 2
// receives, "hold@2" the other way round. Every other suggestion has a single
// concrete id, its own id. Concrete ids are what gets tokenised and matched.
package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"softland/static"
)

// SupportedVersion is the catalog format version this interpreter
// understands. A different version may mean different semantics, so Parse
// rejects it rather than silently misreading a partner's taps.
const SupportedVersion = 1

// MaxConcrete bounds the number of concrete suggestion ids in a catalog.
// Each phone pads its token list with decoys to a fixed count; keeping the
// catalog small keeps that count, and so every round's traffic, small.
const MaxConcrete = 64

// FallbackRank is the lowest rank that marks an accepted suggestion as a
// fallback rather than a wish. Bridges are roles suggestions whose giver is
// the partner who needs space. A space need accepts its own bridge as giver
// at rank 0; a closeness need accepts every bridge only as receiver, at rank
// 9 (8 after a welcome boost), so that a clash with a space need still meets
// on a neutral bridge given by the partner who asked for space. Two
// closeness phones both accept only the receiving side, so they never share
// a bridge; the rank still tells a caller that, for the closeness phone, the
// bridge is a concession and not a wish.
const FallbackRank = 8

// Roles of a rule entry that refers to a roles suggestion. They are relative
// to the seat of the phone applying the rule, which is why the catalog can
// describe "I'd like to be held" once for both seats.
const (
	RoleGive    = "give"
	RoleReceive = "receive"
)

// Errors returned by Accept, wrapped with the offending value, so callers can
// tell a stale or foreign input (errors.Is) from a bug in the catalog.
var (
	ErrSeat              = errors.New("rules: seat must be 1 or 2")
	ErrUnknownNeed       = errors.New("rules: unknown need")
	ErrUnknownSuggestion = errors.New("rules: unknown suggestion")
	ErrNotParsed         = errors.New("rules: catalog was not built by Parse")
)

// Text is a piece of user-facing wording keyed by locale ("en", "es").
// Wording lives in the catalog, never in code, so it can be reviewed and
// translated as data.
type Text map[string]string

// Catalog is the versioned catalog of needs, suggestions and rules shared by
// the server, the web app and the Go client. Build it with Parse or Default
// and treat it as read-only: Accept relies on indexes Parse builds from it.
type Catalog struct {
	// Version is the catalog format version; see SupportedVersion.
	Version int `json:"version"`
	// Locales lists the languages every label and text must carry.
	Locales []string `json:"locales"`
	// Groups order the needs on screen (closeness, space, care, ...).
	Groups []Group `json:"groups"`
	// Needs are what a partner can tap.
	Needs []Need `json:"needs"`
	// Suggestions are what a couple may be offered; their order is the
	// final tie-break when ranking, so it is part of the contract.
	Suggestions []Suggestion `json:"suggestions"`
	// Rules say, per need, which suggestions that need makes acceptable.
	Rules []Rule `json:"rules"`

	idx *index
}

// Group is a heading that needs are shown under.
type Group struct {
	ID    string `json:"id"`
	Label Text   `json:"label"`
}

// Need is one thing a partner can tap, worded in the first person.
type Need struct {
	ID    string `json:"id"`
	Group string `json:"group"`
	// Minutes is the length of a space need, so the app can offer a
	// check-in when the time is up; zero when the need has no duration.
	Minutes int  `json:"minutes,omitempty"`
	Label   Text `json:"label"`
}

// Suggestion is a concrete thing a couple can do. With Roles set, its Text
// uses {giver} and {receiver} and it exists once per giving seat.
type Suggestion struct {
	ID    string   `json:"id"`
	Roles bool     `json:"roles,omitempty"`
	Tags  []string `json:"tags"`
	Text  Text     `json:"text"`
}

// Rule lists what one need makes acceptable and which tags it rules out.
type Rule struct {
	Need   string  `json:"need"`
	Accept []Entry `json:"accept"`
	// RemoveTags removes, for the seat that tapped the need, every
	// suggestion carrying one of these tags, whatever else accepted it.
	// It is how a space need is a boundary and not just a wish.
	RemoveTags []string `json:"removeTags,omitempty"`
}

// Entry accepts either one suggestion or every suggestion with a tag, at a
// rank (0 is the best fit). Role narrows a roles suggestion to one direction;
// on a tag entry it narrows every roles suggestion with the tag and leaves
// the tag's other suggestions as they are.
type Entry struct {
	Suggestion string `json:"suggestion,omitempty"`
	Tag        string `json:"tag,omitempty"`
	Role       string `json:"role,omitempty"`
	Rank       int    `json:"rank"`
}

// Plan is the part of a partner's private plan that shapes their list. Ids
// are base suggestion ids ("hold", not "hold@1"): a never is a never in both
// directions.
type Plan struct {
	// Never lists suggestions that must not be offered at all.
	Never []string `json:"never,omitempty"`
	// Welcome lists suggestions this partner usually welcomes; each gets a
	// one-step better rank when some tapped need accepts it.
	Welcome []string `json:"welcome,omitempty"`
}

// Names are the partners' display names, inserted only at render time so
// the catalog and everything derived from it stay free of personal data.
type Names struct {
	Seat1 string `json:"seat1"`
	Seat2 string `json:"seat2"`
}

// Ranked is one accepted concrete suggestion with the numbers it was ordered
// by, for callers that combine two phones' ranks.
type Ranked struct {
	// ID is the concrete id ("hold@2", "water").
	ID string
	// Rank is the best rank any tapped need gave it, after the plan's
	// welcome boost.
	Rank int
	// Hits is how many distinct tapped needs accepted it.
	Hits int
}

// index holds lookups Parse derives once so Accept need not re-validate.
type index struct {
	suggestion map[string]int   // suggestion id -> position in Suggestions
	rule       map[string]int   // need id -> position in Rules
	tagged     map[string][]int // tag -> suggestion positions, catalog order
}

var idPattern = regexp.MustCompile(`^[a-z0-9]+(-[a-z0-9]+)*$`)

// Default parses the catalog embedded in the binary. It returns a fresh
// Catalog on every call, so no caller can disturb another's copy.
func Default() (*Catalog, error) {
	return Parse(static.Catalog)
}

// Parse decodes and strictly validates a catalog. Strict, because a catalog
// mistake (a typo in a tag, a missing translation) would otherwise surface
// as a couple silently never being offered something, long after release.
func Parse(data []byte) (*Catalog, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var c Catalog
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("rules: decode catalog: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("rules: decode catalog: trailing data after the catalog")
	}
	idx, err := c.validate()
	if err != nil {
		return nil, err
	}
	c.idx = idx
	return &c, nil
}

func (c *Catalog) validate() (*index, error) {
	if c.Version != SupportedVersion {
		return nil, fmt.Errorf("rules: catalog version %d, want %d", c.Version, SupportedVersion)
	}
	if len(c.Locales) == 0 {
		return nil, errors.New("rules: catalog has no locales")
	}
	locales := map[string]bool{}
	for _, l := range c.Locales {
		if l == "" || locales[l] {
			return nil, fmt.Errorf("rules: empty or duplicate locale %q", l)
		}
		locales[l] = true
	}
	if !locales["en"] {
		return nil, errors.New(`rules: locales must include "en", the fallback language`)
	}
	checkText := func(what string, t Text) error {
		for _, l := range c.Locales {
			if strings.TrimSpace(t[l]) == "" {
				return fmt.Errorf("rules: %s has no %q text", what, l)
			}
		}
		for l := range t {
			if !locales[l] {
				return fmt.Errorf("rules: %s has text in unlisted locale %q", what, l)
			}
		}
		return nil
	}
	checkID := func(what, id string) error {
		if !idPattern.MatchString(id) {
			return fmt.Errorf("rules: %s id %q is not kebab-case", what, id)
		}
		return nil
	}

	if len(c.Groups) == 0 {
		return nil, errors.New("rules: catalog has no groups")
	}
	groups := map[string]bool{}
	for _, g := range c.Groups {
		if err := checkID("group", g.ID); err != nil {
			return nil, err
		}
		if groups[g.ID] {
			return nil, fmt.Errorf("rules: duplicate group %q", g.ID)
		}
		groups[g.ID] = true
		if err := checkText("group "+g.ID, g.Label); err != nil {
			return nil, err
		}
	}

	if len(c.Needs) == 0 {
		return nil, errors.New("rules: catalog has no needs")
	}
	needs := map[string]bool{}
	for _, n := range c.Needs {
		if err := checkID("need", n.ID); err != nil {
			return nil, err
		}
		if needs[n.ID] {
			return nil, fmt.Errorf("rules: duplicate need %q", n.ID)
		}
		needs[n.ID] = true
		if !groups[n.Group] {
			return nil, fmt.Errorf("rules: need %q is in unknown group %q", n.ID, n.Group)
		}
		if n.Minutes < 0 {
			return nil, fmt.Errorf("rules: need %q has negative minutes", n.ID)
		}
		if err := checkText("need "+n.ID, n.Label); err != nil {
			return nil, err
		}
	}

	idx := &index{
		suggestion: map[string]int{},
		rule:       map[string]int{},
		tagged:     map[string][]int{},
	}
	concrete := 0
	for i, s := range c.Suggestions {
		if err := checkID("suggestion", s.ID); err != nil {
			return nil, err
		}
		if _, dup := idx.suggestion[s.ID]; dup {
			return nil, fmt.Errorf("rules: duplicate suggestion %q", s.ID)
		}
		idx.suggestion[s.ID] = i
		if len(s.Tags) == 0 {
			return nil, fmt.Errorf("rules: suggestion %q has no tags", s.ID)
		}
		for j, t := range s.Tags {
			if err := checkID("tag", t); err != nil {
				return nil, err
			}
			if slices.Contains(s.Tags[:j], t) {
				return nil, fmt.Errorf("rules: suggestion %q repeats tag %q", s.ID, t)
			}
			idx.tagged[t] = append(idx.tagged[t], i)
		}
		if err := checkText("suggestion "+s.ID, s.Text); err != nil {
			return nil, err
		}
		for _, l := range c.Locales {
			hasGiver := strings.Contains(s.Text[l], "{giver}")
			hasReceiver := strings.Contains(s.Text[l], "{receiver}")
			if s.Roles && (!hasGiver || !hasReceiver) {
				return nil, fmt.Errorf("rules: roles suggestion %q needs {giver} and {receiver} in %q", s.ID, l)
			}
			if !s.Roles && (hasGiver || hasReceiver) {
				return nil, fmt.Errorf("rules: suggestion %q uses a placeholder but has no roles", s.ID)
			}
		}
		concrete++
		if s.Roles {
			concrete++
		}
	}
	if len(c.Suggestions) == 0 {
		return nil, errors.New("rules: catalog has no suggestions")
	}
	if concrete > MaxConcrete {
		return nil, fmt.Errorf("rules: %d concrete suggestion ids, at most %d allowed", concrete, MaxConcrete)
	}

	for i, r := range c.Rules {
		if !needs[r.Need] {
			return nil, fmt.Errorf("rules: rule for unknown need %q", r.Need)
		}
		if _, dup := idx.rule[r.Need]; dup {
			return nil, fmt.Errorf("rules: need %q has more than one rule", r.Need)
		}
		idx.rule[r.Need] = i
		if len(r.Accept) == 0 {
			return nil, fmt.Errorf("rules: rule for %q accepts nothing", r.Need)
		}
		for _, e := range r.Accept {
			if err := idx.checkEntry(c, e); err != nil {
				return nil, fmt.Errorf("rules: rule for %q: %w", r.Need, err)
			}
		}
		for _, t := range r.RemoveTags {
			if _, ok := idx.tagged[t]; !ok {
				return nil, fmt.Errorf("rules: rule for %q removes unknown tag %q", r.Need, t)
			}
		}
	}
	for _, n := range c.Needs {
		if _, ok := idx.rule[n.ID]; !ok {
			return nil, fmt.Errorf("rules: need %q has no rule", n.ID)
		}
	}
	return idx, nil
}

func (idx *index) checkEntry(c *Catalog, e Entry) error {
	if e.Rank < 0 {
		return fmt.Errorf("negative rank %d", e.Rank)
	}
	switch e.Role {
	case "", RoleGive, RoleReceive:
	default:
		return fmt.Errorf("unknown role %q", e.Role)
	}
	switch {
	case e.Suggestion != "" && e.Tag != "":
		return fmt.Errorf("entry names both suggestion %q and tag %q", e.Suggestion, e.Tag)
	case e.Tag != "":
		positions, ok := idx.tagged[e.Tag]
		if !ok {
			return fmt.Errorf("unknown tag %q", e.Tag)
		}
		// A role on a tag with no roles suggestion would narrow nothing:
		// most likely the wrong tag.
		if e.Role != "" && !slices.ContainsFunc(positions, func(i int) bool { return c.Suggestions[i].Roles }) {
			return fmt.Errorf("tag %q has no roles suggestion but entry asks for %q", e.Tag, e.Role)
		}
	case e.Suggestion != "":
		i, ok := idx.suggestion[e.Suggestion]
		if !ok {
			return fmt.Errorf("unknown suggestion %q", e.Suggestion)
		}
		if e.Role != "" && !c.Suggestions[i].Roles {
			return fmt.Errorf("suggestion %q has no roles but entry asks for %q", e.Suggestion, e.Role)
		}
	default:
		return errors.New("entry names neither a suggestion nor a tag")
	}
	return nil
}

// ConcreteIDs lists every concrete suggestion id in catalog order, a roles
// suggestion as "@1" then "@2". A phone maps revealed tokens back through
// this list, and sizes its decoy padding from it.
func ConcreteIDs(c *Catalog) []string {
	var ids []string
	for _, s := range c.Suggestions {
		if s.Roles {
			ids = append(ids, s.ID+"@1", s.ID+"@2")
		} else {
			ids = append(ids, s.ID)
		}
	}
	return ids
}

// Accept returns, best first, the concrete ids of the suggestions a partner
// sitting in seat (1 or 2) can accept after tapping needs, shaped by their
// plan. It is what the phone tokenises and sends. Repeated needs count once.
func Accept(c *Catalog, seat int, needs []string, plan Plan) ([]string, error) {
	ranked, err := AcceptRanked(c, seat, needs, plan)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(ranked))
	for i, r := range ranked {
		ids[i] = r.ID
	}
	return ids, nil
}

// candidate is one concrete suggestion while Accept collects it. variant is
// 0 for a suggestion without roles or for "@1", and 1 for "@2".
type candidate struct {
	sug, variant int
	rank, hits   int
}

// AcceptRanked is Accept with each id's rank and hits, for a caller that
// combines both phones' ranks or applies FallbackRank.
func AcceptRanked(c *Catalog, seat int, needs []string, plan Plan) ([]Ranked, error) {
	if c == nil || c.idx == nil {
		return nil, ErrNotParsed
	}
	if seat != 1 && seat != 2 {
		return nil, fmt.Errorf("%w: got %d", ErrSeat, seat)
	}
	never, err := c.planSet(plan.Never)
	if err != nil {
		return nil, err
	}
	welcome, err := c.planSet(plan.Welcome)
	if err != nil {
		return nil, err
	}

	found := map[[2]int]*candidate{}
	removed := map[string]bool{}
	tapped := map[string]bool{}
	for _, need := range needs {
		if tapped[need] {
			continue
		}
		ri, ok := c.idx.rule[need]
		if !ok {
			return nil, fmt.Errorf("%w: %q", ErrUnknownNeed, need)
		}
		tapped[need] = true
		rule := c.Rules[ri]
		produced := map[[2]int]bool{}
		for _, e := range rule.Accept {
			for _, key := range c.expand(e, seat) {
				cand := found[key]
				if cand == nil {
					cand = &candidate{sug: key[0], variant: key[1], rank: e.Rank}
					found[key] = cand
				}
				cand.rank = min(cand.rank, e.Rank)
				if !produced[key] {
					produced[key] = true
					cand.hits++
				}
			}
		}
		for _, t := range rule.RemoveTags {
			removed[t] = true
		}
	}

	kept := make([]*candidate, 0, len(found))
	for _, cand := range found {
		s := c.Suggestions[cand.sug]
		if never[s.ID] || slices.ContainsFunc(s.Tags, func(t string) bool { return removed[t] }) {
			continue
		}
		if welcome[s.ID] {
			cand.rank = max(0, cand.rank-1)
		}
		kept = append(kept, cand)
	}
	slices.SortFunc(kept, func(a, b *candidate) int {
		if a.rank != b.rank {
			return a.rank - b.rank
		}
		if a.hits != b.hits {
			return b.hits - a.hits
		}
		if a.sug != b.sug {
			return a.sug - b.sug
		}
		return a.variant - b.variant
	})

	out := make([]Ranked, len(kept))
	for i, cand := range kept {
		out[i] = Ranked{ID: c.concreteID(cand.sug, cand.variant), Rank: cand.rank, Hits: cand.hits}
	}
	return out, nil
}

// planSet checks plan ids against the catalog: an unknown id most likely
// means the plan was written for another catalog version, and silently
// ignoring a never would break a promise to the partner who wrote it.
func (c *Catalog) planSet(ids []string) (map[string]bool, error) {
	set := make(map[string]bool, len(ids))
	for _, id := range ids {
		if _, ok := c.idx.suggestion[id]; !ok {
			return nil, fmt.Errorf("%w in plan: %q", ErrUnknownSuggestion, id)
		}
		set[id] = true
	}
	return set, nil
}

// expand turns one rule entry into {suggestion position, variant} keys for
// the phone in seat. A role, on a suggestion or a tag entry, keeps only that
// direction of each roles suggestion; suggestions without roles are kept as
// they are. Parse has already checked every reference.
func (c *Catalog) expand(e Entry, seat int) [][2]int {
	var positions []int
	if e.Tag != "" {
		positions = c.idx.tagged[e.Tag]
	} else {
		positions = []int{c.idx.suggestion[e.Suggestion]}
	}
	var keys [][2]int
	for _, i := range positions {
		switch {
		case !c.Suggestions[i].Roles:
			keys = append(keys, [2]int{i, 0})
		case e.Role == RoleGive:
			keys = append(keys, [2]int{i, seat - 1})
		case e.Role == RoleReceive:
			keys = append(keys, [2]int{i, 2 - seat})
		default:
			keys = append(keys, [2]int{i, 0}, [2]int{i, 1})
		}
	}
	return keys
}

func (c *Catalog) concreteID(sug, variant int) string {
	s := c.Suggestions[sug]
	if !s.Roles {
		return s.ID
	}
	return s.ID + "@" + strconv.Itoa(variant+1)
}

// Render returns the text of a concrete suggestion in lang with the
// partners' names filled in: for "hold@2" seat 2's name is the giver. An
// unknown lang falls back to its base language ("es-MX" to "es"), then to
// "en". It returns "" for an id this catalog does not know, which only a
// phone on a different catalog version can produce.
func Render(c *Catalog, id, lang string, names Names) string {
	base, seatPart, hasSeat := strings.Cut(id, "@")
	var s *Suggestion
	for i := range c.Suggestions {
		if c.Suggestions[i].ID == base {
			s = &c.Suggestions[i]
			break
		}
	}
	if s == nil || s.Roles != hasSeat {
		return ""
	}
	text := pickText(s.Text, lang)
	if !s.Roles {
		return text
	}
	var giver, receiver string
	switch seatPart {
	case "1":
		giver, receiver = names.Seat1, names.Seat2
	case "2":
		giver, receiver = names.Seat2, names.Seat1
	default:
		return ""
	}
	return strings.NewReplacer("{giver}", giver, "{receiver}", receiver).Replace(text)
}

func pickText(t Text, lang string) string {
	if s, ok := t[lang]; ok {
		return s
	}
	if primary, _, ok := strings.Cut(lang, "-"); ok {
		if s, ok := t[primary]; ok {
			return s
		}
	}
	return t["en"]
}
