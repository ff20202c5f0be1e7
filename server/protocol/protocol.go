// Package protocol is the one definition of Softland's wire format: every
// message a phone and the server exchange over the /ws WebSocket, the error and
// close codes, and the limits both sides enforce. The server, the Go client and
// the tests all import it, so the two ends cannot drift; docs/protocol.md is the
// same contract written out for people who write other clients.
//
// Every frame is one UTF-8 JSON object in a text message. Every object carries
// "v" (the protocol version, Version) and "type". Requests may carry an "id"
// chosen by the phone; the direct answer to a request (Ack or Error) echoes it.
package protocol

import "encoding/json"

// Version is the protocol version. A frame with any other "v" is refused with
// CodeVersion, so an old phone learns it must reload instead of misbehaving.
// Version 2 made a submission one base64url string of 16-byte tokens in rank
// order (version 1 sent 64 {t, r} objects of 32-byte tokens).
const Version = 2

// PushVersion is the version of a PushMessage, apart from Version: a push
// is read by the service worker, which may be older than the page, and its
// format did not change with protocol version 2.
const PushVersion = 1

// Limits. They are part of the contract: a phone that respects them is never
// refused for size.
const (
	// MaxFrameBytes is the largest frame the server reads. A larger one closes
	// the socket with CloseTooBig (1009).
	MaxFrameBytes = 32 << 10
	// TokenSetSize is the exact number of tokens in every submission: real
	// tokens padded with random decoys, so the server cannot tell how many
	// suggestions a phone really accepts.
	TokenSetSize = 64
	// TokenBytes is the size of one token (Token).
	TokenBytes = 16
	// TokenSetLen is the length of a submission's "tokens": TokenSetSize
	// tokens of TokenBytes in unpadded base64url (1024 bytes, 1366 characters).
	TokenSetLen = (TokenSetSize*TokenBytes*8 + 5) / 6
	// KeyLen is the length of a key (join key, its hash, device token, move
	// and re-pair codes, nonces): 32 bytes in unpadded base64url.
	KeyLen = 43
	// MaxServerFrameBytes is the largest frame the server sends (a welcome
	// with a long replay is the largest); clients set their read limit to it.
	// A replay that would not fit is sent as a snapshot instead.
	MaxServerFrameBytes = 1 << 20
	// MaxBlobLen bounds a sealed blob (base64url text), about 6 KiB of bytes.
	MaxBlobLen = 8192
	// MaxIDLen bounds a request id chosen by a phone.
	MaxIDLen = 64
	// MaxEndpointLen bounds a Web Push endpoint URL. Real ones are a few
	// hundred characters (Windows' are the longest).
	MaxEndpointLen = 1024
)

// Client-to-server message types.
const (
	TypeCreate     = "create"       // open a new room; Create
	TypeJoin       = "join"         // take the second seat; Join
	TypeResume     = "resume"       // come back to a seat; Resume
	TypeRoundOpen  = "round.open"   // start a check-in round; RoundOpen
	TypeSubmit     = "round.submit" // send (or replace) this seat's tokens; Submit
	TypeRoundClose = "round.close"  // end the round; RoundClose
	TypePause      = "pause"        // pause at once; Pause
	TypeUnpause    = "unpause"      // lift this seat's pause; Unpause
	TypeAnnounce   = "announce"     // relay a sealed announcement (space); Announce
	TypeSettings   = "settings"     // replace the sealed shared settings; Settings
	TypeDebrief    = "debrief"      // hand in this seat's sealed debrief; Debrief
	TypeErase      = "erase"        // erase the room for both; Erase
	TypePing       = "ping"         // application-level liveness; Ping
	TypeBye        = "bye"          // leaving on purpose: partner sees "away"; Bye
	TypeSeen       = "seen"         // this phone applied every event up to an offset; Seen

	TypePushSubscribe   = "push.subscribe"   // register or replace this seat's Web Push subscription; PushSubscribe
	TypePushUnsubscribe = "push.unsubscribe" // forget this seat's Web Push subscription; PushUnsubscribe

	TypeInviteCancel = "invite.cancel" // revoke the unused pairing link; InviteCancel
	TypeMoveCreate   = "move.create"   // get a one-time code to move this seat to another device; MoveCreate
	TypeMoveCancel   = "move.cancel"   // revoke this seat's pending move code; MoveCancel
	TypeMove         = "move"          // take a seat on a new device with a move code; Move

	TypeReplaceCreate = "replace.create" // get a one-time code for a new device to take the partner's seat under a new room secret; ReplaceCreate
	TypeReplaceCancel = "replace.cancel" // revoke this seat's pending re-pair code; ReplaceCancel
	TypeReplace       = "replace"        // take the partner's missing seat on a new device with a re-pair code; Replace
)

// ReplaceCreate asks for a one-time re-pair code for the OTHER seat, whose
// phone was lost: only a seat's own device token (the socket's seat) can
// authorise replacing its partner, so nobody can replace a seat alone. The
// phone has minted a new room secret; JoinKeyHash is SHA-256 of the join key
// derived from it, as in Create. The Ack carries the code (Ack.Replace) and
// its expiry; the server keeps only the code's SHA-256 and JoinKeyHash, one
// pending re-pair per room, a new one replacing the old.
type ReplaceCreate struct {
	Header
	JoinKeyHash string `json:"joinKeyHash"` // base64url SHA-256 of the new secret's join key
}

// ReplaceCancel revokes the pending re-pair code this seat made, if any.
type ReplaceCancel struct {
	Header
}

// Replace takes the other seat on a new device with the code from the
// re-pair link. It is the first message of a socket, like Join, Resume and
// Move. JoinKey, derived from the new secret in the link, proves the device
// holds that secret. The seat gets a new device token; its old one is
// revoked (CodeDeviceRevoked) and the old socket closed with CloseMoved; the
// room's key epoch goes up by one (Welcome.KeyEpoch) and everything sealed
// under the old secret is dropped. Nonce is required: it feeds the
// verification words both phones show, and, as in Join, the same code,
// join key and nonce repeat a replacement whose welcome was lost, until the
// seat first acts or the code's expiry passes.
type Replace struct {
	Header
	Room    string `json:"room"`
	Code    string `json:"code"`    // base64url, 43 chars
	JoinKey string `json:"joinKey"` // base64url, 43 chars: from the new secret
	Nonce   string `json:"nonce"`   // base64url, 43 chars
}

// InviteCancel revokes the pairing link while seat 2 is free: the server
// forgets the join key's hash, and a later join gets CodeInviteRevoked.
type InviteCancel struct {
	Header
}

// MoveCreate asks for a one-time move code for this seat. The Ack carries
// the code (Ack.Move) and its expiry; the server keeps only its SHA-256, one
// pending code per seat, a new one replacing the old.
type MoveCreate struct {
	Header
}

// MoveCancel revokes this seat's pending move code, if any.
type MoveCancel struct {
	Header
}

// Move takes a seat on a new device with the code another device of the
// seat got from MoveCreate. It is the first message of a socket, like Join
// and Resume. The seat gets a new device token, the old one is revoked
// (CodeDeviceRevoked) and the old socket is closed with CloseMoved.
//
// Nonce plays the part it plays in Join: the same code with the same nonce
// repeats a move whose welcome was lost, until the seat first acts or the
// code's expiry passes.
type Move struct {
	Header
	Room  string `json:"room"`
	Code  string `json:"code"`            // base64url, 43 chars
	Nonce string `json:"nonce,omitempty"` // base64url, 43 chars; optional
}

// Server-to-client message types that are not events.
const (
	TypeWelcome = "welcome" // answer to create, join and resume; Welcome
	TypeAck     = "ack"     // a request succeeded; Ack
	TypeError   = "error"   // a request failed; Error
	TypePong    = "pong"    // answer to ping; Pong
)

// Event kinds. An event is a server-to-client frame of type TypeEvent with an
// offset; it is kept in the room's log and replayed on resume.
const (
	TypeEvent = "event"

	KindPaired           = "paired"            // the second seat joined
	KindPresence         = "presence"          // a seat's connection changed
	KindRoundOpened      = "round.opened"      // a check-in round began
	KindRoundSubmitted   = "round.submitted"   // a seat answered for the first time this round
	KindRoundRevealed    = "round.revealed"    // the mutual suggestions changed
	KindRoundClosed      = "round.closed"      // the round ended; its tokens are gone
	KindPaused           = "paused"            // a seat paused
	KindUnpaused         = "unpaused"          // a seat lifted its pause
	KindAnnounced        = "announced"         // a sealed announcement
	KindSettings         = "settings"          // new sealed shared settings
	KindDebriefSubmitted = "debrief.submitted" // a seat handed in its debrief
	KindDebriefReleased  = "debrief.released"  // both debriefs, to both, at once
	KindErased           = "erased"            // the room is gone
	KindDelivered        = "delivered"         // a seat's phone confirmed it has the events up to Seen
	KindMoved            = "moved"             // a seat moved to a new device; its old device token is revoked
	KindReplaced         = "replaced"          // a lost seat was taken by a new device under a new room secret (KeyEpoch)
)

// Presence states.
const (
	PresenceOnline       = "online"
	PresenceReconnecting = "reconnecting" // the socket dropped without a goodbye
	PresenceAway         = "away"         // the phone said bye or was never back
	// PresenceUnreachable: the socket is open but the phone has sent nothing
	// for the liveness window (a frozen page, a locked phone): what is sent
	// to it may sit unread.
	PresenceUnreachable = "unreachable"
)

// Round close reasons.
const (
	ReasonClosed  = "closed"  // a seat closed it
	ReasonExpired = "expired" // its window ended
	ReasonRekeyed = "rekeyed" // a replacement changed the room secret, so its tokens can no longer match
)

// Error codes: the "code" of an Error frame. They are stable strings a client
// may switch on; the message beside them is for people and may change.
const (
	CodeBadRequest       = "bad_request"  // not JSON, wrong field types, unknown or missing fields, bad sizes
	CodeUnknownType      = "unknown_type" // a "type" this version does not know
	CodeVersion          = "unsupported_version"
	CodeNotAuthenticated = "not_authenticated" // a room request before create, join or resume
	CodeAlreadyInRoom    = "already_in_room"   // create, join or resume on a socket that is already in a room
	CodeNotFound         = "not_found"         // no such room (never existed, expired or erased)
	CodeForbidden        = "forbidden"         // wrong join key or device token, or a connection replaced by a newer one
	CodeRoomFull         = "room_full"         // both seats are taken
	CodeInviteExpired    = "invite_expired"    // the pairing link is too old; create a new room
	CodeNotPaired        = "not_paired"        // the action needs both seats
	CodeNoRound          = "no_round"          // no open round
	CodeStaleRound       = "stale_round"       // the round id is not the open round
	CodeRoundOpen        = "round_open"        // a round is already open
	CodeLimit            = "limit"             // too many submissions this round
	CodeNotPaused        = "not_paused"        // this seat has no pause to lift
	CodeDebriefClosed    = "debrief_closed"    // the debrief was already released, or its window ended
	CodeRateLimited      = "rate_limited"      // too many messages; slow down
	CodeUnavailable      = "unavailable"       // the store cannot be reached; retry
	CodeInternal         = "internal"          // anything else
	CodePushDisabled     = "push_disabled"     // this server sends no Web Push
	CodePushEndpoint     = "push_endpoint"     // the subscription's endpoint is not on the server's list of push services
	CodeInviteRevoked    = "invite_revoked"    // the pairing link was revoked by its creator
	CodeMoveInvalid      = "move_invalid"      // no pending move code matches: mistyped, used, cancelled or replaced
	CodeMoveExpired      = "move_expired"      // the move code is too old
	CodeDeviceRevoked    = "device_revoked"    // the device token's seat has moved to another device
	CodeReplaceInvalid   = "replace_invalid"   // no pending re-pair code matches (used, cancelled, replaced), or the join key is not the link's
	CodeReplaceExpired   = "replace_expired"   // the re-pair code is too old
)

// Close codes beyond RFC 6455's. The standard ones Softland sends are 1000
// (normal), 1008 (policy violation: too slow, flooding, dead), 1009 (frame
// too big), 1012 (service restart: reconnect, possibly to another instance)
// and 1013 (try again later: the store could not be reached).
const (
	CloseErased      = 4000 // the room was erased; forget it
	CloseReplaced    = 4001 // the same seat connected again elsewhere
	CloseAuthFailed  = 4002 // create, join, resume, move or replace failed; the Error frame before it says why
	CloseAuthTimeout = 4008 // no create, join or resume in time
	CloseMoved       = 4009 // the seat moved to, or was replaced by, another device: forget the room here
)

// Header is the part every frame shares. The server reads it in the same
// walk as the type's fields (DecodeRequest), and again by itself only to
// refuse a frame in the documented order.
type Header struct {
	V    int    `json:"v"`
	Type string `json:"type"`
	ID   string `json:"id,omitempty"`
}

// Create opens a room. The phone made a 256-bit secret, derived its join key
// from it and sends only the join key's SHA-256, so the server can check the
// partner's key later without ever holding it.
type Create struct {
	Header
	JoinKeyHash string `json:"joinKeyHash"` // base64url(SHA-256(joinKey)), 43 chars
}

// Join takes the second seat with the join key derived from the link's secret.
//
// Nonce, 32 random bytes the joining phone makes once and keeps, lets it
// repeat a join whose welcome it never received (the network dropped in
// between): the same key with the same nonce is admitted again, with a new
// device token, until seat 2 first acts or the invite expires. Someone else
// holding the link does not know the nonce and gets room_full.
type Join struct {
	Header
	Room    string `json:"room"`
	JoinKey string `json:"joinKey"`         // base64url(joinKey), 43 chars
	Nonce   string `json:"nonce,omitempty"` // base64url, 43 chars; optional
}

// Resume brings a seat back after sleep, a network change or a restart. Epoch
// and Offset say what the phone has already seen; Offset 0 asks for a snapshot.
type Resume struct {
	Header
	Room   string `json:"room"`
	Device string `json:"device"` // the device token from Welcome
	Epoch  string `json:"epoch,omitempty"`
	Offset uint64 `json:"offset"`
}

// RoundOpen starts a check-in round. It fails with CodeRoundOpen while one is
// open and CodeNotPaired before both seats are taken.
type RoundOpen struct {
	Header
}

// Submit sends or replaces this seat's token set for a round. Tokens is
// TokenSetSize distinct tokens (Token) in unpadded base64url, TokenSetLen
// characters: the token at position i has rank i (lower is more wanted).
// Real tokens take positions 0..n-1 in order of preference and decoys the
// remaining positions in random order, so neither the count of real wishes
// nor their ranks can be read off a submission. DecodeTokenSet reads it.
type Submit struct {
	Header
	Round  string `json:"round"`
	Tokens string `json:"tokens"`
}

// RoundClose ends the open round for both seats.
type RoundClose struct {
	Header
	Round string `json:"round"`
}

// Pause is the safety signal. It is never matched or questioned.
type Pause struct {
	Header
}

// Unpause lifts this seat's own pause.
type Unpause struct {
	Header
}

// Announce relays a sealed announcement (for example "I need 20 minutes of
// space") to the partner. The server keeps the latest per seat for snapshots.
type Announce struct {
	Header
	Blob string `json:"blob"`
}

// Settings replaces the couple's sealed shared settings (pause word, signal
// words). The latest one is kept for snapshots.
type Settings struct {
	Header
	Blob string `json:"blob"`
}

// Debrief hands in this seat's sealed debrief for a round. Both debriefs are
// released together once both are in; until then neither seat sees the other's.
// A seat may replace its debrief until the release.
type Debrief struct {
	Header
	Round string `json:"round"`
	Blob  string `json:"blob"`
}

// Erase deletes the room and everything in it, for both seats, at once.
type Erase struct {
	Header
}

// Ping asks for a Pong. Browsers cannot send WebSocket pings, so this is how a
// web app notices a dead socket.
type Ping struct {
	Header
}

// Bye says the phone is leaving on purpose; the partner sees "away" rather
// than "reconnecting".
type Bye struct {
	Header
}

// Seen says "this phone has applied every event up to and including
// Offset". The server keeps the highest such offset per seat and, when it
// passes at least one event the seat had not confirmed and that is not the
// seat's own nor a receipt, logs KindDelivered, so the partner's phone
// knows what actually arrived. A phone sends it after applying events from
// its partner (never for delivered events alone, or two phones would
// confirm each other's receipts), coalesced, at most one in flight.
type Seen struct {
	Header
	Offset uint64 `json:"offset"`
}

// PushSubscribe registers this seat's Web Push subscription, or replaces the
// one the server holds, and says which kinds of push the phone wants.
// Endpoint and Keys are what PushSubscription.toJSON() gives in a browser
// (its expirationTime is not sent): Endpoint, an https URL of a push service
// on the server's allowlist (CodePushEndpoint otherwise), and the
// subscription's keys. The server keeps them with the room, for as long as
// the room, and never sends them to the partner or back to the phone.
type PushSubscribe struct {
	Header
	Endpoint string    `json:"endpoint"`
	Keys     PushKeys  `json:"keys"`
	Kinds    PushKinds `json:"kinds"`
}

// PushKeys are a push subscription's keys, in unpadded base64url: P256dh,
// the phone's uncompressed P-256 public key (65 bytes), which every push is
// encrypted to, and Auth, the 16-byte authentication secret (RFC 8291).
type PushKeys struct {
	P256dh string `json:"p256dh"`
	Auth   string `json:"auth"`
}

// PushKinds says which events wake this phone. Every field is required, so
// a phone always states its whole choice.
type PushKinds struct {
	Pause   bool `json:"pause"`   // the partner paused
	Checkin bool `json:"checkin"` // the partner opened a check-in
	Debrief bool `json:"debrief"` // both debriefs were released
	Space   bool `json:"space"`   // the partner sent a notice (announce), such as a need for space
}

// PushUnsubscribe forgets this seat's Web Push subscription. Forgetting none
// is not an error.
type PushUnsubscribe struct {
	Header
}

// Push kinds: the "kind" of a PushMessage, one per field of PushKinds.
const (
	PushPause   = "pause"
	PushCheckin = "checkin"
	PushDebrief = "debrief"
	PushSpace   = "space"
)

// PushMessage is the plaintext of every Web Push Softland sends. It says
// only which kind of event happened and the room's offset once it had, so
// that a phone woken by it knows what to show and whether it has already
// caught up; it never names a person, a need or a suggestion. It is
// encrypted to the phone (RFC 8291) and padded so that every push has the
// same size, PushBodyBytes.
type PushMessage struct {
	V      int    `json:"v"`      // PushVersion
	Kind   string `json:"kind"`   // PushPause, PushCheckin, PushDebrief or PushSpace
	Offset uint64 `json:"offset"` // the room's offset after the event
}

// PushBodyBytes is the size of every push body on the wire: the aes128gcm
// header (86 bytes), then one record holding the PushMessage, its padding
// delimiter, zero padding and the 16-byte tag.
const PushBodyBytes = 256

// PushInfo tells a phone in its welcome how to subscribe to Web Push, and
// what the server holds for its seat. It is absent when the server sends no
// Web Push.
type PushInfo struct {
	// Key is the server's VAPID public key, an uncompressed P-256 point in
	// unpadded base64url: the applicationServerKey to subscribe with.
	Key string `json:"key"`
	// Kinds is the choice of the subscription the server holds for this
	// seat; absent when it holds none (never given, forgotten, or dropped
	// because the push service said it is gone): subscribe again.
	Kinds *PushKinds `json:"kinds,omitempty"`
}

// Welcome answers create, join, resume and move. With Snapshot the phone replaces
// its state; without one it applies Replay, the events exactly after its
// offset in order — absent when it missed nothing.
type Welcome struct {
	Header
	Room     string    `json:"room"`
	Seat     int       `json:"seat"`             // 1 (created) or 2 (joined); the moved seat after a move
	Device   string    `json:"device,omitempty"` // only on create, join and move: keep it to resume
	Epoch    string    `json:"epoch"`
	Offset   uint64    `json:"offset"` // the room's latest offset at this moment
	Snapshot *Snapshot `json:"snapshot,omitempty"`
	Replay   []Event   `json:"replay,omitempty"`
	// InviteExpiresAt is when the join link stops working while seat 2 is free.
	InviteExpiresAt int64 `json:"inviteExpiresAt,omitempty"`
	// KeyEpoch counts the room secrets the room has had beyond the first:
	// each replacement adds one. Absent means 0.
	KeyEpoch uint64 `json:"keyEpoch,omitempty"`
	// Push is how to subscribe to Web Push; absent when the server sends none.
	Push *PushInfo `json:"push,omitempty"`
}

// Snapshot is the whole state a phone needs, as of Welcome.Offset.
type Snapshot struct {
	Paired   bool           `json:"paired"`
	Presence [2]string      `json:"presence"` // seat 1, seat 2
	Paused   [2]bool        `json:"paused"`   // seat 1, seat 2
	Round    *RoundState    `json:"round,omitempty"`
	Settings *Sealed        `json:"settings,omitempty"`
	Announce [2]*Sealed     `json:"announce"` // latest announcement per seat
	Debriefs []DebriefState `json:"debriefs"` // rounds whose debrief window is open
	// Seen is the offset each seat's phone last confirmed with Seen, seat 1
	// first: what a resuming phone knows its partner received.
	Seen [2]uint64 `json:"seen"`
	// KeyEpoch is the room's key epoch (Welcome.KeyEpoch); absent means 0.
	KeyEpoch uint64 `json:"keyEpoch,omitempty"`
}

// RoundState is an open round as seen in a snapshot.
type RoundState struct {
	Round     string  `json:"round"`
	By        int     `json:"by"`
	ClosesAt  int64   `json:"closesAt"` // Unix milliseconds
	Submitted [2]bool `json:"submitted"`
	Reveal    string  `json:"reveal"` // the current mutual tokens, best first, in wire form (EncodeTokens); "" for none
	Rev       int     `json:"rev"`    // how many reveals this round has had
}

// DebriefState is one round's debrief as seen in a snapshot.
type DebriefState struct {
	Round     string   `json:"round"`
	Until     int64    `json:"until"` // Unix milliseconds
	Submitted [2]bool  `json:"submitted"`
	Released  []string `json:"released,omitempty"` // seat 1's and seat 2's blobs once both are in
}

// Sealed is an opaque blob and the seat that sent it.
type Sealed struct {
	Seat int    `json:"seat"`
	Blob string `json:"blob"`
}

// Event is a logged room event. Offsets are consecutive within an epoch: a
// phone that sees a gap asks to resume. Only the fields of the event's kind are
// set.
type Event struct {
	V      int    `json:"v"`
	Type   string `json:"type"` // always TypeEvent
	Epoch  string `json:"epoch"`
	Offset uint64 `json:"offset"`
	Kind   string `json:"kind"`
	At     int64  `json:"at"` // Unix milliseconds
	// Seat is the seat the event is about (who paused, who submitted, ...).
	Seat int `json:"seat,omitempty"`
	// Presence is set on KindPresence.
	Presence string `json:"presence,omitempty"`
	// Round is set on round and debrief events.
	Round    string `json:"round,omitempty"`
	ClosesAt int64  `json:"closesAt,omitempty"` // KindRoundOpened
	// Reveal is the ordered mutual tokens (KindRoundRevealed) in wire form
	// (EncodeTokens), the same text for both seats, absent for none; Rev
	// counts reveals within the round.
	Reveal string `json:"reveal,omitempty"`
	Rev    int    `json:"rev,omitempty"`
	Reason string `json:"reason,omitempty"` // KindRoundClosed
	// Blob is a sealed payload (KindAnnounced, KindSettings).
	Blob string `json:"blob,omitempty"`
	// Blobs are both debriefs, seat 1's first (KindDebriefReleased).
	Blobs []string `json:"blobs,omitempty"`
	// Until is the end of the debrief window (KindRoundOpened, KindRoundClosed).
	Until int64 `json:"until,omitempty"`
	// Seen is the offset Seat's phone confirmed (KindDelivered): it has
	// applied every event up to and including it. ("offset" is the event's
	// own place in the log.)
	Seen uint64 `json:"seen,omitempty"`
	// KeyEpoch is the room's new key epoch, Nonce the new device's nonce
	// (for the verification words) and KeyHash the new join key's hash
	// from replace.create, so the remaining phone knows which new secret
	// was taken (KindReplaced).
	KeyEpoch uint64 `json:"keyEpoch,omitempty"`
	Nonce    string `json:"nonce,omitempty"`
	KeyHash  string `json:"keyHash,omitempty"`
}

// Ack answers a request that succeeded. It is sent only after every event
// the request caused (up to Offset) has been sent on the same socket, so a
// phone that sees the ack has already seen the effect.
type Ack struct {
	Header
	// Offset is the room's offset once the request was applied (0 for bye,
	// which changes no room).
	Offset uint64 `json:"offset,omitempty"`
	// Round is the new round's id on an ack of round.open.
	Round string `json:"round,omitempty"`
	// Move is the move code on an ack of move.create (base64url, 43
	// chars), and ExpiresAt when it stops working (Unix ms).
	Move      string `json:"move,omitempty"`
	ExpiresAt int64  `json:"expiresAt,omitempty"`
	// Replace is the re-pair code on an ack of replace.create (base64url,
	// 43 chars); ExpiresAt is when it stops working.
	Replace string `json:"replace,omitempty"`
}

// Error answers a request that failed. The socket stays open unless the code
// is an authentication failure, which is followed by CloseAuthFailed.
type Error struct {
	Header
	Code    string `json:"code"`
	Message string `json:"message"`
}

// Pong answers Ping.
type Pong struct {
	Header
}

// Marshal encodes a server or client frame. It fills in the version (and, for
// server frames, the type) so no caller can forget them.
func Marshal(v any) ([]byte, error) {
	switch m := v.(type) {
	case *Event:
		m.V, m.Type = Version, TypeEvent
	case *Welcome:
		m.V, m.Type = Version, TypeWelcome
	case *Ack:
		m.V, m.Type = Version, TypeAck
	case *Error:
		m.V, m.Type = Version, TypeError
	case *Pong:
		m.V, m.Type = Version, TypePong
	case interface{ header() *Header }:
		m.header().V = Version
	}
	return json.Marshal(v)
}

func (h *Header) header() *Header { return h }

// SetID sets the request id; clients use it to number their requests.
func (h *Header) SetID(id string) { h.ID = id }

// MessageType returns the frame's type.
func (h *Header) MessageType() string { return h.Type }

// RequestID returns the id the phone chose for a request.
func (h *Header) RequestID() string { return h.ID }
