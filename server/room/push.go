package room

import (
	"context"

	"softland/server/protocol"
)

// Pusher is what the room logic needs of Web Push. The room keeps each
// seat's subscription with the room (Seat.Push) and tells the Pusher of
// every commit; deciding what is worth a push, whether the phone already has
// it, and sending, are the Pusher's.
//
// Only the instance whose commit produced an event hears of it, so in a
// deployment of several instances sharing a store each event is considered
// for a push exactly once.
type Pusher interface {
	// PublicKey is the VAPID public key phones subscribe with.
	PublicKey() string
	// Allowed reports whether the server will send to endpoint: whether it
	// is on the list of real push services.
	Allowed(endpoint string) bool
	// Committed is called after every commit that logged events, with the
	// room as committed. It runs on the request path: it must not block,
	// and must not keep or change st.
	Committed(st *State, evs []protocol.Event)
}

// SubscribePush stores the seat's Web Push subscription, replacing any it
// had. Nothing is logged and the partner hears nothing.
func (s *Service) SubscribePush(ctx context.Context, m Member, sub PushSub) (uint64, error) {
	switch {
	case s.opt.Push == nil:
		return 0, ErrPushDisabled
	case !s.opt.Push.Allowed(sub.Endpoint):
		return 0, ErrPushEndpoint
	}
	return s.change(ctx, m, func(t *tx) error {
		if old := t.st.Seats[m.Seat-1].Push; old != nil && *old == sub {
			return nil
		}
		t.st.Seats[m.Seat-1].Push = &sub
		t.dirty = true
		return nil
	})
}

// UnsubscribePush forgets the seat's Web Push subscription. Forgetting none
// is not an error.
func (s *Service) UnsubscribePush(ctx context.Context, m Member) (uint64, error) {
	return s.change(ctx, m, func(t *tx) error {
		if t.st.Seats[m.Seat-1].Push != nil {
			t.st.Seats[m.Seat-1].Push = nil
			t.dirty = true
		}
		return nil
	})
}

// DropPush forgets a seat's subscription because its push service said it
// is gone (404 or 410). It forgets it only while it still has that
// endpoint: the phone may have subscribed anew in the meantime. A room that
// is gone has nothing to forget.
func (s *Service) DropPush(ctx context.Context, roomID string, seat int, endpoint string) error {
	_, _, err := s.update(ctx, roomID, nil, func(t *tx) error {
		se := &t.st.Seats[seat-1]
		if se.Push != nil && se.Push.Endpoint == endpoint {
			se.Push = nil
			t.dirty = true
		}
		return nil
	})
	if err == ErrNotFound {
		return nil
	}
	return err
}

// Load returns the room as it is now, for the Pusher's second look before it
// sends.
func (s *Service) Load(ctx context.Context, roomID string) (*State, error) {
	return s.store.Load(ctx, roomID)
}

// pushInfo is what a seat's welcome says about Web Push.
func (s *Service) pushInfo(st *State, seat int) *protocol.PushInfo {
	if s.opt.Push == nil {
		return nil
	}
	p := &protocol.PushInfo{Key: s.opt.Push.PublicKey()}
	if sub := st.Seats[seat-1].Push; sub != nil {
		k := sub.Kinds
		p.Kinds = &k
	}
	return p
}
