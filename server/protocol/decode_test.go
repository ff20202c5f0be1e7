package protocol_test

import (
	"encoding/base64"
	"errors"
	"math/rand/v2"
	"strings"
	"testing"
	"unsafe"

	"github.com/google/uuid"

	"softland/server/protocol"
)

func TestDecodeIsStrictAboutKeys(t *testing.T) {
	key := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	room := "6f1c2f55-6f5a-4c5e-9a55-3b1f0e6f9d10"
	tests := map[string]struct {
		frame string
		ok    bool
	}{
		"exact":                 {`{"v":2,"type":"resume","room":"` + room + `","device":"` + key + `","offset":0}`, true},
		"optional id and epoch": {`{"v":2,"type":"resume","id":"9","epoch":"e","room":"` + room + `","device":"` + key + `","offset":0}`, true},
		"upper-case key":        {`{"V":1,"type":"ping"}`, false},
		"mixed-case key":        {`{"v":2,"Type":"ping"}`, false},
		"repeated key":          {`{"v":2,"type":"ping","type":"ping"}`, false},
		"missing offset":        {`{"v":2,"type":"resume","room":"` + room + `","device":"` + key + `"}`, false},
		"missing join key":      {`{"v":2,"type":"join","room":"` + room + `"}`, false},
		"lenient blob":          {`{"v":2,"type":"announce","blob":"AB"}`, false},
		"strict blob":           {`{"v":2,"type":"announce","blob":"AA"}`, true},
		"submit":                {`{"v":2,"type":"round.submit","round":"` + room + `","tokens":"` + tokenSet(nil) + `"}`, true},
		"v1 token list":         {`{"v":2,"type":"round.submit","round":"` + room + `","tokens":[{"t":"` + key + `","r":0}]}`, false},
		"upper-case tokens":     {`{"v":2,"type":"round.submit","round":"` + room + `","Tokens":"` + tokenSet(nil) + `"}`, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := protocol.DecodeRequest([]byte(tc.frame))
			var de *protocol.DecodeError
			if tc.ok && err != nil {
				t.Fatalf("refused: %v", err)
			}
			if !tc.ok && (!errors.As(err, &de) || de.Code != protocol.CodeBadRequest) {
				t.Fatalf("want bad_request, got %v", err)
			}
		})
	}
}

// tokenSet is the wire form of a token set whose token i holds byte i
// first, then zeros, with edit applied to its bytes first.
func tokenSet(edit func(b []byte)) string {
	b := make([]byte, protocol.TokenSetSize*protocol.TokenBytes)
	for i := range protocol.TokenSetSize {
		b[i*protocol.TokenBytes] = byte(i)
	}
	if edit != nil {
		edit(b)
	}
	return base64.RawURLEncoding.EncodeToString(b)
}

// submitFrame is a valid round.submit with id 5, its fields in the order
// given ("v", "type", "id", "round", "tokens" by default), and edit applied
// to the text of its tokens (without quotes).
func submitFrame(edit func(tokens string) string, order ...string) string {
	room := "6f1c2f55-6f5a-4c5e-9a55-3b1f0e6f9d10"
	tokens := tokenSet(nil)
	if edit != nil {
		tokens = edit(tokens)
	}
	fields := map[string]string{
		"v": `"v":2`, "type": `"type":"round.submit"`, "id": `"id":"5"`,
		"round": `"round":"` + room + `"`, "tokens": `"tokens":"` + tokens + `"`,
	}
	if len(order) == 0 {
		order = []string{"v", "type", "id", "round", "tokens"}
	}
	var parts []string
	for _, name := range order {
		parts = append(parts, fields[name])
	}
	return "{" + strings.Join(parts, ",") + "}"
}

// TestDecodeRules: every rule of DecodeRequest, with the code it refuses
// with and whether the error can echo the id.
func TestDecodeRules(t *testing.T) {
	key := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	room := "6f1c2f55-6f5a-4c5e-9a55-3b1f0e6f9d10"
	resume := func(offset string) string {
		return `{"v":2,"type":"resume","id":"5","room":"` + room + `","device":"` + key + `","offset":` + offset + `}`
	}
	const (
		ok      = ""
		bad     = protocol.CodeBadRequest
		version = protocol.CodeVersion
		unknown = protocol.CodeUnknownType
	)
	tests := map[string]struct {
		frame  string
		code   string
		withID bool // the error carries id "5"
	}{
		// The frame as a whole.
		"not json":              {`hello`, bad, false},
		"empty":                 {``, bad, false},
		"array":                 {`[{"v":2,"type":"ping"}]`, bad, false},
		"null":                  {`null`, bad, false},
		"string":                {`"ping"`, bad, false},
		"number":                {`1`, bad, false},
		"empty object":          {`{}`, bad, false},
		"cut short":             {`{"v":2,"type":"ping","id":"5",`, bad, true},
		"trailing object":       {`{"v":2,"type":"ping","id":"5"} {}`, bad, true},
		"trailing garbage":      {`{"v":2,"type":"ping","id":"5"}x`, bad, true},
		"trailing whitespace":   {"{\"v\":2,\"type\":\"ping\",\"id\":\"5\"}\n ", ok, false},
		"invalid UTF-8":         {"{\"v\":2,\"type\":\"ping\",\"id\":\"\xff\"}", bad, false},
		"invalid UTF-8 in blob": {"{\"v\":2,\"type\":\"announce\",\"id\":\"5\",\"blob\":\"\xffAA\"}", bad, true},
		"deep garbage":          {`{"v":2,"type":"ping","id":"5","x":` + strings.Repeat("[", 20000) + strings.Repeat("]", 20000) + `}`, bad, true},
		"nested garbage":        {`{"v":2,"type":"debrief","id":"5","round":{"a":[1,2,{"b":null}]},"blob":"AAAA"}`, bad, true},

		// The header: v, type and id.
		"missing v":           {`{"type":"ping","id":"5"}`, bad, true},
		"upper-case V":        {`{"V":1,"type":"ping","id":"5"}`, bad, true},
		"v as a string":       {`{"v":"1","type":"ping","id":"5"}`, bad, true},
		"v null":              {`{"v":null,"type":"ping","id":"5"}`, bad, true},
		"v with a fraction":   {`{"v":1.0,"type":"ping","id":"5"}`, bad, true},
		"v with an exponent":  {`{"v":1e0,"type":"ping","id":"5"}`, bad, true},
		"v too large":         {`{"v":99999999999999999999,"type":"ping","id":"5"}`, bad, true},
		"v repeated":          {`{"v":2,"v":1,"type":"ping","id":"5"}`, bad, true},
		"missing type":        {`{"v":2,"id":"5"}`, bad, true},
		"type null":           {`{"v":2,"type":null,"id":"5"}`, bad, true},
		"type a number":       {`{"v":2,"type":1,"id":"5"}`, bad, true},
		"type repeated":       {`{"v":2,"type":"nope","type":"ping","id":"5"}`, bad, true},
		"id null":             {`{"v":2,"type":"ping","id":null}`, bad, false},
		"id a number":         {`{"v":2,"type":"ping","id":5}`, bad, false},
		"id repeated":         {`{"v":2,"type":"ping","id":"5","id":"5"}`, bad, false},
		"id too long":         {`{"v":2,"type":"ping","id":"` + strings.Repeat("5", protocol.MaxIDLen+1) + `"}`, bad, false},
		"id at the limit":     {`{"v":2,"type":"ping","id":"` + strings.Repeat("5", protocol.MaxIDLen) + `"}`, ok, false},
		"escaped names":       {`{"\u0076":2,"typ\u0065":"p\u0069ng","id":"\u0035"}`, ok, false},
		"other version":       {`{"v":3,"type":"ping","id":"5"}`, version, true},
		"version 1":           {`{"v":1,"type":"ping","id":"5"}`, version, true},
		"version 1 submit":    {`{"v":1,"type":"round.submit","id":"5","round":"` + room + `","tokens":[{"t":"` + key + `","r":0}]}`, version, true},
		"negative version":    {`{"v":-1,"type":"ping","id":"5"}`, version, true},
		"version before type": {`{"v":1,"type":"nope","id":"5"}`, version, true},
		"version before rest": {`{"v":1,"type":"ping","id":"5","new":[{"x":null}],"tokens":[{}]}`, version, true},
		"version anywhere":    {`{"id":"5","type":"ping","v":1}`, version, true},
		"unknown type":        {`{"v":2,"type":"nope","id":"5","extra":1}`, unknown, true},
		"type case":           {`{"v":2,"type":"Ping","id":"5"}`, unknown, true},

		// The fields.
		"unknown field":          {`{"v":2,"type":"ping","id":"5","extra":true}`, bad, true},
		"field of another type":  {`{"v":2,"type":"ping","id":"5","round":"` + room + `"}`, bad, true},
		"wrong JSON type":        {`{"v":2,"type":"create","id":"5","joinKeyHash":5}`, bad, true},
		"required field null":    {`{"v":2,"type":"create","id":"5","joinKeyHash":null}`, bad, true},
		"optional field null":    {`{"v":2,"type":"resume","id":"5","room":"` + room + `","device":"` + key + `","epoch":null,"offset":0}`, bad, true},
		"tokens null":            {`{"v":2,"type":"round.submit","id":"5","round":"` + room + `","tokens":null}`, bad, true},
		"tokens an object":       {`{"v":2,"type":"round.submit","id":"5","round":"` + room + `","tokens":{}}`, bad, true},
		"tokens a list":          {`{"v":2,"type":"round.submit","id":"5","round":"` + room + `","tokens":["` + tokenSet(nil) + `"]}`, bad, true},
		"tokens escaped":         {submitFrame(func(s string) string { return `\u0041` + s[1:] }), ok, false},
		"submit in field order":  {submitFrame(nil), ok, false},
		"submit type last":       {submitFrame(nil, "tokens", "round", "id", "v", "type"), ok, false},
		"offset 0":               {resume(`0`), ok, false},
		"offset max":             {resume(`18446744073709551615`), ok, false},
		"offset too large":       {resume(`18446744073709551616`), bad, true},
		"offset huge":            {resume(`1e400`), bad, true},
		"offset negative":        {resume(`-1`), bad, true},
		"offset -0":              {resume(`-0`), bad, true},
		"offset with a fraction": {resume(`1.0`), bad, true},
		"offset with exponent":   {resume(`1e0`), bad, true},
		"offset a string":        {resume(`"3"`), bad, true},
		"offset null":            {resume(`null`), bad, true},
		"offset true":            {resume(`true`), bad, true},
		"seen":                   {`{"v":2,"type":"seen","id":"5","offset":18446744073709551615}`, ok, false},
		"seen negative":          {`{"v":2,"type":"seen","id":"5","offset":-3}`, bad, true},
		"seen without offset":    {`{"v":2,"type":"seen","id":"5"}`, bad, true},
		"seen with a round":      {`{"v":2,"type":"seen","id":"5","offset":3,"round":"` + room + `"}`, bad, true},

		// Sizes and formats.
		"short key":                 {`{"v":2,"type":"create","id":"5","joinKeyHash":"abc"}`, bad, true},
		"key spare bits":            {`{"v":2,"type":"create","id":"5","joinKeyHash":"` + key[:42] + `B"}`, bad, true},
		"upper-case room":           {`{"v":2,"type":"round.close","id":"5","round":"` + strings.ToUpper(room) + `"}`, bad, true},
		"tokens empty":              {submitFrame(func(string) string { return `` }), bad, true},
		"tokens one char short":     {submitFrame(func(s string) string { return s[:len(s)-1] }), bad, true},
		"tokens one char long":      {submitFrame(func(s string) string { return s + "A" }), bad, true},
		"tokens one token short":    {submitFrame(func(s string) string { return s[:protocol.TokenSetLen-22] }), bad, true},
		"tokens one token long":     {submitFrame(func(s string) string { return s + s[:22] }), bad, true},
		"tokens spare bits":         {submitFrame(func(s string) string { return s[:len(s)-1] + "B" }), bad, true},
		"tokens padded":             {submitFrame(func(s string) string { return s[:len(s)-2] + "==" }), bad, true},
		"tokens standard base64":    {submitFrame(func(s string) string { return "+" + s[1:] }), bad, true},
		"tokens with a newline":     {submitFrame(func(s string) string { return `\n` + s[1:] }), bad, true},
		"tokens with a space":       {submitFrame(func(s string) string { return " " + s[1:] }), bad, true},
		"token twice":               {submitFrame(func(string) string { return tokenSet(func(b []byte) { b[16] = 0 }) }), bad, true},
		"last token twice":          {submitFrame(func(string) string { return tokenSet(func(b []byte) { b[63*16] = 62 }) }), bad, true},
		"all tokens zero":           {submitFrame(func(string) string { return tokenSet(func(b []byte) { clear(b) }) }), bad, true},
		"move":                      {`{"v":2,"type":"move","id":"5","room":"` + room + `","code":"` + key + `"}`, ok, false},
		"move code short":           {`{"v":2,"type":"move","id":"5","room":"` + room + `","code":"abc"}`, bad, true},
		"move code spare bits":      {`{"v":2,"type":"move","id":"5","room":"` + room + `","code":"` + key[:42] + `B"}`, bad, true},
		"move nonce short":          {`{"v":2,"type":"move","id":"5","room":"` + room + `","code":"` + key + `","nonce":"x"}`, bad, true},
		"move upper-case room":      {`{"v":2,"type":"move","id":"5","room":"` + strings.ToUpper(room) + `","code":"` + key + `"}`, bad, true},
		"move.create with a field":  {`{"v":2,"type":"move.create","id":"5","code":"` + key + `"}`, bad, true},
		"invite.cancel with a room": {`{"v":2,"type":"invite.cancel","id":"5","room":"` + room + `"}`, bad, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			m, err := protocol.DecodeRequest([]byte(tc.frame))
			if tc.code == ok {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if m == nil {
					t.Fatal("accepted without a message")
				}
				return
			}
			var de *protocol.DecodeError
			if !errors.As(err, &de) || de.Code != tc.code {
				t.Fatalf("want %s, got %v", tc.code, err)
			}
			if want := map[bool]string{true: "5"}[tc.withID]; de.ID != want {
				t.Errorf("id %q in the error, want %q", de.ID, want)
			}
			if de.Message == "" {
				t.Error("no message")
			}
		})
	}
}

// TestDecodeRequiredFields: a field is required unless its json tag says
// omitempty, at every depth.
func TestDecodeRequiredFields(t *testing.T) {
	key := "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	room := "6f1c2f55-6f5a-4c5e-9a55-3b1f0e6f9d10"
	frames := map[string][]string{ // fields; an optional one starts with '?'
		protocol.TypeCreate:       {`?"id":"5"`, `"joinKeyHash":"` + key + `"`},
		protocol.TypeJoin:         {`?"id":"5"`, `"room":"` + room + `"`, `"joinKey":"` + key + `"`, `?"nonce":"` + key + `"`},
		protocol.TypeResume:       {`?"id":"5"`, `"room":"` + room + `"`, `"device":"` + key + `"`, `?"epoch":"e"`, `"offset":0`},
		protocol.TypeRoundClose:   {`?"id":"5"`, `"round":"` + room + `"`},
		protocol.TypeAnnounce:     {`?"id":"5"`, `"blob":"AAAA"`},
		protocol.TypeSettings:     {`?"id":"5"`, `"blob":"AAAA"`},
		protocol.TypeDebrief:      {`?"id":"5"`, `"round":"` + room + `"`, `"blob":"AAAA"`},
		protocol.TypePing:         {`?"id":"5"`},
		protocol.TypeSeen:         {`?"id":"5"`, `"offset":0`},
		protocol.TypeMove:         {`?"id":"5"`, `"room":"` + room + `"`, `"code":"` + key + `"`, `?"nonce":"` + key + `"`},
		protocol.TypeMoveCreate:   {`?"id":"5"`},
		protocol.TypeMoveCancel:   {`?"id":"5"`},
		protocol.TypeInviteCancel: {`?"id":"5"`},

		protocol.TypeReplaceCreate: {`?"id":"5"`, `"joinKeyHash":"` + key + `"`},
		protocol.TypeReplaceCancel: {`?"id":"5"`},
		protocol.TypeReplace:       {`?"id":"5"`, `"room":"` + room + `"`, `"code":"` + key + `"`, `"joinKey":"` + key + `"`, `"nonce":"` + key + `"`},
	}
	for typ, fields := range frames {
		frame := func(skip int) string {
			parts := []string{`"v":2`, `"type":"` + typ + `"`}
			for i, f := range fields {
				if i != skip {
					parts = append(parts, strings.TrimPrefix(f, "?"))
				}
			}
			return "{" + strings.Join(parts, ",") + "}"
		}
		if _, err := protocol.DecodeRequest([]byte(frame(-1))); err != nil {
			t.Errorf("%s: whole frame refused: %v", typ, err)
		}
		for i, f := range fields {
			_, err := protocol.DecodeRequest([]byte(frame(i)))
			if optional := f[0] == '?'; optional != (err == nil) {
				t.Errorf("%s without %s: optional %v, got %v", typ, f, optional, err)
			}
		}
	}
	if _, err := protocol.DecodeRequest([]byte(submitFrame(nil, "v", "type", "id", "round"))); err == nil {
		t.Error("submit without tokens accepted")
	}
}

// TestDecodeFillsFields: what is accepted arrives whole, escapes resolved.
func TestDecodeFillsFields(t *testing.T) {
	m, err := protocol.DecodeRequest([]byte(submitFrame(func(s string) string {
		return `\u0041` + s[1:]
	}, "tokens", "round", "id", "type", "v")))
	if err != nil {
		t.Fatal(err)
	}
	s := m.(*protocol.Submit)
	if s.V != 2 || s.Type != protocol.TypeSubmit || s.ID != "5" || s.Round != "6f1c2f55-6f5a-4c5e-9a55-3b1f0e6f9d10" || s.Tokens != tokenSet(nil) {
		t.Fatalf("%+v", s)
	}
	m, err = protocol.DecodeRequest([]byte(`{"v":2,"type":"resume","id":"\u00e9","room":"6f1c2f55-6f5a-4c5e-9a55-3b1f0e6f9d10","device":"` + tokenN(1) + `","epoch":"a\"b","offset":18446744073709551615}`))
	if err != nil {
		t.Fatal(err)
	}
	if r := m.(*protocol.Resume); r.ID != "é" || r.Epoch != `a"b` || r.Offset != 1<<64-1 || r.Device != tokenN(1) {
		t.Fatalf("%+v", r)
	}
}

// TestIsKeyAndIsRoomID compare the allocation-free checks with the plain
// library calls they stand for.
func TestIsKeyAndIsRoomID(t *testing.T) {
	isKey := func(s string) bool {
		b, err := base64.RawURLEncoding.Strict().DecodeString(s)
		return len(s) == protocol.KeyLen && err == nil && len(b) == 32
	}
	isRoomID := func(s string) bool {
		u, err := uuid.Parse(s)
		return len(s) == 36 && err == nil && u.String() == s
	}
	rng := rand.New(rand.NewPCG(3, 4))
	const chars = "AEIMQUYcgkosw048Bbz9-_=+/ \n\r{}0123456789abcdefABCDEF"
	mutate := func(s string) string {
		b := []byte(s)
		for range 1 + rng.IntN(2) {
			b[rng.IntN(len(b))] = chars[rng.IntN(len(chars))]
		}
		return string(b)
	}
	keys := []string{"", "AA", tokenN(0), tokenN(0) + "A", tokenN(0)[:42], tokenN(0)[:41] + "\nA", strings.Repeat("_", 42) + "8"}
	rooms := []string{"", "6f1c2f55-6f5a-4c5e-9a55-3b1f0e6f9d10", "6F1C2F55-6F5A-4C5E-9A55-3B1F0E6F9D10",
		"{6f1c2f55-6f5a-4c5e-9a55-3b1f0e6f9d10}", "6f1c2f556f5a4c5e9a553b1f0e6f9d10", "urn:uuid:6f1c2f55-6f5a-4c5e-9a55-3b1f0e6f9d10"}
	for range 20000 {
		keys = append(keys, mutate(tokenN(rng.IntN(64*16))))
		rooms = append(rooms, mutate(uuid.NewString()))
	}
	for _, k := range keys {
		if protocol.IsKey(k) != isKey(k) {
			t.Fatalf("IsKey(%q) = %v", k, protocol.IsKey(k))
		}
	}
	for _, r := range rooms {
		if protocol.IsRoomID(r) != isRoomID(r) {
			t.Fatalf("IsRoomID(%q) = %v", r, protocol.IsRoomID(r))
		}
	}
}

// tokenN returns a distinct well-formed key for each i < 64*16.
func tokenN(i int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	return strings.Repeat("A", protocol.KeyLen-2) + string(alphabet[i/16]) + string("AEIMQUYcgkosw048"[i%16])
}

// TestDecodeKeepsNoStrings: json v2's default string decoding would hand out
// strings from a cache in its pooled decoders, which keeps the last keys and
// tokens reachable after the request. Decoded strings must be fresh copies.
func TestDecodeKeepsNoStrings(t *testing.T) {
	frame := []byte(`{"v":2,"type":"create","id":"5","joinKeyHash":"` + tokenN(7) + `"}`)
	var first *protocol.Create
	for range 10 {
		m, err := protocol.DecodeRequest(frame)
		if err != nil {
			t.Fatal(err)
		}
		c := m.(*protocol.Create)
		if first == nil {
			first = c
			continue
		}
		if unsafe.StringData(c.JoinKeyHash) == unsafe.StringData(first.JoinKeyHash) {
			t.Fatal("two decodes share one string: the decoder keeps a cache of them")
		}
	}
}
