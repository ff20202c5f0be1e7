package keys

import (
	"crypto/hkdf"
	"crypto/sha256"
	"fmt"
)

// ReplaceLink is a re-pair link (protocol §3.7): the remaining phone's offer
// to a new phone to take the partner's lost seat under a new room secret:
//
//	<origin>/#r=<roomID>.<base64url(code)>.<base64url(newSecret)>
//
// The code is the one-time re-pair code from the server
// (protocol.ReplaceCreate); the secret is the NEW room secret, which the
// remaining phone minted and which, like the code, stays in the fragment.
type ReplaceLink struct {
	Origin string // scheme and host; no trailing slash
	Room   string // lowercase UUID
	Code   string // the re-pair code, 32 bytes in unpadded base64url
	Secret []byte // the new secret, SecretSize bytes
}

// replacePrefix starts a re-pair link's fragment. A room id never starts
// so, so an older phone refuses the link instead of joining with it.
const replacePrefix = "r="

// String returns the link in its one canonical form.
func (l ReplaceLink) String() string {
	return l.Origin + "/#" + replacePrefix + l.Room + "." + l.Code + "." + Encoding.EncodeToString(l.Secret)
}

// ParseReplaceLink parses a re-pair link with the rules of ParseLink.
// Errors never quote the code or the secret.
func ParseReplaceLink(s string) (ReplaceLink, error) {
	l, err := parseCodeLink(s, "re-pair link", replacePrefix)
	return ReplaceLink(l), err
}

// InfoVerifyPrefix starts the HKDF info of the verification words.
const InfoVerifyPrefix = "softland/v1/verify/"

// VerifyWordCount is how many words VerifyWords returns.
const VerifyWordCount = 4

// VerifyWords returns the words both phones show after a replacement, to
// be compared aloud before the new phone is trusted:
//
//	b = HKDF-SHA-256(IKM = newSecret, salt = empty,
//	                 info = UTF-8("softland/v1/verify/" + room + "/" + code + "/" + nonce), L = 4)
//	words = VerifyWordList[b[0]], …, VerifyWordList[b[3]]
//
// code is the re-pair code and nonce the new phone's nonce from its replace
// (the remaining phone reads it from the replaced event), both as the
// base64url text sent on the wire. A phone that took the seat with an
// intercepted link used its own nonce, so the words on the two phones
// differ; the server never holds the secret, so it cannot make them agree.
func VerifyWords(secret []byte, room, code, nonce string) ([]string, error) {
	if len(secret) != SecretSize {
		return nil, fmt.Errorf("keys: verify: the secret has %d bytes, want %d", len(secret), SecretSize)
	}
	b, err := hkdf.Key(sha256.New, secret, nil, InfoVerifyPrefix+room+"/"+code+"/"+nonce, VerifyWordCount)
	if err != nil {
		return nil, fmt.Errorf("keys: verify: %w", err)
	}
	words := make([]string, len(b))
	for i, x := range b {
		words[i] = VerifyWordList[x]
	}
	return words, nil
}

// VerifyWordList is the fixed list of 256 verification words: short, plain
// English nouns, distinct in sound, sorted. It is part of the protocol (the
// web app holds the same list); changing it changes every phone's words.
var VerifyWordList = [256]string{
	"acorn", "album", "amber", "anchor", "anvil", "apple", "apron", "arrow",
	"atlas", "badge", "bagel", "bamboo", "banjo", "barrel", "basket", "bay",
	"beacon", "beetle", "bell", "berry", "bison", "blanket", "bloom", "boat",
	"bonnet", "bottle", "bramble", "bread", "brick", "bridge", "brook", "broom",
	"bucket", "bugle", "butter", "button", "cabin", "cactus", "camel", "candle",
	"canoe", "canvas", "canyon", "carpet", "carrot", "castle", "cedar", "cello",
	"chalk", "cherry", "chess", "cider", "circus", "clock", "cloud", "clover",
	"cobalt", "cocoa", "comet", "compass", "copper", "coral", "cotton", "cradle",
	"crane", "crayon", "cricket", "crown", "cup", "daisy", "delta", "desert",
	"diamond", "dolphin", "donkey", "dragon", "drum", "dune", "eagle", "easel",
	"echo", "elbow", "ember", "emerald", "engine", "falcon", "feather", "fern",
	"fiddle", "fig", "flag", "flute", "forest", "fossil", "fountain", "fox",
	"garden", "garlic", "geyser", "ginger", "glacier", "globe", "goat", "gravel",
	"guitar", "hammer", "harbor", "harp", "hazel", "hedge", "helmet", "heron",
	"hill", "honey", "horizon", "igloo", "iris", "island", "ivory", "jacket",
	"jasmine", "jelly", "jigsaw", "jungle", "kayak", "kettle", "kite", "kiwi",
	"koala", "ladder", "lagoon", "lantern", "lemon", "lily", "lion", "lizard",
	"lobster", "locket", "lotus", "magnet", "mango", "maple", "marble", "meadow",
	"melon", "mirror", "mitten", "moon", "mosaic", "moss", "mountain", "muffin",
	"nectar", "needle", "nest", "nutmeg", "oak", "oasis", "ocean", "olive",
	"onion", "orange", "orbit", "otter", "owl", "oyster", "paddle", "palm",
	"panda", "paper", "parrot", "peach", "pebble", "pencil", "pepper", "piano",
	"pillow", "pine", "planet", "plum", "pocket", "pony", "poppy", "prism",
	"pumpkin", "puzzle", "quail", "quartz", "quilt", "rabbit", "radish", "rain",
	"raven", "reef", "ribbon", "river", "robin", "rocket", "rose", "ruby",
	"saddle", "salmon", "sandal", "satin", "scarf", "seal", "shell", "silver",
	"sled", "slipper", "snail", "sparrow", "spider", "spoon", "spruce", "squash",
	"star", "stone", "straw", "sugar", "summit", "swan", "tango", "teapot",
	"tiger", "timber", "tomato", "topaz", "torch", "tortoise", "tower", "tractor",
	"trumpet", "tulip", "tunnel", "turnip", "umbrella", "valley", "velvet", "violin",
	"volcano", "wagon", "walnut", "walrus", "whale", "wheat", "whistle", "willow",
	"window", "winter", "wolf", "yarn", "yogurt", "zebra", "zigzag", "zinnia",
}
