package protocol

import (
	"reflect"
	"slices"
	"strings"
)

// Request is a decoded client frame: a pointer to one of the request
// structs (*Create, *Submit, ...). Only this package's types are Requests,
// and DecodeRequest returns only the types listed in requestTypes.
type Request interface {
	// MessageType is the frame's "type", one of the request Type constants.
	MessageType() string
	// RequestID is the id the phone chose, "" when it sent none.
	RequestID() string
	// check checks what JSON typing cannot (sizes and formats) and returns
	// a message for people, or "".
	check() string
	header() *Header
}

// requestTypes is the one list of the request types a phone may send, each
// with its struct. The decoder's schemas (strict.go), the set of types it
// knows and RequestTypes, which the edge's dispatch table is tested against,
// all come from here: a new request type is its constant, its struct (with
// a check method when it has sizes or formats to check), one line here and
// its handler in server/edge.
var requestTypes = []struct {
	typ string
	new func() Request
}{
	{TypeCreate, func() Request { return new(Create) }},
	{TypeJoin, func() Request { return new(Join) }},
	{TypeResume, func() Request { return new(Resume) }},
	{TypeRoundOpen, func() Request { return new(RoundOpen) }},
	{TypeSubmit, func() Request { return new(Submit) }},
	{TypeRoundClose, func() Request { return new(RoundClose) }},
	{TypePause, func() Request { return new(Pause) }},
	{TypeUnpause, func() Request { return new(Unpause) }},
	{TypeAnnounce, func() Request { return new(Announce) }},
	{TypeSettings, func() Request { return new(Settings) }},
	{TypeDebrief, func() Request { return new(Debrief) }},
	{TypeErase, func() Request { return new(Erase) }},
	{TypePing, func() Request { return new(Ping) }},
	{TypeBye, func() Request { return new(Bye) }},
	{TypeSeen, func() Request { return new(Seen) }},

	{TypePushSubscribe, func() Request { return new(PushSubscribe) }},
	{TypePushUnsubscribe, func() Request { return new(PushUnsubscribe) }},

	{TypeInviteCancel, func() Request { return new(InviteCancel) }},
	{TypeMoveCreate, func() Request { return new(MoveCreate) }},
	{TypeMoveCancel, func() Request { return new(MoveCancel) }},
	{TypeMove, func() Request { return new(Move) }},

	{TypeReplaceCreate, func() Request { return new(ReplaceCreate) }},
	{TypeReplaceCancel, func() Request { return new(ReplaceCancel) }},
	{TypeReplace, func() Request { return new(Replace) }},
}

// RequestTypes returns every request type, sorted.
func RequestTypes() []string {
	types := make([]string, 0, len(requestTypes))
	for _, r := range requestTypes {
		types = append(types, r.typ)
	}
	slices.Sort(types)
	return types
}

// NewRequest returns a zero request of type typ, with its type set, or nil
// when typ is not a request type. Tests use it to see which struct a type
// decodes into.
func NewRequest(typ string) Request {
	r := requests[typ]
	if r == nil {
		return nil
	}
	m := r.new()
	m.header().Type = r.typ
	return m
}

// request is one registered type: its name (the constant, so a decoded
// Type costs no allocation), its constructor and the schema of its struct.
type request struct {
	typ    string
	new    func() Request
	schema *schema
}

// requests maps a type to its registration.
var requests = map[string]*request{}

func init() {
	for _, r := range requestTypes {
		if requests[r.typ] != nil {
			panic("protocol: request type " + r.typ + " registered twice")
		}
		t := reflect.TypeOf(r.new()).Elem()
		if f := t.Field(0); !f.Anonymous || f.Type != reflect.TypeOf(Header{}) {
			panic("protocol: " + t.Name() + " does not embed Header first")
		}
		requests[r.typ] = &request{typ: r.typ, new: r.new, schema: schemaOf(t, true)}
	}
}

// schema is what one struct allows: its JSON names, each with a bit, and
// which of them are required. The header names of a request (v, type, id)
// are not in it: the walk reads them itself.
type schema struct {
	fields   []field
	required uint64 // bits of the fields without omitempty
}

// lookup finds a field by name. A schema has a handful of names (a token
// entry two), where comparing them one by one beats hashing.
func (s *schema) lookup(name []byte) *field {
	for i := range s.fields {
		if s.fields[i].name == string(name) {
			return &s.fields[i]
		}
	}
	return nil
}

// Kinds of field the walk decodes.
const (
	kindString = 0
	kindInt    = 1
	kindUint   = 2
	kindBool   = 3
	kindStruct = 4
	kindList   = 5 // a list of structs
)

type field struct {
	name  string
	bit   uint64
	index int // in its struct
	kind  int
	elem  *schema // of a struct, or of a list's elements
	list  reflect.Type
}

// schemaOf derives a struct's schema from its json tags, as json sees them:
// exported fields by their tag's name or else their Go name, required unless
// omitempty or omitzero. In a request, the embedded Header is left to the
// walk.
func schemaOf(t reflect.Type, request bool) *schema {
	s := &schema{}
	for i := range t.NumField() {
		f := t.Field(i)
		if request && i == 0 {
			continue // Header
		}
		tag := f.Tag.Get("json")
		if tag == "-" || !f.IsExported() || f.Anonymous {
			panic("protocol: the decoder does not handle field " + t.Name() + "." + f.Name)
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		header := name == "v" || name == "type" || name == "id"
		if len(s.fields) == 64 || s.lookup([]byte(name)) != nil || request && header {
			panic("protocol: too many fields or a repeated name in " + t.Name())
		}
		fd := field{name: name, bit: 1 << len(s.fields), index: i}
		switch ft := f.Type; {
		case ft.Kind() == reflect.String:
			fd.kind = kindString
		case ft.Kind() == reflect.Int:
			fd.kind = kindInt
		case ft.Kind() == reflect.Uint64:
			fd.kind = kindUint
		case ft.Kind() == reflect.Bool:
			fd.kind = kindBool
		case ft.Kind() == reflect.Struct:
			fd.kind, fd.elem = kindStruct, schemaOf(ft, false)
		case ft.Kind() == reflect.Slice && ft.Elem().Kind() == reflect.Struct:
			fd.kind, fd.elem, fd.list = kindList, schemaOf(ft.Elem(), false), ft
		default:
			// A map, pointer or list of scalars would need its own rules
			// in the walk (null elements, nested names); refuse to start
			// rather than let such a field through unchecked.
			panic("protocol: the decoder does not handle fields of type " + ft.String())
		}
		s.fields = append(s.fields, fd)
		if !strings.Contains(","+opts+",", ",omitempty,") && !strings.Contains(","+opts+",", ",omitzero,") {
			s.required |= fd.bit
		}
	}
	return s
}
