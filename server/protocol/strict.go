package protocol

import (
	"bytes"
	"errors"
	"io"
	"reflect"
	"sync"

	"github.com/go-json-experiment/json/jsontext"
)

// A request is decoded by one walk over the frame with jsontext, which
// checks the syntax (one object, valid UTF-8, nothing after it) and hands
// out names and values as slices of the frame; the walk checks each name
// against the type's schema (registry.go) and stores each value itself.
//
// Why not json v2's Unmarshal, which already refuses repeated, unknown and
// case-mismatched names and values of the wrong JSON type: it cannot tell a
// missing field from a zero one, nor null from a zero value, nor judge the
// version before the fields, so a walk is needed anyway, and on a 64-token
// submit a walk costs about what the unmarshal does (skipping through the
// frame alone took 6 µs, the unmarshal 12.5 µs, 17 µs with the string hook
// below; the walk that stores the values takes about 12 µs). One walk, not
// a walk and an unmarshal, is what pays.
//
// The walk makes each string itself, a copy held by the struct alone. json
// v2 would hand out strings from a cache inside its pooled decoders (256 of
// them): in requests those are join keys, device tokens and match tokens,
// which must not stay reachable after the room lets them go.
//
// The walk expects v and type before the other fields, as every client
// sends them. When they come later, or anything is wrong, the header is read
// again by itself (readHeader) to refuse in the documented order: a broken
// frame, then the header, the version, the type, then the fields.

// Problems the walk can find in the fields.
const (
	msgFields = "fields do not match the message type"
	msgNames  = "field names must match exactly, once each, with every required field present"
)

// problem is a field problem the walk found; any other error is jsontext's
// syntax error.
type problem string

func (p problem) Error() string { return string(p) }

var (
	errFields error = problem(msgFields)
	errNames  error = problem(msgNames)
	// errLate: a field came before the type, so the walk could not judge it.
	// DecodeRequest walks again once it has read the type; this message is
	// never shown.
	errLate error = problem("a field before the type")
)

// walker is a pooled jsontext decoder. buf lends the frame to the decoder
// without a copy (jsontext reads a bytes.Buffer in place).
type walker struct {
	buf     bytes.Buffer
	dec     jsontext.Decoder
	scratch []byte // for names and strings with escapes
	// lists holds, per list type, the elements decoded so far, so that the
	// list itself is allocated once, at its final length.
	lists map[reflect.Type]reflect.Value
}

var walkers = sync.Pool{New: func() any { return &walker{lists: map[reflect.Type]reflect.Value{}} }}

// Repeated names are found by the walk itself, with the schema's bits,
// rather than by jsontext's own bookkeeping of every name.
var walkOptions = jsontext.AllowDuplicateNames(true)

func getWalker(data []byte) *walker {
	w := walkers.Get().(*walker)
	w.buf = *bytes.NewBuffer(data)
	w.dec.Reset(&w.buf, walkOptions)
	return w
}

// put lets go of the frame and of every string read from it: a pooled
// decoder must not keep what a phone sent.
func (w *walker) put() {
	w.buf = bytes.Buffer{}
	w.dec.Reset(&w.buf)
	clear(w.scratch[:cap(w.scratch)])
	for _, l := range w.lists {
		l.Clear()
	}
	walkers.Put(w)
}

// decode walks a frame into a request. With r nil it takes the type from
// the frame and gives up (errLate) on a field before it; with r set, the
// header has already been read and found right.
func (w *walker) decode(r *request) (Request, error) {
	dec := &w.dec
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return nil, errNotObject
	}
	var (
		m                Request
		v                reflect.Value
		id               string
		seen             uint64
		vOK, typOK, idOK bool
	)
	if r != nil {
		m = r.new()
		v = reflect.ValueOf(m).Elem()
	}
	for dec.PeekKind() != '}' {
		name, err := w.name()
		if err != nil {
			return nil, err
		}
		switch string(name) {
		case "v":
			val, err := dec.ReadValue()
			if err != nil {
				return nil, err
			}
			if n, ok := parseInt(val); vOK || !ok || n != Version {
				return nil, errNames
			}
			vOK = true
		case "type":
			val, err := dec.ReadValue()
			if err != nil {
				return nil, err
			}
			if typOK || val.Kind() != '"' {
				return nil, errNames
			}
			typOK = true
			q := requests[string(w.unquote(val))]
			if q == nil || r != nil && q != r {
				return nil, errFields
			}
			if r == nil {
				r, m = q, q.new()
				v = reflect.ValueOf(m).Elem()
			}
		case "id":
			val, err := dec.ReadValue()
			if err != nil {
				return nil, err
			}
			if idOK || val.Kind() != '"' {
				return nil, errNames
			}
			idOK = true
			if id = string(w.unquote(val)); len(id) > MaxIDLen {
				return nil, errFields
			}
		default:
			if r == nil {
				return nil, errLate
			}
			if err := w.field(r.schema, name, v, &seen); err != nil {
				return nil, err
			}
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return nil, err
	}
	if _, err := dec.ReadToken(); err != io.EOF {
		return nil, errFields // trailing data: readHeader says so
	}
	if !vOK || !typOK || seen&r.schema.required != r.schema.required {
		return nil, errNames
	}
	*m.header() = Header{V: Version, Type: r.typ, ID: id}
	return m, nil
}

// field reads the value of the member name into struct v, against sc.
func (w *walker) field(sc *schema, name []byte, v reflect.Value, seen *uint64) error {
	f := sc.lookup(name)
	if f == nil {
		return errFields
	}
	if *seen&f.bit != 0 {
		return errNames
	}
	*seen |= f.bit
	dec := &w.dec
	switch f.kind {
	case kindStruct:
		return w.object(f.elem, v.Field(f.index))
	case kindList:
		return w.list(f, v.Field(f.index))
	}
	val, err := dec.ReadValue()
	if err != nil {
		return err
	}
	ok := false
	switch fv := v.Field(f.index); f.kind {
	case kindString:
		if ok = val.Kind() == '"'; ok {
			fv.SetString(string(w.unquote(val)))
		}
	case kindInt:
		var n int
		if n, ok = parseInt(val); ok {
			fv.SetInt(int64(n))
		}
	case kindUint:
		var n uint64
		if n, ok = parseUint(val); ok {
			fv.SetUint(n)
		}
	case kindBool:
		if ok = val.Kind() == 't' || val.Kind() == 'f'; ok {
			fv.SetBool(val.Kind() == 't')
		}
	}
	if !ok { // null, or a value of another JSON type
		return errFields
	}
	return nil
}

// object reads one nested object into struct v, against sc.
func (w *walker) object(sc *schema, v reflect.Value) error {
	dec := &w.dec
	if dec.PeekKind() != '{' {
		return errFields
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
		if err := w.field(sc, name, v, &seen); err != nil {
			return err
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	if seen&sc.required != sc.required {
		return errNames
	}
	return nil
}

// list reads a list of objects into the slice v. The elements go to the
// walker's scratch list first, so the slice is allocated once, whole.
func (w *walker) list(f *field, v reflect.Value) error {
	dec := &w.dec
	if dec.PeekKind() != '[' {
		return errFields
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	l, ok := w.lists[f.list]
	if !ok {
		l = reflect.New(f.list).Elem()
	}
	l.SetLen(0)
	for dec.PeekKind() != ']' {
		if l.Len() == l.Cap() {
			l.Grow(max(8, l.Cap()))
		}
		l.SetLen(l.Len() + 1)
		if err := w.object(f.elem, l.Index(l.Len()-1)); err != nil {
			w.lists[f.list] = l
			return err
		}
	}
	w.lists[f.list] = l
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	s := reflect.MakeSlice(f.list, l.Len(), l.Len())
	reflect.Copy(s, l)
	v.Set(s)
	return nil
}

// header is what the header of a frame says, read by itself: the fields
// are skipped, not judged.
type header struct {
	broken   bool   // not one well-formed JSON object
	trailing bool   // something after the object
	id       string // the request id, when it was read and is short enough
	idLong   bool
	ok       bool // v an integer, type a string, id a string, none repeated
	version  int
	req      *request // nil when type is not a request type
}

func readHeader(data []byte) header {
	w := getWalker(data)
	defer w.put()
	var h header
	if err := w.header(&h); err != nil {
		h.broken = true
	} else if _, err := w.dec.ReadToken(); err != io.EOF {
		h.trailing = true
	}
	return h
}

// header reads the top-level object's v, type and id, wherever they stand.
// An error means the frame is not well-formed JSON.
func (w *walker) header(h *header) error {
	dec := &w.dec
	if tok, err := dec.ReadToken(); err != nil || tok.Kind() != '{' {
		return errNotObject
	}
	var vN, typeN, idN int
	var vOK, typeOK, idOK bool
	for dec.PeekKind() != '}' {
		name, err := w.name()
		if err != nil {
			return err
		}
		var n *int
		switch string(name) {
		case "v":
			n = &vN
		case "type":
			n = &typeN
		case "id":
			n = &idN
		default:
			if err := dec.SkipValue(); err != nil {
				return err
			}
			continue
		}
		*n++
		v, err := dec.ReadValue()
		if err != nil {
			return err
		}
		switch n {
		case &vN:
			h.version, vOK = parseInt(v)
		case &typeN:
			if typeOK = v.Kind() == '"'; typeOK {
				h.req = requests[string(w.unquote(v))]
			}
		case &idN:
			h.id, idOK = "", v.Kind() == '"' && idN == 1
			if !idOK {
				break
			}
			if id := w.unquote(v); len(id) > MaxIDLen {
				h.idLong = true
			} else {
				h.id = string(id)
			}
		}
	}
	if _, err := dec.ReadToken(); err != nil {
		return err
	}
	h.ok = vOK && vN == 1 && typeOK && typeN == 1 && (idN == 0 || idOK)
	return nil
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
// or exponent) that fits an int, as json reads one into an int.
func parseInt(v jsontext.Value) (int, bool) {
	if v.Kind() != '0' {
		return 0, false
	}
	neg := v[0] == '-'
	if neg {
		v = v[1:]
	}
	n, ok := parseUint(v)
	const maxInt = uint64(^uint(0) >> 1)
	if !ok || n > maxInt+1 || n == maxInt+1 && !neg {
		return 0, false
	}
	if neg {
		return -int(n), true
	}
	return int(n), true
}

// parseUint reads a JSON value that must be a non-negative integer literal
// that fits a uint64.
func parseUint(v jsontext.Value) (uint64, bool) {
	if len(v) == 0 {
		return 0, false
	}
	const maxUint = ^uint64(0)
	var n uint64
	for _, c := range v {
		if c < '0' || c > '9' || n > (maxUint-uint64(c-'0'))/10 {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

var errNotObject = errors.New("not a JSON object")
