package protocol

import (
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
)

// Token is one match token or decoy: a real token is the first TokenBytes
// bytes of HMAC-SHA-256(match key, round + "/" + suggestion id), a decoy
// TokenBytes random bytes. Without the match key the two look alike.
type Token [TokenBytes]byte

// TokenSet is a submission decoded: the token of rank i at index i.
type TokenSet [TokenSetSize]Token

// tokenEncoding is the one encoding of token lists on the wire. Strict
// refuses non-zero spare bits, so every list has exactly one spelling; it
// still skips '\r' and '\n', which the length checks catch.
var tokenEncoding = base64.RawURLEncoding.Strict()

// EncodeTokens returns the wire form of ts (a submission's "tokens", a
// reveal): unpadded base64url of their bytes, one after the other.
func EncodeTokens(ts []Token) string {
	b := make([]byte, 0, len(ts)*TokenBytes)
	for i := range ts {
		b = append(b, ts[i][:]...)
	}
	return tokenEncoding.EncodeToString(b)
}

// DecodeTokens reads a token list in wire form (a reveal, "" for none). It
// refuses anything but unpadded base64url of a whole number of tokens.
func DecodeTokens(s string) ([]Token, error) {
	b, err := tokenEncoding.DecodeString(s)
	if err != nil || len(b)%TokenBytes != 0 || len(s) != tokenEncoding.EncodedLen(len(b)) {
		return nil, errors.New("protocol: a token list must be unpadded base64url of 16-byte tokens")
	}
	ts := make([]Token, len(b)/TokenBytes)
	for i := range ts {
		ts[i] = Token(b[i*TokenBytes:])
	}
	return ts, nil
}

// DecodeTokenSet reads a submission's "tokens" into set and reports what
// is wrong with it for people, or "": it must be exactly TokenSetLen
// characters of unpadded base64url holding TokenSetSize distinct tokens.
//
// Every submit passes here, so it works on arrays on the stack: the text is
// copied into one (a string's conversion to a slice this long would be a
// heap allocation), decoded into set, and repeats are found through a small
// open-addressed table of positions.
func DecodeTokenSet(s string, set *TokenSet) string {
	if len(s) != TokenSetLen {
		return fmt.Sprintf("tokens must be %d characters: %d tokens of %d bytes in unpadded base64url (pad with random decoys)", TokenSetLen, TokenSetSize, TokenBytes)
	}
	var src [TokenSetLen]byte
	var dst [TokenSetSize * TokenBytes]byte
	copy(src[:], s)
	if n, err := tokenEncoding.Decode(dst[:], src[:]); err != nil || n != len(dst) {
		return "tokens must be unpadded base64url"
	}
	for i := range set {
		set[i] = Token(dst[i*TokenBytes:])
	}
	if _, ok := set.Index(); !ok {
		return "tokens must be distinct"
	}
	return ""
}

// TokenIndex finds the tokens of a TokenSet by value without allocating:
// an open-addressed table of positions. Tokens are HMAC outputs or random,
// so their first 8 bytes are a good hash; a phone that crafts colliding
// ones only slows its own submit, to at most 64·63/2 comparisons.
type TokenIndex struct {
	set   *TokenSet
	table [2 * TokenSetSize]uint8 // position + 1; 0 is empty; at most half full
}

// Index returns an index of set, and whether its tokens are distinct (a
// repeated token is indexed at its first position only).
func (set *TokenSet) Index() (TokenIndex, bool) {
	x := TokenIndex{set: set}
	distinct := true
	for i := range set {
		if x.Rank(&set[i]) >= 0 {
			distinct = false
			continue
		}
		h := x.slot(&set[i])
		for x.table[h] != 0 {
			h = (h + 1) % uint64(len(x.table))
		}
		x.table[h] = uint8(i + 1)
	}
	return x, distinct
}

func (x *TokenIndex) slot(t *Token) uint64 {
	return binary.LittleEndian.Uint64(t[:8]) % uint64(len(x.table))
}

// Rank returns the position of t in the indexed set, or -1.
func (x *TokenIndex) Rank(t *Token) int {
	for h := x.slot(t); x.table[h] != 0; h = (h + 1) % uint64(len(x.table)) {
		if i := int(x.table[h]) - 1; x.set[i] == *t {
			return i
		}
	}
	return -1
}
