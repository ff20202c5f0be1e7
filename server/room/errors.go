package room

import (
	"errors"

	"softland/server/protocol"
)

// Error is a refusal the phone should hear about: Code is a protocol error
// code and Msg a sentence for people. Neither ever holds anything the phone
// sent, so an Error is always safe to log and to send.
type Error struct {
	Code string
	Msg  string
}

func (e *Error) Error() string { return e.Code + ": " + e.Msg }

func errorf(code, msg string) *Error { return &Error{Code: code, Msg: msg} }

// Code returns the protocol code for err: the code of an *Error, or
// CodeUnavailable for anything else (the store failed).
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return protocol.CodeUnavailable
}

// Errors the room logic returns. They are values so tests and stores can
// compare them with errors.Is.
var (
	ErrNotFound      = errorf(protocol.CodeNotFound, "there is no such room; it may have expired or been erased")
	ErrForbidden     = errorf(protocol.CodeForbidden, "this device is not a member of the room")
	ErrBadJoinKey    = errorf(protocol.CodeForbidden, "the pairing link does not match this room")
	ErrRoomFull      = errorf(protocol.CodeRoomFull, "this room already has two partners")
	ErrInviteExpired = errorf(protocol.CodeInviteExpired, "this pairing link has expired; create a new room")
	ErrNotPaired     = errorf(protocol.CodeNotPaired, "your partner has not joined yet")
	ErrNoRound       = errorf(protocol.CodeNoRound, "there is no open check-in")
	ErrStaleRound    = errorf(protocol.CodeStaleRound, "that check-in has ended")
	ErrRoundOpen     = errorf(protocol.CodeRoundOpen, "a check-in is already open")
	ErrLimit         = errorf(protocol.CodeLimit, "too many changes in this check-in")
	ErrNotPaused     = errorf(protocol.CodeNotPaused, "there is no pause of yours to lift")
	ErrDebriefClosed = errorf(protocol.CodeDebriefClosed, "this debrief is closed")
	ErrReplaced      = errorf(protocol.CodeForbidden, "this seat is connected on another socket")
	ErrPushDisabled  = errorf(protocol.CodePushDisabled, "this server does not send push notifications")
	ErrPushEndpoint  = errorf(protocol.CodePushEndpoint, "this push service is not one the server sends to")
	ErrInviteRevoked = errorf(protocol.CodeInviteRevoked, "this pairing link was cancelled; ask for a new one")
	ErrNoInvite      = errorf(protocol.CodeRoomFull, "your partner has already joined; there is no pending link")
	ErrMoveInvalid   = errorf(protocol.CodeMoveInvalid, "this move link was already used, cancelled or replaced, or is not for this room")
	ErrMoveExpired   = errorf(protocol.CodeMoveExpired, "this move link has expired; make a new one on your other device")
	ErrDeviceRevoked = errorf(protocol.CodeDeviceRevoked, "this seat has moved to another device")
	// ErrMovedAway refuses a request from a connection of a device the seat
	// has since moved away from; the edge then closes it with CloseMoved.
	ErrMovedAway = errorf(protocol.CodeDeviceRevoked, "this seat has moved to another device")
)
