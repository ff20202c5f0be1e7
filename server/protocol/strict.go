package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"reflect"
	"strings"
	"sync"
)

// encoding/json matches keys case-insensitively, lets a repeated key win and
// cannot tell a missing field from a zero one. A frame whose meaning depends
// on such leniency is refused instead: checkKeys walks the frame's tokens and
// insists on exact key names, no repeats, and every required field present.

// fieldSet is what one struct allows: each JSON name, and whether it is
// required (no omitempty) and, for nested objects and lists of them, the
// element's own set.
type fieldSet map[string]field

type field struct {
	required bool
	elem     fieldSet // for objects and slices of objects
}

var fieldSets sync.Map // reflect.Type -> fieldSet

func fieldsOf(t reflect.Type) fieldSet {
	if fs, ok := fieldSets.Load(t); ok {
		return fs.(fieldSet)
	}
	fs := fieldSet{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			for k, v := range fieldsOf(f.Type) {
				fs[k] = v
			}
			continue
		}
		tag := f.Tag.Get("json")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" || name == "" {
			continue
		}
		fd := field{required: !strings.Contains(opts, "omitempty")}
		et := f.Type
		if et.Kind() == reflect.Slice {
			et = et.Elem()
		}
		if et.Kind() == reflect.Struct {
			fd.elem = fieldsOf(et)
		}
		fs[name] = fd
	}
	fieldSets.Store(t, fs)
	return fs
}

var errShape = errors.New("shape")

// checkKeys reports whether data is one JSON object whose keys match fs
// exactly, recursively.
func checkKeys(data []byte, fs fieldSet) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	return checkObject(dec, fs)
}

func checkObject(dec *json.Decoder, fs fieldSet) error {
	if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
		return errShape
	}
	seen := make(map[string]bool, len(fs))
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return errShape
		}
		key := tok.(string)
		f, ok := fs[key]
		if !ok || seen[key] {
			return errShape
		}
		seen[key] = true
		if err := checkValue(dec, f); err != nil {
			return err
		}
	}
	if _, err := dec.Token(); err != nil { // the closing brace
		return errShape
	}
	for name, f := range fs {
		if f.required && !seen[name] {
			return errShape
		}
	}
	return nil
}

func checkValue(dec *json.Decoder, f field) error {
	if f.elem == nil {
		return skipValue(dec)
	}
	// An object, or a list of objects.
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return errShape
	}
	raw = bytes.TrimSpace(raw)
	if len(raw) > 0 && raw[0] == '[' {
		inner := json.NewDecoder(bytes.NewReader(raw))
		inner.UseNumber()
		if _, err := inner.Token(); err != nil {
			return errShape
		}
		for inner.More() {
			if err := checkObject(inner, f.elem); err != nil {
				return err
			}
		}
		return nil
	}
	return checkKeys(raw, f.elem)
}

// skipValue consumes one scalar, object or array.
func skipValue(dec *json.Decoder) error {
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		return errShape
	}
	return nil
}
