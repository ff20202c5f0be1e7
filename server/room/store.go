package room

import (
	"context"
	"errors"

	"softland/server/protocol"
)

// ErrUnchanged may be returned by an update function to say there is nothing
// to save. Update then returns the current state and no events, and no error.
var ErrUnchanged = errors.New("room: unchanged")

// Store keeps rooms and their event logs. It is the seam between the room
// logic, which is the same everywhere, and where rooms live: memory for one
// process, Redis for several instances sharing rooms.
//
// All methods are safe for concurrent use. Errors are *Error with CodeNotFound
// for a missing room; any other error means the store could not be reached or
// failed, and the caller reports CodeUnavailable.
type Store interface {
	// Create saves a new room whose State has Version 0 and no events.
	Create(ctx context.Context, st *State) error

	// Load returns the room's current state.
	Load(ctx context.Context, id string) (*State, error)

	// Update applies fn to the room's current state and, if fn returns nil,
	// atomically saves the state (incrementing Version), appends the events fn
	// returned to the log and publishes them to whoever watches the room live
	// (the edge, through its own feed), then refreshes the room's expiry. The log keeps each event with its Reveal cleared (see
	// ForLog): revealed tokens live only in the state, and only while their
	// round is open; subscribers get the events whole. fn's events already carry their epoch and offsets. fn may
	// be called more than once when another writer raced it, so it must not
	// have effects outside the state it is given. If fn returns ErrUnchanged,
	// nothing is saved and Update returns the current state. Any other error
	// from fn is returned as is. The state returned is for reading only: a
	// store may share it with later callers instead of copying it.
	Update(ctx context.Context, id string, fn func(st *State) ([]protocol.Event, error)) (*State, []protocol.Event, error)

	// Since returns the logged events of epoch with offsets greater than after,
	// in order. complete is false when the log no longer holds all of them (or
	// the epoch differs): the caller must then fall back to a snapshot.
	Since(ctx context.Context, id, epoch string, after uint64) (events []protocol.Event, complete bool, err error)

	// Delete removes the room, its log and every other key of it at once.
	// Deleting a missing room is not an error.
	Delete(ctx context.Context, id string) error

	// Ping reports whether the store can serve requests.
	Ping(ctx context.Context) error
}

// SeatHolder records which seats' connections this instance holds, for a
// deployment of several instances sharing a store (Options.Seats): from the
// admission until Leave. An instance that ends normally closes its sockets,
// and Leave marks their seats; one that dies without a word (SIGKILL, a lost
// machine) cannot, so the holder notices that the instance is gone and the
// command has it call Service.Orphaned for each seat it held (and
// Service.Revived for each seat it still holds when it was taken for dead
// while only stalled). Hold and Release are best effort: a failure only
// delays a presence change, so they report nothing.
type SeatHolder interface {
	Hold(ctx context.Context, m Member)
	Release(ctx context.Context, m Member)
}

// ForLog returns ev as a store keeps it in the log: without revealed tokens.
// The room logic fills them back in from the open round when it replays
// (Service.Since), so once a round closes its tokens are gone from the
// server, log included.
func ForLog(ev protocol.Event) protocol.Event {
	ev.Reveal = ""
	return ev
}
