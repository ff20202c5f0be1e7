package protocol_test

import (
	"encoding/json"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// vectorsPath is the rules vectors both interpreters must pass, relative to
// this package's directory.
const vectorsPath = "../../static/rules-vectors.json"

// rulesVector is one case of the vectors file.
type rulesVector struct {
	Name    string   `json:"name"`
	Seat    int      `json:"seat"`
	Needs   []string `json:"needs"`
	Never   []string `json:"never"`
	Welcome []string `json:"welcome"`
	Want    []string `json:"want"`
	Error   bool     `json:"error"`
}

// rulesCaseHeader starts the table of §4 that quotes vectors.
const rulesCaseHeader = "| Case (`name` in the vectors) |"

var backticked = regexp.MustCompile("`([^`]*)`")

// docList reads a table cell of backticked ids; "—" or "empty" is none.
func docList(cell string) []string {
	var ids []string
	for _, m := range backticked.FindAllStringSubmatch(cell, -1) {
		ids = append(ids, m[1])
	}
	return ids
}

// TestDocRulesCases checks the rules cases that docs/protocol.md §4 quotes:
// every row names a vector of static/rules-vectors.json and states its
// input and its result (the accepted list, or error) exactly, and every
// error vector is in the table, so the document states every error case
// the interpreters agree on.
func TestDocRulesCases(t *testing.T) {
	b, err := os.ReadFile(vectorsPath)
	if err != nil {
		t.Fatal(err)
	}
	var file struct {
		Vectors []rulesVector `json:"vectors"`
	}
	if err := json.Unmarshal(b, &file); err != nil {
		t.Fatal(err)
	}
	vectors := map[string]rulesVector{}
	for _, v := range file.Vectors {
		vectors[v.Name] = v
	}

	lines := strings.Split(readDoc(t), "\n")
	start := slices.IndexFunc(lines, func(l string) bool { return strings.HasPrefix(l, rulesCaseHeader) })
	if start < 0 {
		t.Fatalf("the document has no table starting %q", rulesCaseHeader)
	}
	documented := map[string]bool{}
	for i := start + 2; i < len(lines) && strings.HasPrefix(lines[i], "|"); i++ {
		cells := strings.Split(strings.Trim(lines[i], "|"), "|")
		if len(cells) != 6 {
			t.Errorf("line %d: %d cells, want 6", i+1, len(cells))
			continue
		}
		for j := range cells {
			cells[j] = strings.TrimSpace(cells[j])
		}
		name := cells[0]
		v, ok := vectors[name]
		if !ok {
			t.Errorf("line %d: no vector is named %q", i+1, name)
			continue
		}
		if documented[name] {
			t.Errorf("line %d: %q is in the table twice", i+1, name)
		}
		documented[name] = true
		if seat, err := strconv.Atoi(cells[1]); err != nil || seat != v.Seat {
			t.Errorf("line %d (%s): seat %q, the vector has %d", i+1, name, cells[1], v.Seat)
		}
		for _, f := range []struct {
			what      string
			doc, want []string
		}{
			{"needs", docList(cells[2]), v.Needs},
			{"never", docList(cells[3]), v.Never},
			{"welcome", docList(cells[4]), v.Welcome},
		} {
			if !slices.Equal(f.doc, f.want) {
				t.Errorf("line %d (%s): %s %q, the vector has %q", i+1, name, f.what, f.doc, f.want)
			}
		}
		switch result := cells[5]; {
		case v.Error:
			if result != "error" {
				t.Errorf("line %d (%s): the vector is an error, the document says %q", i+1, name, result)
			}
		case len(v.Want) == 0:
			if result != "empty" {
				t.Errorf("line %d (%s): the vector accepts nothing, the document says %q", i+1, name, result)
			}
		default:
			if got := docList(result); !slices.Equal(got, v.Want) {
				t.Errorf("line %d (%s): the document says %q, the vector wants %q", i+1, name, got, v.Want)
			}
		}
	}
	if len(documented) == 0 {
		t.Fatal("the rules table has no rows")
	}
	for _, v := range file.Vectors {
		if v.Error && !documented[v.Name] {
			t.Errorf("error vector %q is not in the document's table", v.Name)
		}
	}
}
