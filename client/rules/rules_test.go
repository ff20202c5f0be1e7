package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"softland/static"
)

// smallCatalog is a tiny catalog that exercises every feature of the rules:
// roles in both directions, tags, a role on a tag, removeTags, and a roles
// bridge that the space need gives and the other needs only receive.
const smallCatalog = `{
  "version": 1,
  "locales": ["en", "es"],
  "groups": [
    {"id": "near", "label": {"en": "Near", "es": "Cerca"}},
    {"id": "away", "label": {"en": "Away", "es": "Lejos"}}
  ],
  "needs": [
    {"id": "held", "group": "near", "label": {"en": "I'd like to be held", "es": "Me gustaría un abrazo"}},
    {"id": "give", "group": "near", "label": {"en": "I'd like to hold you", "es": "Me gustaría abrazarte"}},
    {"id": "close", "group": "near", "label": {"en": "I'd like to be close", "es": "Me gustaría estar cerca"}},
    {"id": "drink", "group": "near", "label": {"en": "I'd like tea", "es": "Me gustaría un té"}},
    {"id": "space", "group": "away", "minutes": 10, "label": {"en": "I need space", "es": "Necesito espacio"}}
  ],
  "suggestions": [
    {"id": "hug", "roles": true, "tags": ["closeness", "touch"], "text": {"en": "{giver} hugs {receiver}", "es": "{giver} abraza a {receiver}"}},
    {"id": "sit", "tags": ["closeness"], "text": {"en": "Sit close", "es": "Sentarse cerca"}},
    {"id": "tea", "tags": ["care"], "text": {"en": "Tea", "es": "Té"}},
    {"id": "apart", "roles": true, "tags": ["bridge"], "text": {"en": "{giver} steps away while {receiver} rests", "es": "{giver} se aparta mientras {receiver} descansa"}}
  ],
  "rules": [
    {"need": "held", "accept": [{"suggestion": "hug", "role": "receive", "rank": 0}, {"suggestion": "sit", "rank": 1}, {"tag": "bridge", "role": "receive", "rank": 9}]},
    {"need": "give", "accept": [{"suggestion": "hug", "role": "give", "rank": 0}, {"suggestion": "tea", "rank": 1}]},
    {"need": "close", "accept": [{"tag": "closeness", "rank": 2}, {"suggestion": "tea", "rank": 1}]},
    {"need": "drink", "accept": [{"suggestion": "tea", "rank": 0}]},
    {"need": "space", "removeTags": ["closeness"], "accept": [{"suggestion": "apart", "role": "give", "rank": 0}, {"suggestion": "tea", "rank": 1}, {"tag": "bridge", "role": "receive", "rank": 4}]}
  ]
}`

func mustParse(t *testing.T, data []byte) *Catalog {
	t.Helper()
	c, err := Parse(data)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return c
}

func TestAccept(t *testing.T) {
	c := mustParse(t, []byte(smallCatalog))
	cases := map[string]struct {
		seat    int
		needs   []string
		plan    Plan
		want    []string
		wantErr error
	}{
		"receive role, seat 1":          {seat: 1, needs: []string{"held"}, want: []string{"hug@2", "sit", "apart@2"}},
		"receive role, seat 2":          {seat: 2, needs: []string{"held"}, want: []string{"hug@1", "sit", "apart@1"}},
		"give role, seat 1":             {seat: 1, needs: []string{"give"}, want: []string{"hug@1", "tea"}},
		"give role, seat 2":             {seat: 2, needs: []string{"give"}, want: []string{"hug@2", "tea"}},
		"tag expands roles to both":     {seat: 2, needs: []string{"close"}, want: []string{"tea", "hug@1", "hug@2", "sit"}},
		"min rank over needs":           {seat: 1, needs: []string{"held", "close"}, want: []string{"hug@2", "sit", "tea", "hug@1", "apart@2"}},
		"hits beat catalog order":       {seat: 1, needs: []string{"give", "drink"}, want: []string{"tea", "hug@1"}},
		"duplicate needs count once":    {seat: 1, needs: []string{"give", "give", "drink"}, want: []string{"tea", "hug@1"}},
		"removeTags drops closeness":    {seat: 2, needs: []string{"held", "space"}, want: []string{"apart@2", "tea", "apart@1"}},
		"removeTags applies to all":     {seat: 1, needs: []string{"space", "close"}, want: []string{"apart@1", "tea", "apart@2"}},
		"role on a tag keeps one side":  {seat: 2, needs: []string{"space"}, want: []string{"apart@2", "tea", "apart@1"}},
		"never drops both variants":     {seat: 1, needs: []string{"close"}, plan: Plan{Never: []string{"hug"}}, want: []string{"tea", "sit"}},
		"welcome boosts by one":         {seat: 1, needs: []string{"held"}, plan: Plan{Welcome: []string{"apart"}}, want: []string{"hug@2", "sit", "apart@2"}},
		"welcome reorders":              {seat: 1, needs: []string{"close"}, plan: Plan{Welcome: []string{"sit"}}, want: []string{"sit", "tea", "hug@1", "hug@2"}},
		"welcome floors at zero":        {seat: 1, needs: []string{"drink", "give"}, plan: Plan{Welcome: []string{"hug", "tea"}}, want: []string{"tea", "hug@1"}},
		"never beats welcome":           {seat: 1, needs: []string{"give"}, plan: Plan{Never: []string{"tea"}, Welcome: []string{"tea"}}, want: []string{"hug@1"}},
		"no needs":                      {seat: 1, want: []string{}},
		"unknown need":                  {seat: 1, needs: []string{"drink", "nope"}, wantErr: ErrUnknownNeed},
		"unknown never id":              {seat: 1, needs: []string{"drink"}, plan: Plan{Never: []string{"nope"}}, wantErr: ErrUnknownSuggestion},
		"concrete id in welcome":        {seat: 1, needs: []string{"drink"}, plan: Plan{Welcome: []string{"hug@1"}}, wantErr: ErrUnknownSuggestion},
		"seat 0":                        {seat: 0, needs: []string{"drink"}, wantErr: ErrSeat},
		"seat 3":                        {seat: 3, needs: []string{"drink"}, wantErr: ErrSeat},
		"unknown plan id without needs": {seat: 2, plan: Plan{Never: []string{"nope"}}, wantErr: ErrUnknownSuggestion},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := Accept(c, tc.seat, tc.needs, tc.plan)
			if tc.wantErr != nil {
				if !errors.Is(err, tc.wantErr) {
					t.Fatalf("Accept error = %v, want %v", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Accept: %v", err)
			}
			if !slices.Equal(got, tc.want) {
				t.Errorf("Accept = %q, want %q", got, tc.want)
			}
		})
	}
}

// TestAcceptTagRole: a role on a tag entry narrows the tag's roles
// suggestions to that side and keeps its other suggestions as they are.
func TestAcceptTagRole(t *testing.T) {
	raw := strings.Replace(smallCatalog, `{"tag": "closeness", "rank": 2}`, `{"tag": "closeness", "role": "give", "rank": 2}`, 1)
	c := mustParse(t, []byte(raw))
	for seat, want := range map[int][]string{1: {"tea", "hug@1", "sit"}, 2: {"tea", "hug@2", "sit"}} {
		got, err := Accept(c, seat, []string{"close"}, Plan{})
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got, want) {
			t.Errorf("seat %d: Accept = %q, want %q", seat, got, want)
		}
	}
}

func TestAcceptRanked(t *testing.T) {
	c := mustParse(t, []byte(smallCatalog))
	got, err := AcceptRanked(c, 1, []string{"held", "close"}, Plan{Welcome: []string{"sit"}})
	if err != nil {
		t.Fatal(err)
	}
	want := []Ranked{
		{ID: "hug@2", Rank: 0, Hits: 2},
		{ID: "sit", Rank: 0, Hits: 2},
		{ID: "tea", Rank: 1, Hits: 1},
		{ID: "hug@1", Rank: 2, Hits: 1},
		{ID: "apart@2", Rank: 9, Hits: 1},
	}
	if !slices.Equal(got, want) {
		t.Errorf("AcceptRanked = %+v, want %+v", got, want)
	}
}

func TestAcceptNeedsParsedCatalog(t *testing.T) {
	var c Catalog
	if err := json.Unmarshal([]byte(smallCatalog), &c); err != nil {
		t.Fatal(err)
	}
	if _, err := Accept(&c, 1, []string{"drink"}, Plan{}); !errors.Is(err, ErrNotParsed) {
		t.Errorf("Accept on an unparsed catalog: error = %v, want ErrNotParsed", err)
	}
	if _, err := Accept(nil, 1, nil, Plan{}); !errors.Is(err, ErrNotParsed) {
		t.Errorf("Accept on nil: error = %v, want ErrNotParsed", err)
	}
}

func TestRender(t *testing.T) {
	c := mustParse(t, []byte(smallCatalog))
	names := Names{Seat1: "Alex", Seat2: "Sam"}
	cases := map[string]struct {
		id, lang string
		names    Names
		want     string
	}{
		"seat 1 gives":            {id: "hug@1", lang: "en", names: names, want: "Alex hugs Sam"},
		"seat 2 gives":            {id: "hug@2", lang: "en", names: names, want: "Sam hugs Alex"},
		"spanish":                 {id: "hug@2", lang: "es", names: names, want: "Sam abraza a Alex"},
		"region falls back":       {id: "hug@1", lang: "es-MX", names: names, want: "Alex abraza a Sam"},
		"unknown lang is english": {id: "hug@1", lang: "fr", names: names, want: "Alex hugs Sam"},
		"empty lang is english":   {id: "tea", lang: "", names: names, want: "Tea"},
		"no roles":                {id: "tea", lang: "es", names: names, want: "Té"},
		"names are not re-read":   {id: "hug@1", lang: "en", names: Names{Seat1: "{receiver}", Seat2: "Sam"}, want: "{receiver} hugs Sam"},
		"unknown id":              {id: "nope", lang: "en", names: names, want: ""},
		"roles id without seat":   {id: "hug", lang: "en", names: names, want: ""},
		"bad seat":                {id: "hug@3", lang: "en", names: names, want: ""},
		"seat on a non-roles id":  {id: "tea@1", lang: "en", names: names, want: ""},
		"two seats":               {id: "hug@1@2", lang: "en", names: names, want: ""},
		"empty id":                {id: "", lang: "en", names: names, want: ""},
		"bridge, seat 2 gives":    {id: "apart@2", lang: "en", names: names, want: "Sam steps away while Alex rests"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			if got := Render(c, tc.id, tc.lang, tc.names); got != tc.want {
				t.Errorf("Render(%q, %q) = %q, want %q", tc.id, tc.lang, got, tc.want)
			}
		})
	}
}

func TestConcreteIDs(t *testing.T) {
	c := mustParse(t, []byte(smallCatalog))
	want := []string{"hug@1", "hug@2", "sit", "tea", "apart@1", "apart@2"}
	if got := ConcreteIDs(c); !slices.Equal(got, want) {
		t.Errorf("ConcreteIDs = %q, want %q", got, want)
	}
}

// obj and arr walk a decoded JSON value; they keep the Parse cases short.
func obj(v any, path ...any) map[string]any {
	for _, p := range path {
		switch k := p.(type) {
		case string:
			v = v.(map[string]any)[k]
		case int:
			v = v.([]any)[k]
		}
	}
	return v.(map[string]any)
}

func tooManySuggestions(m map[string]any) {
	var list []any
	for i := range MaxConcrete/2 + 1 {
		list = append(list, map[string]any{
			"id": fmt.Sprintf("s-%d", i), "roles": true, "tags": []any{"t"},
			"text": map[string]any{"en": "{giver} {receiver}", "es": "{giver} {receiver}"},
		})
	}
	m["suggestions"] = list
	for _, r := range m["rules"].([]any) {
		r.(map[string]any)["accept"] = []any{map[string]any{"tag": "t", "rank": 0}}
		delete(r.(map[string]any), "removeTags")
	}
}

func TestParse(t *testing.T) {
	cases := map[string]struct {
		raw     string
		mutate  func(m map[string]any)
		wantErr string // substring; "" means Parse must succeed
	}{
		"valid":                 {mutate: func(map[string]any) {}},
		"not json":              {raw: `{"version": 1,`, wantErr: "decode"},
		"unknown field":         {raw: strings.Replace(smallCatalog, `"version": 1,`, `"version": 1, "extra": true,`, 1), wantErr: "unknown field"},
		"unknown entry field":   {raw: strings.Replace(smallCatalog, `"rank": 0}]}`, `"rnak": 0}]}`, 1), wantErr: "unknown field"},
		"trailing data":         {raw: smallCatalog + ` {}`, wantErr: "trailing"},
		"wrong version":         {mutate: func(m map[string]any) { m["version"] = 2 }, wantErr: "version"},
		"no english":            {mutate: func(m map[string]any) { m["locales"] = []any{"es"} }, wantErr: `"en"`},
		"duplicate locale":      {mutate: func(m map[string]any) { m["locales"] = []any{"en", "es", "en"} }, wantErr: "locale"},
		"duplicate group":       {mutate: func(m map[string]any) { obj(m, "groups", 1)["id"] = "near" }, wantErr: "duplicate group"},
		"group missing es":      {mutate: func(m map[string]any) { delete(obj(m, "groups", 0, "label"), "es") }, wantErr: `no "es"`},
		"duplicate need":        {mutate: func(m map[string]any) { obj(m, "needs", 1)["id"] = "held" }, wantErr: "duplicate need"},
		"need in unknown group": {mutate: func(m map[string]any) { obj(m, "needs", 0)["group"] = "nope" }, wantErr: "unknown group"},
		"need missing es":       {mutate: func(m map[string]any) { delete(obj(m, "needs", 0, "label"), "es") }, wantErr: `no "es"`},
		"need blank en":         {mutate: func(m map[string]any) { obj(m, "needs", 0, "label")["en"] = "  " }, wantErr: `no "en"`},
		"need id not kebab":     {mutate: func(m map[string]any) { obj(m, "needs", 0)["id"] = "Held" }, wantErr: "kebab"},
		"negative minutes":      {mutate: func(m map[string]any) { obj(m, "needs", 4)["minutes"] = -5 }, wantErr: "minutes"},
		"duplicate suggestion":  {mutate: func(m map[string]any) { obj(m, "suggestions", 2)["id"] = "sit" }, wantErr: "duplicate suggestion"},
		"suggestion id with @":  {mutate: func(m map[string]any) { obj(m, "suggestions", 2)["id"] = "tea@1" }, wantErr: "kebab"},
		"suggestion no tags":    {mutate: func(m map[string]any) { obj(m, "suggestions", 2)["tags"] = []any{} }, wantErr: "no tags"},
		"repeated tag":          {mutate: func(m map[string]any) { obj(m, "suggestions", 2)["tags"] = []any{"care", "care"} }, wantErr: "repeats tag"},
		"text missing es":       {mutate: func(m map[string]any) { delete(obj(m, "suggestions", 2, "text"), "es") }, wantErr: `no "es"`},
		"text unlisted locale":  {mutate: func(m map[string]any) { obj(m, "suggestions", 2, "text")["fr"] = "Thé" }, wantErr: "unlisted locale"},
		"roles without receiver": {
			mutate:  func(m map[string]any) { obj(m, "suggestions", 0, "text")["es"] = "{giver} abraza" },
			wantErr: "{receiver}",
		},
		"placeholder without roles": {
			mutate:  func(m map[string]any) { obj(m, "suggestions", 2, "text")["en"] = "{giver} makes tea" },
			wantErr: "placeholder",
		},
		"too many concrete ids": {mutate: tooManySuggestions, wantErr: "at most 64"},
		"rule for unknown need": {mutate: func(m map[string]any) { obj(m, "rules", 0)["need"] = "nope" }, wantErr: "unknown need"},
		"two rules for a need":  {mutate: func(m map[string]any) { obj(m, "rules", 1)["need"] = "held" }, wantErr: "more than one rule"},
		"need without rule": {
			mutate:  func(m map[string]any) { m["rules"] = m["rules"].([]any)[:4] },
			wantErr: `"space" has no rule`,
		},
		"empty accept":       {mutate: func(m map[string]any) { obj(m, "rules", 3)["accept"] = []any{} }, wantErr: "accepts nothing"},
		"unknown suggestion": {mutate: func(m map[string]any) { obj(m, "rules", 3, "accept", 0)["suggestion"] = "coffee" }, wantErr: "unknown suggestion"},
		"unknown tag":        {mutate: func(m map[string]any) { obj(m, "rules", 0, "accept", 2)["tag"] = "bridges" }, wantErr: "unknown tag"},
		"suggestion and tag": {mutate: func(m map[string]any) { obj(m, "rules", 3, "accept", 0)["tag"] = "care" }, wantErr: "both"},
		"neither":            {mutate: func(m map[string]any) { delete(obj(m, "rules", 3, "accept", 0), "suggestion") }, wantErr: "neither"},
		"role without roles": {mutate: func(m map[string]any) { obj(m, "rules", 3, "accept", 0)["role"] = "give" }, wantErr: "has no roles"},
		"give role on a tag": {mutate: func(m map[string]any) { obj(m, "rules", 0, "accept", 2)["role"] = "give" }},
		"role on a tag without roles": {
			mutate: func(m map[string]any) {
				obj(m, "rules", 3)["accept"] = []any{map[string]any{"tag": "care", "role": "give", "rank": 0}}
			},
			wantErr: "no roles suggestion",
		},
		"unknown role":        {mutate: func(m map[string]any) { obj(m, "rules", 0, "accept", 0)["role"] = "take" }, wantErr: "unknown role"},
		"unknown role on tag": {mutate: func(m map[string]any) { obj(m, "rules", 0, "accept", 2)["role"] = "take" }, wantErr: "unknown role"},
		"negative rank":       {mutate: func(m map[string]any) { obj(m, "rules", 3, "accept", 0)["rank"] = -1 }, wantErr: "negative rank"},
		"unknown removeTag":   {mutate: func(m map[string]any) { obj(m, "rules", 4)["removeTags"] = []any{"closenes"} }, wantErr: "unknown tag"},
		"no groups":           {mutate: func(m map[string]any) { m["groups"] = []any{} }, wantErr: "no groups"},
		"label is null":       {mutate: func(m map[string]any) { obj(m, "needs", 0)["label"] = nil }, wantErr: `no "en"`},
		"no suggestions":      {mutate: func(m map[string]any) { m["suggestions"] = []any{}; m["rules"] = []any{} }, wantErr: "no suggestions"},
		"text as wrong type":  {mutate: func(m map[string]any) { obj(m, "suggestions", 2)["text"] = "Tea" }, wantErr: "decode"},
		"missing version":     {mutate: func(m map[string]any) { delete(m, "version") }, wantErr: "version 0"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			data := []byte(tc.raw)
			if tc.mutate != nil {
				var m map[string]any
				if err := json.Unmarshal([]byte(smallCatalog), &m); err != nil {
					t.Fatal(err)
				}
				tc.mutate(m)
				var err error
				if data, err = json.Marshal(m); err != nil {
					t.Fatal(err)
				}
			}
			c, err := Parse(data)
			if tc.wantErr == "" {
				if err != nil || c == nil {
					t.Fatalf("Parse = %v, %v; want a catalog", c, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Parse succeeded, want an error containing %q", tc.wantErr)
			}
			if !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("Parse error = %q, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

// The embedded catalog.

func mustDefault(t *testing.T) *Catalog {
	t.Helper()
	c, err := Default()
	if err != nil {
		t.Fatalf("Default: %v", err)
	}
	return c
}

// TestDefaultCatalogShape pins the need ids: they are stored in plans and
// history, so renaming one is a migration, not an edit.
func TestDefaultCatalogShape(t *testing.T) {
	c := mustDefault(t)
	want := map[string][]string{
		"closeness": {"be-held", "hold-partner", "cuddle", "touch-receive", "touch-give", "lie-close"},
		"space":     {"space-10", "space-20", "space-30", "walk-alone", "shower-alone"},
		"care":      {"water", "snack", "warm-drink", "blanket", "shower-together", "sleep"},
		"calm":      {"breathe-together", "soft-music", "dim-lights", "silence"},
		"words":     {"hear-affirmation", "give-affirmation", "gratitude", "talk-now", "talk-tomorrow", "light-talk"},
	}
	var groups []string
	for _, g := range c.Groups {
		groups = append(groups, g.ID)
	}
	if wantGroups := []string{"closeness", "space", "care", "calm", "words"}; !slices.Equal(groups, wantGroups) {
		t.Errorf("groups = %q, want %q", groups, wantGroups)
	}
	got := map[string][]string{}
	for _, n := range c.Needs {
		got[n.Group] = append(got[n.Group], n.ID)
	}
	for g, ids := range want {
		if !slices.Equal(got[g], ids) {
			t.Errorf("needs in %s = %q, want %q", g, got[g], ids)
		}
	}
	for _, n := range c.Needs {
		if n.Group == "space" && strings.HasPrefix(n.ID, "space-") && n.Minutes == 0 {
			t.Errorf("need %q has no minutes", n.ID)
		}
	}
	if !slices.Equal(c.Locales, []string{"en", "es"}) {
		t.Errorf("locales = %q", c.Locales)
	}
	if len(c.Suggestions) < 24 {
		t.Errorf("%d suggestions, want at least 24", len(c.Suggestions))
	}
}

func TestDefaultConcreteIDs(t *testing.T) {
	c := mustDefault(t)
	ids := ConcreteIDs(c)
	if len(ids) > MaxConcrete {
		t.Errorf("%d concrete ids, want at most %d", len(ids), MaxConcrete)
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			t.Errorf("concrete id %q twice", id)
		}
		seen[id] = true
		for _, lang := range c.Locales {
			text := Render(c, id, lang, Names{Seat1: "Alex", Seat2: "Sam"})
			if text == "" || strings.Contains(text, "{") {
				t.Errorf("Render(%q, %q) = %q", id, lang, text)
			}
		}
	}
}

// TestDefaultBridgeRender: a bridge names the partner who needs space as
// its giver.
func TestDefaultBridgeRender(t *testing.T) {
	c := mustDefault(t)
	names := Names{Seat1: "Alex", Seat2: "Sam"}
	for _, tc := range []struct{ id, lang, want string }{
		{"bridge-apart-20@1", "en", "Alex takes 20 quiet minutes alone while Sam rests, then you check in"},
		{"bridge-apart-20@2", "es", "Sam se toma 20 minutos de calma a solas mientras Alex descansa, y después se reencuentran"},
	} {
		if got := Render(c, tc.id, tc.lang, names); got != tc.want {
			t.Errorf("Render(%q, %q) = %q, want %q", tc.id, tc.lang, got, tc.want)
		}
	}
}

// TestDefaultWording guards the tone: needs speak in the first person and
// nothing blames ("you always", "you never").
func TestDefaultWording(t *testing.T) {
	c := mustDefault(t)
	for _, n := range c.Needs {
		if en := n.Label["en"]; !strings.HasPrefix(en, "I") {
			t.Errorf("need %q is not in the first person: %q", n.ID, en)
		}
	}
	var all []string
	for _, n := range c.Needs {
		all = append(all, n.Label["en"])
	}
	for _, s := range c.Suggestions {
		all = append(all, s.Text["en"])
	}
	for _, text := range all {
		low := strings.ToLower(text)
		for _, bad := range []string{"you always", "you never", "you should", "you must"} {
			if strings.Contains(low, bad) {
				t.Errorf("blaming wording %q in %q", bad, text)
			}
		}
	}
}

type vector struct {
	Name    string   `json:"name"`
	Seat    int      `json:"seat"`
	Needs   []string `json:"needs"`
	Never   []string `json:"never"`
	Welcome []string `json:"welcome"`
	Want    []string `json:"want"`
	Error   bool     `json:"error"`
}

func loadVectors(t *testing.T) []vector {
	t.Helper()
	dec := json.NewDecoder(bytes.NewReader(static.Vectors))
	dec.DisallowUnknownFields()
	var file struct {
		Version int      `json:"version"`
		Vectors []vector `json:"vectors"`
	}
	if err := dec.Decode(&file); err != nil {
		t.Fatalf("decode vectors: %v", err)
	}
	if file.Version != 1 {
		t.Fatalf("vectors version %d, want 1", file.Version)
	}
	return file.Vectors
}

func TestVectors(t *testing.T) {
	c := mustDefault(t)
	vectors := loadVectors(t)
	if len(vectors) < 25 {
		t.Errorf("%d vectors, want at least 25", len(vectors))
	}
	concrete := ConcreteIDs(c)
	names := map[string]bool{}
	for _, v := range vectors {
		if names[v.Name] {
			t.Errorf("vector name %q twice", v.Name)
		}
		names[v.Name] = true
		t.Run(v.Name, func(t *testing.T) {
			if !v.Error && v.Want == nil {
				t.Fatal("vector has neither want nor error")
			}
			for _, id := range v.Want {
				if !slices.Contains(concrete, id) {
					t.Errorf("want lists unknown concrete id %q", id)
				}
			}
			got, err := Accept(c, v.Seat, v.Needs, Plan{Never: v.Never, Welcome: v.Welcome})
			if v.Error {
				if err == nil {
					t.Fatalf("Accept = %q, want an error", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Accept: %v", err)
			}
			if !slices.Equal(got, v.Want) {
				t.Errorf("Accept =\n  %q\nwant\n  %q", got, v.Want)
			}
		})
	}
}

// needsIn returns the ids of the default catalog's needs in group.
func needsIn(c *Catalog, group string) []string {
	var ids []string
	for _, n := range c.Needs {
		if n.Group == group {
			ids = append(ids, n.ID)
		}
	}
	return ids
}

func hasTag(c *Catalog, concreteID, tag string) bool {
	base, _, _ := strings.Cut(concreteID, "@")
	for _, s := range c.Suggestions {
		if s.ID == base {
			return slices.Contains(s.Tags, tag)
		}
	}
	return false
}

func mustAccept(t *testing.T, c *Catalog, seat int, needs ...string) []string {
	t.Helper()
	ids, err := Accept(c, seat, needs, Plan{})
	if err != nil {
		t.Fatalf("Accept(%d, %q): %v", seat, needs, err)
	}
	return ids
}

// TestBridgesOnlyWhenSomeoneAskedForSpace: bridges are for clashes, so no
// care, calm or words need may accept one, alone or together.
func TestBridgesOnlyWhenSomeoneAskedForSpace(t *testing.T) {
	c := mustDefault(t)
	var others []string
	for _, g := range []string{"care", "calm", "words"} {
		others = append(others, needsIn(c, g)...)
	}
	for seat := 1; seat <= 2; seat++ {
		for _, need := range others {
			for _, id := range mustAccept(t, c, seat, need) {
				if hasTag(c, id, "bridge") {
					t.Errorf("seat %d, need %q accepts bridge %q", seat, need, id)
				}
			}
		}
		for _, id := range mustAccept(t, c, seat, others...) {
			if hasTag(c, id, "bridge") {
				t.Errorf("seat %d, all care/calm/words needs accept bridge %q", seat, id)
			}
		}
	}
}

// TestTouchOnlyForCloseness: nobody is offered closeness for a need that
// did not ask for it (shower-together is itself a wish for closeness).
func TestTouchOnlyForCloseness(t *testing.T) {
	c := mustDefault(t)
	for _, g := range []string{"care", "calm", "words"} {
		for _, need := range needsIn(c, g) {
			for _, id := range mustAccept(t, c, 1, need) {
				if hasTag(c, id, "closeness") && need != "shower-together" {
					t.Errorf("need %q accepts closeness suggestion %q", need, id)
				}
			}
		}
	}
}

// TestSpaceIsABoundary: once a space need is tapped, no closeness is left,
// whatever else the same partner tapped, and its best item is a bridge.
func TestSpaceIsABoundary(t *testing.T) {
	c := mustDefault(t)
	var everything []string
	for _, n := range c.Needs {
		everything = append(everything, n.ID)
	}
	for _, space := range needsIn(c, "space") {
		for seat := 1; seat <= 2; seat++ {
			alone, err := AcceptRanked(c, seat, []string{space}, Plan{})
			if err != nil {
				t.Fatal(err)
			}
			if len(alone) == 0 || !hasTag(c, alone[0].ID, "bridge") || alone[0].Rank != 0 {
				t.Errorf("need %q: first item %+v, want a bridge at rank 0", space, alone)
			}
			for _, id := range mustAccept(t, c, seat, append([]string{space}, everything...)...) {
				if hasTag(c, id, "closeness") {
					t.Errorf("need %q with everything else still accepts %q", space, id)
				}
			}
		}
	}
}

// TestClashMeetsOnABridge: when one partner asks for space and the other for
// closeness, everything both phones accept is a bridge that the space-needer
// gives, never the other's unmatched wish, and it is a real wish (below
// FallbackRank) on the space side.
func TestClashMeetsOnABridge(t *testing.T) {
	c := mustDefault(t)
	for _, space := range needsIn(c, "space") {
		for _, near := range needsIn(c, "closeness") {
			for spaceSeat := 1; spaceSeat <= 2; spaceSeat++ {
				a, err := AcceptRanked(c, spaceSeat, []string{space}, Plan{})
				if err != nil {
					t.Fatal(err)
				}
				b := mustAccept(t, c, 3-spaceSeat, near)
				matched := 0
				for _, r := range a {
					if !slices.Contains(b, r.ID) {
						continue
					}
					matched++
					if !hasTag(c, r.ID, "bridge") || giverSeat(r.ID) != spaceSeat {
						t.Errorf("%s (seat %d) vs %s: match %q is not a bridge given by seat %d", space, spaceSeat, near, r.ID, spaceSeat)
					}
					if r.Rank >= FallbackRank {
						t.Errorf("%s: bridge %q at fallback rank %d on the space side", space, r.ID, r.Rank)
					}
				}
				if matched == 0 {
					t.Errorf("%s (seat %d) vs %s: no common bridge", space, spaceSeat, near)
				}
			}
		}
	}
}

// TestClosenessBridgesAreFallbacks: closeness needs accept every bridge, but
// only its receiving side and only at FallbackRank or worse, even after a
// welcome boost.
func TestClosenessBridgesAreFallbacks(t *testing.T) {
	c := mustDefault(t)
	bridges := bridgeIDs(c)
	if len(bridges) < 4 {
		t.Fatalf("only %d bridges", len(bridges))
	}
	for _, near := range needsIn(c, "closeness") {
		for seat := 1; seat <= 2; seat++ {
			ranked, err := AcceptRanked(c, seat, []string{near}, Plan{Welcome: bridges})
			if err != nil {
				t.Fatal(err)
			}
			seen := 0
			for _, r := range ranked {
				if hasTag(c, r.ID, "bridge") {
					seen++
					if r.Rank < FallbackRank {
						t.Errorf("need %q accepts bridge %q at rank %d, want >= %d", near, r.ID, r.Rank, FallbackRank)
					}
					if giverSeat(r.ID) != 3-seat {
						t.Errorf("need %q in seat %d accepts %q as giver, want receiver only", near, seat, r.ID)
					}
				} else if r.Rank >= FallbackRank {
					t.Errorf("need %q accepts wish %q at fallback rank %d", near, r.ID, r.Rank)
				}
			}
			if seen != len(bridges) {
				t.Errorf("need %q accepts %d of %d bridges", near, seen, len(bridges))
			}
		}
	}
}

// Bridges and pairs of tapped-need sets.

func bridgeIDs(c *Catalog) []string {
	var ids []string
	for _, s := range c.Suggestions {
		if slices.Contains(s.Tags, "bridge") {
			ids = append(ids, s.ID)
		}
	}
	return ids
}

// giverSeat is the giving seat of a concrete roles id ("x@2" -> 2), or 0.
func giverSeat(concreteID string) int {
	switch _, seat, _ := strings.Cut(concreteID, "@"); seat {
	case "1":
		return 1
	case "2":
		return 2
	}
	return 0
}

// subsets returns every non-empty subset of ids, in a fixed order.
func subsets(ids []string) [][]string {
	var out [][]string
	for mask := 1; mask < 1<<len(ids); mask++ {
		var set []string
		for i, id := range ids {
			if mask&(1<<i) != 0 {
				set = append(set, id)
			}
		}
		out = append(out, set)
	}
	return out
}

// acceptAll is Accept for every need set, in the order of sets.
func acceptAll(t *testing.T, c *Catalog, seat int, sets [][]string) [][]string {
	t.Helper()
	out := make([][]string, len(sets))
	for i, set := range sets {
		out[i] = mustAccept(t, c, seat, set...)
	}
	return out
}

// mutual is what the blind server can reveal: the ids both lists accept.
func mutual(a, b []string) []string {
	var out []string
	for _, id := range a {
		if slices.Contains(b, id) {
			out = append(out, id)
		}
	}
	return out
}

// TestBridgesHaveRoles: a bridge always names who needs the space.
func TestBridgesHaveRoles(t *testing.T) {
	c := mustDefault(t)
	for _, s := range c.Suggestions {
		if slices.Contains(s.Tags, "bridge") && !s.Roles {
			t.Errorf("bridge %q has no roles", s.ID)
		}
	}
}

// TestBothClosenessShareNoBridge: whatever closeness needs the two partners
// tap, nobody asked for space, so no bridge is mutual.
func TestBothClosenessShareNoBridge(t *testing.T) {
	c := mustDefault(t)
	sets := subsets(needsIn(c, "closeness"))
	lists1, lists2 := acceptAll(t, c, 1, sets), acceptAll(t, c, 2, sets)
	for i, a := range lists1 {
		for j, b := range lists2 {
			for _, id := range mutual(a, b) {
				if hasTag(c, id, "bridge") {
					t.Fatalf("seat 1 %q and seat 2 %q share bridge %q", sets[i], sets[j], id)
				}
			}
		}
	}
}

// TestSpaceAgainstClosenessMeetsOnGivenBridges: whatever space needs one
// partner taps and whatever closeness needs the other taps, they share
// something, and only bridges that the space-needer gives.
func TestSpaceAgainstClosenessMeetsOnGivenBridges(t *testing.T) {
	c := mustDefault(t)
	space, near := subsets(needsIn(c, "space")), subsets(needsIn(c, "closeness"))
	for spaceSeat := 1; spaceSeat <= 2; spaceSeat++ {
		spaceLists, nearLists := acceptAll(t, c, spaceSeat, space), acceptAll(t, c, 3-spaceSeat, near)
		for i, a := range spaceLists {
			for j, b := range nearLists {
				both := mutual(a, b)
				if len(both) == 0 {
					t.Fatalf("space %q (seat %d) vs closeness %q: nothing mutual", space[i], spaceSeat, near[j])
				}
				for _, id := range both {
					if !hasTag(c, id, "bridge") || giverSeat(id) != spaceSeat {
						t.Fatalf("space %q (seat %d) vs closeness %q: %q is not a bridge given by seat %d", space[i], spaceSeat, near[j], id, spaceSeat)
					}
				}
			}
		}
	}
}

// TestBothSpaceMeetOnABridge: two partners who both need space still share
// a bridge (and never closeness), whatever space needs each one taps.
func TestBothSpaceMeetOnABridge(t *testing.T) {
	c := mustDefault(t)
	sets := subsets(needsIn(c, "space"))
	lists1, lists2 := acceptAll(t, c, 1, sets), acceptAll(t, c, 2, sets)
	for i, a := range lists1 {
		for j, b := range lists2 {
			both := mutual(a, b)
			if !slices.ContainsFunc(both, func(id string) bool { return hasTag(c, id, "bridge") }) {
				t.Fatalf("seat 1 %q and seat 2 %q share no bridge: %q", sets[i], sets[j], both)
			}
			for _, id := range both {
				if hasTag(c, id, "closeness") {
					t.Fatalf("seat 1 %q and seat 2 %q share closeness %q", sets[i], sets[j], id)
				}
			}
		}
	}
}

// revealSize models the server's reveal: it shows the K mutual suggestions
// with the smallest sum of list positions (a phone ranks its tokens by their
// place in its Accept list), breaking ties by token, i.e. unpredictably.
const revealSize = 3

// TestBothSpaceRevealKeepsCare: when both partners need space, the receiving
// bridges must not crowd the solo care and calm items out of the reveal:
// whatever the tie-break, a non-bridge item is among the first revealSize.
func TestBothSpaceRevealKeepsCare(t *testing.T) {
	c := mustDefault(t)
	for _, x := range needsIn(c, "space") {
		for _, y := range needsIn(c, "space") {
			a, b := mustAccept(t, c, 1, x), mustAccept(t, c, 2, y)
			score := map[string]int{}
			for i, id := range a {
				if j := slices.Index(b, id); j >= 0 {
					score[id] = i + j
				}
			}
			best := -1 // the best score of a non-bridge mutual item
			for id, s := range score {
				if !hasTag(c, id, "bridge") && (best < 0 || s < best) {
					best = s
				}
			}
			if best < 0 {
				t.Errorf("%s vs %s: no care item is mutual", x, y)
				continue
			}
			ahead := 0 // items that may be revealed before it
			for _, s := range score {
				if s <= best {
					ahead++
				}
			}
			if ahead > revealSize {
				t.Errorf("%s vs %s: %d items tie with or beat the best care item (score %d): %v", x, y, ahead, best, score)
			}
		}
	}
}
