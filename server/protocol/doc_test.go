package protocol_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"go/ast"
	"go/constant"
	"go/parser"
	"go/token"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"softland/server/protocol"
)

// docPath is the protocol document, relative to this package's directory
// (where go test runs).
const docPath = "../../docs/protocol.md"

// docFrame is one fenced block of the document whose info string is
// "json client" or "json server": one frame of the worked example.
type docFrame struct {
	line   int    // line of the opening fence, for messages
	client bool   // "json client" (a request) or "json server"
	body   []byte // the JSON inside the fence
}

func (f docFrame) String() string {
	dir := "server"
	if f.client {
		dir = "client"
	}
	return fmt.Sprintf("%s:%d (json %s)", filepath.Base(docPath), f.line, dir)
}

func readDoc(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(docPath)
	if err != nil {
		t.Fatalf("the protocol document must exist: %v", err)
	}
	return string(b)
}

// docFrames returns the example's frames in document order. A fence whose
// info string starts with "json client" or "json server" but says more (or
// spells it differently) is an error, so a frame cannot slip past the checks.
func docFrames(t *testing.T, doc string) []docFrame {
	t.Helper()
	var (
		frames []docFrame
		cur    *docFrame
		inside bool // inside any fenced block
	)
	for i, line := range strings.Split(doc, "\n") {
		trimmed := strings.TrimSpace(line)
		if !inside {
			if !strings.HasPrefix(trimmed, "```") {
				continue
			}
			inside = true
			info := strings.TrimSpace(strings.TrimPrefix(trimmed, "```"))
			fields := strings.Fields(info)
			if len(fields) < 2 || fields[0] != "json" || (fields[1] != "client" && fields[1] != "server") {
				continue // some other block: a plaintext, a header list, …
			}
			if info != "json "+fields[1] {
				t.Errorf("line %d: info string %q: a frame's block is exactly \"json client\" or \"json server\"", i+1, info)
			}
			cur = &docFrame{line: i + 1, client: fields[1] == "client"}
			continue
		}
		if trimmed == "```" {
			inside = false
			if cur != nil {
				frames = append(frames, *cur)
				cur = nil
			}
			continue
		}
		if cur != nil {
			cur.body = append(cur.body, line...)
			cur.body = append(cur.body, '\n')
		}
	}
	if inside {
		t.Errorf("the document ends inside a fenced block")
	}
	return frames
}

// decodeStrict decodes exactly one JSON object into v, refusing unknown
// fields and anything after the object: what a careful client would accept.
func decodeStrict(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if _, err := dec.Token(); err != io.EOF {
		return fmt.Errorf("data after the JSON object")
	}
	return nil
}

// protocolConsts evaluates every constant declared in the package's non-test
// files, by name, straight from the source: a constant added to protocol.go
// is covered by these tests without anyone updating them.
func protocolConsts(t *testing.T) map[string]constant.Value {
	t.Helper()
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	fset := token.NewFileSet()
	vals := map[string]constant.Value{}
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			gd, ok := d.(*ast.GenDecl)
			if !ok || gd.Tok != token.CONST {
				continue
			}
			for _, spec := range gd.Specs {
				vs := spec.(*ast.ValueSpec)
				if len(vs.Values) != len(vs.Names) {
					t.Fatalf("%s: constants without explicit values (iota) are not supported by this test; extend evalConst", fset.Position(vs.Pos()))
				}
				for i, n := range vs.Names {
					v, err := evalConst(vs.Values[i], vals)
					if err != nil {
						t.Fatalf("%s: constant %s: %v", fset.Position(n.Pos()), n.Name, err)
					}
					vals[n.Name] = v
				}
			}
		}
	}
	return vals
}

func evalConst(e ast.Expr, known map[string]constant.Value) (constant.Value, error) {
	switch e := e.(type) {
	case *ast.BasicLit:
		v := constant.MakeFromLiteral(e.Value, e.Kind, 0)
		if v.Kind() == constant.Unknown {
			return nil, fmt.Errorf("bad literal %s", e.Value)
		}
		return v, nil
	case *ast.Ident:
		if v, ok := known[e.Name]; ok {
			return v, nil
		}
		return nil, fmt.Errorf("unknown name %s", e.Name)
	case *ast.ParenExpr:
		return evalConst(e.X, known)
	case *ast.UnaryExpr:
		x, err := evalConst(e.X, known)
		if err != nil {
			return nil, err
		}
		return constant.UnaryOp(e.Op, x, 0), nil
	case *ast.BinaryExpr:
		x, err := evalConst(e.X, known)
		if err != nil {
			return nil, err
		}
		y, err := evalConst(e.Y, known)
		if err != nil {
			return nil, err
		}
		switch e.Op {
		case token.SHL, token.SHR:
			s, ok := constant.Uint64Val(y)
			if !ok {
				return nil, fmt.Errorf("bad shift count")
			}
			return constant.Shift(x, e.Op, uint(s)), nil
		case token.QUO:
			if x.Kind() == constant.Int && y.Kind() == constant.Int {
				return constant.BinaryOp(x, token.QUO_ASSIGN, y), nil // integer division
			}
		}
		return constant.BinaryOp(x, e.Op, y), nil
	}
	return nil, fmt.Errorf("unsupported expression %T", e)
}

// constsWithPrefix returns the string or decimal form of every constant whose
// name starts with prefix, sorted by name.
func constsWithPrefix(vals map[string]constant.Value, prefix string) map[string]string {
	out := map[string]string{}
	for name, v := range vals {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		if v.Kind() == constant.String {
			out[name] = constant.StringVal(v)
		} else {
			out[name] = v.ExactString()
		}
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// TestDocListsEveryCode checks that the document cannot fall behind the code:
// every error code, close code, presence state and round close reason appears
// as `code` on the page, and every limit has a line naming it with its value.
func TestDocListsEveryCode(t *testing.T) {
	doc := readDoc(t)
	vals := protocolConsts(t)
	for _, prefix := range []string{"Code", "Close", "Presence", "Reason", "Kind", "Type"} {
		consts := constsWithPrefix(vals, prefix)
		if len(consts) == 0 {
			t.Errorf("protocol.go declares no %s* constants; update this test", prefix)
		}
		for _, name := range sortedKeys(consts) {
			if !strings.Contains(doc, "`"+consts[name]+"`") {
				t.Errorf("protocol.%s = %s is not in the document (as `%s`)", name, consts[name], consts[name])
			}
		}
	}
	// Limits: Version, Max*, Token*. Each needs a line (a row of the limits
	// table) with `Name` and `value`.
	limits := constsWithPrefix(vals, "Max")
	for name, v := range constsWithPrefix(vals, "Token") {
		limits[name] = v
	}
	limits["Version"] = constsWithPrefix(vals, "Version")["Version"]
	lines := strings.Split(doc, "\n")
	for _, name := range sortedKeys(limits) {
		found := slices.ContainsFunc(lines, func(l string) bool {
			return strings.Contains(l, "`"+name+"`") && strings.Contains(l, "`"+limits[name]+"`")
		})
		if !found {
			t.Errorf("no line of the document names `%s` with its value `%s`", name, limits[name])
		}
	}
}

// TestDocExample decodes every frame of the worked example with the server's
// own decoder and structs and checks that, together, they form a session the
// code could have produced: offsets without gaps, replays that fill exactly
// the gap they should, answers to requests that were made, and at least one
// of every request type and event kind.
func TestDocExample(t *testing.T) {
	frames := docFrames(t, readDoc(t))
	if len(frames) == 0 {
		t.Fatal("the document has no ```json client / ```json server blocks")
	}
	vals := protocolConsts(t)
	codes := map[string]bool{}
	for _, c := range constsWithPrefix(vals, "Code") {
		codes[c] = true
	}
	kinds := map[string]bool{}
	for _, k := range constsWithPrefix(vals, "Kind") {
		kinds[k] = true
	}
	// The request types are the Type* values the decoder knows.
	requestTypes := map[string]bool{}
	for _, typ := range constsWithPrefix(vals, "Type") {
		_, err := protocol.DecodeRequest([]byte(`{"v":` + strconv.Itoa(protocol.Version) + `,"type":"` + typ + `"}`))
		var de *protocol.DecodeError
		if !errors.As(err, &de) || de.Code != protocol.CodeUnknownType {
			requestTypes[typ] = true
		}
	}
	serverTypes := map[string]bool{protocol.TypeWelcome: true, protocol.TypeAck: true, protocol.TypeError: true, protocol.TypePong: true, protocol.TypeEvent: true}

	s := &session{t: t, kinds: kinds, requests: map[string]any{}, answered: map[string]bool{}, logs: map[string]*epochLog{}}
	seenRequests, seenKinds, seenServer := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, f := range frames {
		if f.client {
			m, err := protocol.DecodeRequest(f.body)
			if err != nil {
				t.Errorf("%s: DecodeRequest: %v", f, err)
				continue
			}
			h := header(m)
			seenRequests[h.Type] = true
			if h.ID == "" {
				t.Errorf("%s: every request of the example needs an id, so its answer can be matched", f)
				continue
			}
			if _, dup := s.requests[h.ID]; dup {
				t.Errorf("%s: request id %q is used twice", f, h.ID)
			}
			s.requests[h.ID] = m
			continue
		}
		var h protocol.Header
		if err := json.Unmarshal(f.body, &h); err != nil {
			t.Errorf("%s: not a JSON object: %v", f, err)
			continue
		}
		seenServer[h.Type] = true
		switch h.Type {
		case protocol.TypeWelcome:
			var w protocol.Welcome
			if s.decode(f, &w) {
				for _, ev := range w.Replay {
					seenKinds[ev.Kind] = true
				}
				s.welcome(f, &w)
			}
		case protocol.TypeAck:
			var a protocol.Ack
			if s.decode(f, &a) {
				s.ack(f, &a)
			}
		case protocol.TypeError:
			var e protocol.Error
			if s.decode(f, &e) {
				if !codes[e.Code] {
					t.Errorf("%s: error code %q is not a protocol.Code* constant", f, e.Code)
				}
				if e.Message == "" {
					t.Errorf("%s: an error has a message", f)
				}
				if e.ID != "" {
					s.answer(f, e.ID, "")
				}
			}
		case protocol.TypePong:
			var p protocol.Pong
			if s.decode(f, &p) {
				s.answer(f, p.ID, protocol.TypePing)
			}
		case protocol.TypeEvent:
			var ev protocol.Event
			if s.decode(f, &ev) {
				seenKinds[ev.Kind] = true
				s.event(f, ev)
			}
		default:
			t.Errorf("%s: unknown server frame type %q", f, h.Type)
		}
	}

	for typ := range requestTypes {
		if !seenRequests[typ] {
			t.Errorf("the example has no %q request", typ)
		}
	}
	for kind := range kinds {
		if !seenKinds[kind] {
			t.Errorf("the example has no %q event", kind)
		}
	}
	for typ := range serverTypes {
		if !seenServer[typ] {
			t.Errorf("the example has no %q frame", typ)
		}
	}
}

// header returns the common header of a decoded request.
func header(m any) protocol.Header {
	h := m.(interface {
		MessageType() string
		RequestID() string
	})
	return protocol.Header{Type: h.MessageType(), ID: h.RequestID()}
}

// epochLog is the room's event log as the example has shown it so far.
type epochLog struct {
	last   uint64                    // the highest offset shown
	shown  map[uint64]protocol.Event // every event shown, by offset
	paired bool                      // a paired event was shown
}

// session follows the example frame by frame. Every event is shown once, when
// it is logged, so the shown events of an epoch must run 1, 2, 3, … without a
// gap (that is what a phone connected throughout sees); a phone that was away
// sees the gap filled by its welcome's replay, which must hold exactly the
// events after the offset it resumed from, identical to those shown.
type session struct {
	t        *testing.T
	kinds    map[string]bool
	requests map[string]any  // request id -> decoded request
	answered map[string]bool // request id -> already answered
	logs     map[string]*epochLog
	current  string // the epoch of the last welcome or event
}

// decode strictly decodes a server frame into v and checks its version.
func (s *session) decode(f docFrame, v any) bool {
	s.t.Helper()
	if err := decodeStrict(f.body, v); err != nil {
		s.t.Errorf("%s: strict decoding into %T: %v", f, v, err)
		return false
	}
	var h struct {
		V int `json:"v"`
	}
	json.Unmarshal(f.body, &h)
	if h.V != protocol.Version {
		s.t.Errorf("%s: v is %d, want %d", f, h.V, protocol.Version)
		return false
	}
	return true
}

func (s *session) log(epoch string) *epochLog {
	l := s.logs[epoch]
	if l == nil {
		l = &epochLog{shown: map[uint64]protocol.Event{}}
		s.logs[epoch] = l
	}
	s.current = epoch
	return l
}

// checkEvent checks what every event carries.
func (s *session) checkEvent(f docFrame, ev protocol.Event) bool {
	s.t.Helper()
	ok := true
	fail := func(format string, args ...any) {
		s.t.Errorf("%s: event %d (%s): %s", f, ev.Offset, ev.Kind, fmt.Sprintf(format, args...))
		ok = false
	}
	if ev.V != protocol.Version || ev.Type != protocol.TypeEvent {
		fail("v %d and type %q, want %d and %q", ev.V, ev.Type, protocol.Version, protocol.TypeEvent)
	}
	if !s.kinds[ev.Kind] {
		fail("unknown kind")
	}
	if ev.Epoch == "" || ev.Offset == 0 || ev.At <= 0 {
		fail("needs an epoch, an offset from 1 and a time")
	}
	if ev.Seat < 0 || ev.Seat > 2 {
		fail("seat %d", ev.Seat)
	}
	return ok
}

// event is a live event: it must be the next offset of its epoch.
func (s *session) event(f docFrame, ev protocol.Event) {
	if !s.checkEvent(f, ev) {
		return
	}
	l := s.log(ev.Epoch)
	if ev.Offset != l.last+1 {
		s.t.Errorf("%s: event offset %d follows %d: offsets must be consecutive", f, ev.Offset, l.last)
	}
	l.last = max(l.last, ev.Offset)
	l.shown[ev.Offset] = ev
	l.paired = l.paired || ev.Kind == protocol.KindPaired
}

// answer checks that a frame answers an earlier, unanswered request (of
// type want, if given) and returns the request.
func (s *session) answer(f docFrame, id, want string) any {
	s.t.Helper()
	req, ok := s.requests[id]
	if !ok {
		s.t.Errorf("%s: answers id %q, which no earlier request has", f, id)
		return nil
	}
	if s.answered[id] {
		s.t.Errorf("%s: request %q is answered twice", f, id)
	}
	s.answered[id] = true
	if typ := header(req).Type; want != "" && typ != want {
		s.t.Errorf("%s: answers a %q request, want %q", f, typ, want)
	}
	return req
}

func (s *session) welcome(f docFrame, w *protocol.Welcome) {
	t := s.t
	req := s.answer(f, w.ID, "")
	if !protocol.IsRoomID(w.Room) || (w.Seat != 1 && w.Seat != 2) || w.Epoch == "" {
		t.Errorf("%s: a welcome needs a room id, a seat and an epoch", f)
	}
	if w.Snapshot != nil && w.Replay != nil {
		t.Errorf("%s: a welcome has a snapshot or a replay, never both", f)
	}
	l := s.log(w.Epoch)
	switch r := req.(type) {
	case *protocol.Create, *protocol.Join:
		if w.Snapshot == nil || !protocol.IsKey(w.Device) {
			t.Errorf("%s: the welcome to %s has a snapshot and a device token", f, header(r).Type)
		}
		if _, created := r.(*protocol.Create); created && (w.Seat != 1 || w.Offset != 0) {
			t.Errorf("%s: a new room's welcome is seat 1 at offset 0", f)
		}
		if _, joined := r.(*protocol.Join); joined && (w.Seat != 2 || !w.Snapshot.Paired) {
			t.Errorf("%s: the joiner's welcome is seat 2, paired", f)
		}
	case *protocol.Move:
		if w.Snapshot == nil || !protocol.IsKey(w.Device) || r.Room != w.Room {
			t.Errorf("%s: the welcome to a move is for its room, with a snapshot and a new device token", f)
		}
	case *protocol.Replace:
		if w.Snapshot == nil || !protocol.IsKey(w.Device) || r.Room != w.Room || w.KeyEpoch == 0 || w.Snapshot.KeyEpoch != w.KeyEpoch {
			t.Errorf("%s: the welcome to a replace is for its room, with a snapshot, a new device token and the new key epoch", f)
		}
	case *protocol.Resume:
		if w.Device != "" {
			t.Errorf("%s: a resume's welcome carries no device token", f)
		}
		if r.Room != w.Room {
			t.Errorf("%s: welcome for room %s answers a resume of %s", f, w.Room, r.Room)
		}
		if w.Snapshot == nil {
			// A replay: exactly the events after the resume's offset.
			if r.Epoch != w.Epoch || r.Offset == 0 || r.Offset > l.last {
				t.Errorf("%s: a replay answers a resume from a shown offset of the same epoch (epoch %q offset %d)", f, r.Epoch, r.Offset)
			}
			at := r.Offset
			for _, ev := range w.Replay {
				if !s.checkEvent(f, ev) {
					continue
				}
				if ev.Epoch != w.Epoch || ev.Offset != at+1 {
					t.Errorf("%s: replayed event %d/%s follows %d: a replay is consecutive from the resumed offset", f, ev.Offset, ev.Epoch, at)
				}
				at = ev.Offset
				if shown, ok := l.shown[ev.Offset]; !ok {
					t.Errorf("%s: replayed event %d was never shown live", f, ev.Offset)
				} else if !reflect.DeepEqual(shown, ev) {
					t.Errorf("%s: replayed event %d differs from the event shown live", f, ev.Offset)
				}
			}
			if at != w.Offset {
				t.Errorf("%s: the replay ends at %d but the welcome's offset is %d", f, at, w.Offset)
			}
		}
	default:
		t.Errorf("%s: a welcome answers create, join, resume, move or replace, not %T", f, req)
	}
	if w.Offset != l.last {
		t.Errorf("%s: welcome offset %d, but the room's last event shown is %d", f, w.Offset, l.last)
	}
	paired := l.paired
	if w.Snapshot != nil {
		paired = w.Snapshot.Paired
	}
	if (w.InviteExpiresAt != 0) == paired {
		t.Errorf("%s: inviteExpiresAt is set exactly while seat 2 is free", f)
	}
}

func (s *session) ack(f docFrame, a *protocol.Ack) {
	req := s.answer(f, a.ID, "")
	if req == nil {
		return
	}
	switch typ := header(req).Type; typ {
	case protocol.TypeCreate, protocol.TypeJoin, protocol.TypeResume, protocol.TypeMove, protocol.TypeReplace, protocol.TypePing, protocol.TypeErase:
		s.t.Errorf("%s: %s is not answered with an ack", f, typ)
	case protocol.TypeRoundOpen:
		if !protocol.IsRoomID(a.Round) || a.Move != "" || a.Replace != "" || a.ExpiresAt != 0 {
			s.t.Errorf("%s: the ack of round.open carries the round id, and no move code", f)
		}
	case protocol.TypeMoveCreate:
		if !protocol.IsKey(a.Move) || a.ExpiresAt <= 0 || a.Round != "" || a.Replace != "" {
			s.t.Errorf("%s: the ack of move.create carries the move code and its expiry", f)
		}
	case protocol.TypeReplaceCreate:
		if !protocol.IsKey(a.Replace) || a.ExpiresAt <= 0 || a.Round != "" || a.Move != "" {
			s.t.Errorf("%s: the ack of replace.create carries the re-pair code and its expiry", f)
		}
	default:
		if a.Round != "" || a.Move != "" || a.Replace != "" || a.ExpiresAt != 0 {
			s.t.Errorf("%s: only the ack of round.open carries a round, only those of move.create and replace.create a code", f)
		}
	}
	// An ack comes only after every event up to its offset.
	if l := s.logs[s.current]; l == nil || a.Offset > l.last {
		s.t.Errorf("%s: ack offset %d before its events were shown", f, a.Offset)
	}
}
