package protocol

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"strings"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
)

// A request is decoded by one walk over the frame with jsontext, then one
// json v2 unmarshal into the type's struct (decode.go). The unmarshal already
// matches names case-sensitively, refuses repeated and (with
// RejectUnknownMembers) unknown names, and refuses values of the wrong JSON
// type. The walk does what it cannot:
//
//   - it reads v, type and id first, wherever they stand in the object, so a
//     frame of another version is refused as such before its fields are
//     judged by this version's rules, and so an error can echo the id;
//   - it checks that every required field is present, at every depth (json
//     cannot tell a missing field from a zero one);
//   - it refuses null for every field (the unmarshal would take it as the
//     zero value, and no request field has a null meaning);
//   - it finds repeated and unknown names itself, so that a repeated "type"
//     is refused rather than read twice, and a refusal comes in the order
//     the protocol documents.
//
// jsontext reads names and values as slices of the frame, so the walk
// allocates nothing for a well-formed frame but the id.

// schema is what one struct allows: its JSON names, each with a bit, and
// which of them are required.
type schema struct {
	fields   []*field
	required uint64 // bits of the fields without omitempty
}

// lookup finds a field by name. A schema has a handful of names (a token
// entry two), where comparing them one by one beats hashing.
func (s *schema) lookup(name []byte) *field {
	for _, f := range s.fields {
		if f.name == string(name) {
			return f
		}
	}
	return nil
}

type field struct {
	name   string
	bit    uint64
	header int // hdrV, hdrType, hdrID for the top-level header names, else 0
	// elem is the schema of an object field, or with list of an array of
	// objects; nil for a scalar.
	elem     *schema
	elemType reflect.Type
	list     bool
}

// Header fields, which the walk reads rather than checks.
const (
	hdrNone = 0
	hdrV    = 1
	hdrType = 2
	hdrID   = 3
)

// request is one request type: its struct and which of the top-level names
// (the bits of topSchema) it allows and requires.
type request struct {
	typ      reflect.Type
	allowed  uint64
	required uint64
}

var (
	// requests maps each request type to its struct.
	requests = map[string]*request{}
	// topSchema holds the top-level names of every request type. The walk
	// meets the fields before it may have read the type (field order is
	// free), so it checks a nested value against the schema of its name in
	// any request; registerRequest makes sure a name means the same shape
	// in every type that has it.
	topSchema = &schema{}
)

func init() {
	for typ, v := range map[string]any{
		TypeCreate:     Create{},
		TypeJoin:       Join{},
		TypeResume:     Resume{},
		TypeRoundOpen:  RoundOpen{},
		TypeSubmit:     Submit{},
		TypeRoundClose: RoundClose{},
		TypePause:      Pause{},
		TypeUnpause:    Unpause{},
		TypeAnnounce:   Announce{},
		TypeSettings:   Settings{},
		TypeDebrief:    Debrief{},
		TypeErase:      Erase{},
		TypePing:       Ping{},
		TypeBye:        Bye{},
		TypeSeen:       Seen{},

		TypePushSubscribe:   PushSubscribe{},
		TypePushUnsubscribe: PushUnsubscribe{},

		TypeInviteCancel: InviteCancel{},
		TypeMoveCreate:   MoveCreate{},
		TypeMoveCancel:   MoveCancel{},
		TypeMove:         Move{},
	} {
		registerRequest(typ, reflect.TypeOf(v))
	}
	for name, h := range map[string]int{"v": hdrV, "type": hdrType, "id": hdrID} {
		f := topSchema.lookup([]byte(name))
		if f == nil || f.elem != nil {
			panic("protocol: request header field " + name + " missing")
		}
		f.header = h
	}
	want := topSchema.lookup([]byte("v")).bit | topSchema.lookup([]byte("type")).bit
	for typ, r := range requests {
		if r.required&want != want {
			panic("protocol: " + typ + " does not require v and type")
		}
	}
}

func registerRequest(typ string, t reflect.Type) {
	r := &request{typ: t}
	eachField(t, func(name string, required bool, ft reflect.Type) {
		f := topSchema.lookup([]byte(name))
		if f == nil {
			if len(topSchema.fields) == 64 {
				panic("protocol: more than 64 request field names")
			}
			f = newField(name, uint64(1)<<len(topSchema.fields), ft)
			topSchema.fields = append(topSchema.fields, f)
		} else if g := newField(name, 0, ft); g.list != f.list || g.elemType != f.elemType {
			panic(fmt.Sprintf("protocol: field %q has different shapes in different requests", name))
		}
		r.allowed |= f.bit
		if required {
			r.required |= f.bit
		}
	})
	requests[typ] = r
}

// schemaOf derives a nested struct's schema from its json tags.
func schemaOf(t reflect.Type) *schema {
	s := &schema{}
	eachField(t, func(name string, required bool, ft reflect.Type) {
		if len(s.fields) == 64 {
			panic("protocol: more than 64 fields in " + t.String())
		}
		if s.lookup([]byte(name)) != nil {
			panic("protocol: two fields named " + name + " in " + t.String())
		}
		f := newField(name, uint64(1)<<len(s.fields), ft)
		s.fields = append(s.fields, f)
		if required {
			s.required |= f.bit
		}
	})
	return s
}

func newField(name string, bit uint64, t reflect.Type) *field {
	f := &field{name: name, bit: bit}
	if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct {
		f.list, t = true, t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		f.elemType = t
		if bit != 0 {
			f.elem = schemaOf(t)
		}
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
	default:
		// A map, pointer, interface or list of scalars would need its own
		// rules in the walk (null elements, nested names); refuse to start
		// rather than let such a field through unchecked.
		panic("protocol: the strict walk does not check request fields of type " + t.String())
	}
	return f
}

// eachField calls fn for every JSON field of struct t, as encoding/json and
// json v2 see them: exported fields, embedded untagged structs flattened, the
// tag's name or else the Go name, and required unless omitempty or omitzero.
func eachField(t reflect.Type, fn func(name string, required bool, ft reflect.Type)) {
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag, tagged := f.Tag.Lookup("json")
		if tag == "-" || !f.IsExported() && !f.Anonymous {
			continue
		}
		if f.Anonymous && !tagged && f.Type.Kind() == reflect.Struct {
			eachField(f.Type, fn)
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		optional := false
		for _, o := range strings.Split(opts, ",") {
			optional = optional || o == "omitempty" || o == "omitzero"
		}
		fn(name, !optional, f.Type)
	}
}

// Problems the walk can find in the fields; the first one found is reported.
const (
	msgFields = "fields do not match the message type"
	msgNames  = "field names must match exactly, once each, with every required field present"
)

// scan is what the walk learned about a frame.
type scan struct {
	broken   bool   // not one well-formed JSON object
	trailing bool   // something after the object
	id       string // the request id, when it was read and is short enough
	idLong   bool
	// header is false when v is missing or not an integer, type missing or
	// not a string, id not a string, or one of them repeated.
	header  bool
	version int
	req     *request // nil when type is not a request type
	seen    uint64   // top-level names present (bits of topSchema)
	problem string   // the first problem with the fields, "" if none
}

func (s *scan) note(msg string) {
	if s.problem == "" {
		s.problem = msg
	}
}

// walker is a pooled jsontext decoder. buf lends the frame to the decoder
// without a copy (jsontext reads a bytes.Buffer in place).
type walker struct {
	buf     bytes.Buffer
	dec     jsontext.Decoder
	scratch []byte // for names and strings with escapes
}

var walkers = sync.Pool{New: func() any { return new(walker) }}

// Repeated names are found by the walk itself (see above), not as a syntax
// error of jsontext, which would hide the header.
var walkOptions = jsontext.AllowDuplicateNames(true)

func scanFrame(data []byte) scan {
	w := walkers.Get().(*walker)
	s := scan{}
	w.buf = *bytes.NewBuffer(data)
	w.dec.Reset(&w.buf, walkOptions)
	if err := w.top(&s); err != nil {
		s.broken = true
	} else if _, err := w.dec.ReadToken(); err != io.EOF {
		s.trailing = true
	}
	// Let go of the frame: a pooled decoder must not keep what a phone sent.
	w.buf = bytes.Buffer{}
	w.dec.Reset(&w.buf)
	clear(w.scratch[:cap(w.scratch)])
	walkers.Put(w)
	return s
}

// top walks the top-level object. An error means the frame is not well-formed
// JSON; everything else is noted in s.
func (w *walker) top(s *scan) error {
	dec := &w.dec
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return errNotObject
	}
	var vOK, typeOK, idBad bool
	for dec.PeekKind() != '}' {
		name, err := w.name()
		if err != nil {
			return err
		}
		f := topSchema.lookup(name)
		if f == nil {
			s.note(msgFields)
			if err := dec.SkipValue(); err != nil {
				return err
			}
			continue
		}
		repeated := s.seen&f.bit != 0
		s.seen |= f.bit
		if repeated {
			s.note(msgNames)
		}
		if f.header == hdrNone {
			if err := w.value(f, s); err != nil {
				return err
			}
			continue
		}
		v, err := dec.ReadValue()
		if err != nil {
			return err
		}
		switch f.header {
		case hdrV:
			s.version, vOK = parseInt(v)
			vOK = vOK && !repeated
		case hdrType:
			typeOK = v.Kind() == '"' && !repeated
			if typeOK {
				s.req = requests[string(w.unquote(v))]
			}
		case hdrID:
			if v.Kind() != '"' || repeated {
				idBad, s.id = true, ""
				break
			}
			if id := w.unquote(v); len(id) > MaxIDLen {
				s.idLong = true
			} else {
				s.id = string(id)
			}
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	s.header = vOK && typeOK && !idBad
	return nil
}

// object walks one nested object against sc.
func (w *walker) object(sc *schema, s *scan) error {
	dec := &w.dec
	if dec.PeekKind() != '{' {
		return w.wrongType(s)
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	var seen uint64
	for dec.PeekKind() != '}' {
		name, err := w.name()
		if err != nil {
			return err
		}
		f := sc.lookup(name)
		if f == nil {
			s.note(msgFields)
			if err := dec.SkipValue(); err != nil {
				return err
			}
			continue
		}
		if seen&f.bit != 0 {
			s.note(msgNames)
		}
		seen |= f.bit
		if err := w.value(f, s); err != nil {
			return err
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	if seen&sc.required != sc.required {
		s.note(msgNames)
	}
	return nil
}

// value walks the value of a known field.
func (w *walker) value(f *field, s *scan) error {
	dec := &w.dec
	switch {
	case f.list:
		if dec.PeekKind() != '[' {
			return w.wrongType(s)
		}
		if _, err := dec.ReadToken(); err != nil {
			return err
		}
		for dec.PeekKind() != ']' {
			if err := w.object(f.elem, s); err != nil {
				return err
			}
		}
		_, err := dec.ReadToken()
		return err
	case f.elem != nil:
		return w.object(f.elem, s)
	}
	v, err := dec.ReadValue()
	if err != nil {
		return err
	}
	if v.Kind() == 'n' {
		s.note(msgFields)
	}
	return nil
}

// wrongType consumes a value whose JSON type the field cannot have.
func (w *walker) wrongType(s *scan) error {
	s.note(msgFields)
	return w.dec.SkipValue()
}

// name reads an object member's name, unescaped. The result is valid until
// the next read.
func (w *walker) name() ([]byte, error) {
	v, err := w.dec.ReadValue()
	if err != nil {
		return nil, err
	}
	return w.unquote(v), nil
}

// unquote returns the contents of a JSON string that jsontext has already
// checked; only a string with escapes is copied.
func (w *walker) unquote(v jsontext.Value) []byte {
	if bytes.IndexByte(v, '\\') < 0 {
		return v[1 : len(v)-1]
	}
	w.scratch, _ = jsontext.AppendUnquote(w.scratch[:0], v)
	return w.scratch
}

// parseInt reads a JSON value that must be an integer literal (no fraction
// or exponent) that fits an int, as encoding/json reads one into an int.
func parseInt(v jsontext.Value) (int, bool) {
	if v.Kind() != '0' {
		return 0, false
	}
	digits := v
	if v[0] == '-' {
		digits = v[1:]
	}
	const maxInt = int(^uint(0) >> 1)
	n := 0
	for _, c := range digits {
		if c < '0' || c > '9' || n > (maxInt-int(c-'0'))/10 {
			return 0, false
		}
		n = n*10 + int(c-'0')
	}
	if v[0] == '-' {
		n = -n
	}
	return n, true
}

var errNotObject = errors.New("not a JSON object")
