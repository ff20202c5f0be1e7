// Package memstore keeps rooms in this process's memory. It is the default
// store: nothing to install, and fast. Its limit is the process: rooms do not
// survive a restart and two instances cannot share them. When Softland runs on
// more than one instance, or must keep rooms across restarts, use the Redis
// store instead.
package memstore

import (
	"context"
	"sync"
	"time"

	"softland/server/protocol"
	"softland/server/room"
)

// Defaults for Options.
const (
	DefaultLogSize = 256
	DefaultIdleTTL = room.DefaultIdleTTL
	sweepEvery     = time.Minute
)

// Options configure a Store. Zero values take the defaults.
type Options struct {
	// LogSize is how many recent events each room keeps for resume. A phone
	// further behind gets a snapshot.
	LogSize int
	// IdleTTL is how long a room lives after its last change.
	IdleTTL time.Duration
	// Now is the clock (tests replace it).
	Now func() time.Time
}

// Store is the in-memory room store.
type Store struct {
	opt Options

	mu    sync.Mutex
	rooms map[string]*entry

	subMu sync.Mutex
	subs  map[string]map[uint64]func(protocol.Event)
	next  uint64

	stop chan struct{}
	done chan struct{}
}

var _ room.Store = (*Store)(nil)

type entry struct {
	mu      sync.Mutex
	st      *room.State
	log     eventLog // the last LogSize events, oldest first
	expires time.Time
	gone    bool
}

// New returns an empty Store and starts its expiry sweeper; Close stops it.
func New(opt Options) *Store {
	if opt.LogSize <= 0 {
		opt.LogSize = DefaultLogSize
	}
	if opt.IdleTTL <= 0 {
		opt.IdleTTL = DefaultIdleTTL
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	s := &Store{
		opt:   opt,
		rooms: make(map[string]*entry),
		subs:  make(map[string]map[uint64]func(protocol.Event)),
		stop:  make(chan struct{}),
		done:  make(chan struct{}),
	}
	go s.sweep()
	return s
}

// Close stops the sweeper. The store must not be used afterwards.
func (s *Store) Close() error {
	close(s.stop)
	<-s.done
	return nil
}

func (s *Store) sweep() {
	defer close(s.done)
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
			now := s.opt.Now()
			s.mu.Lock()
			for id, e := range s.rooms {
				e.mu.Lock()
				if now.After(e.expires) {
					e.gone = true
					delete(s.rooms, id)
				}
				e.mu.Unlock()
			}
			s.mu.Unlock()
		}
	}
}

// Create implements room.Store.
func (s *Store) Create(_ context.Context, st *room.State) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.rooms[st.ID]; ok {
		return &room.Error{Code: protocol.CodeInternal, Msg: "room id collision"}
	}
	s.rooms[st.ID] = &entry{st: st.Clone(), expires: s.opt.Now().Add(s.opt.IdleTTL)}
	return nil
}

// lock returns the room's entry, locked, or ErrNotFound.
func (s *Store) lock(id string) (*entry, error) {
	s.mu.Lock()
	e, ok := s.rooms[id]
	s.mu.Unlock()
	if !ok {
		return nil, room.ErrNotFound
	}
	e.mu.Lock()
	if e.gone || s.opt.Now().After(e.expires) {
		e.mu.Unlock()
		s.Delete(context.Background(), id)
		return nil, room.ErrNotFound
	}
	return e, nil
}

// Load implements room.Store.
func (s *Store) Load(_ context.Context, id string) (*room.State, error) {
	e, err := s.lock(id)
	if err != nil {
		return nil, err
	}
	defer e.mu.Unlock()
	return e.st.Clone(), nil
}

// Update implements room.Store. The room's lock is held while fn runs and
// while subscribers are called, so events reach them in offset order.
func (s *Store) Update(_ context.Context, id string, fn func(*room.State) ([]protocol.Event, error)) (*room.State, []protocol.Event, error) {
	e, err := s.lock(id)
	if err != nil {
		return nil, nil, err
	}
	defer e.mu.Unlock()
	next := e.st.Clone()
	evs, err := fn(next)
	if err == room.ErrUnchanged {
		return e.st, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	next.Version++
	e.st = next
	e.expires = s.opt.Now().Add(s.opt.IdleTTL)
	for _, ev := range evs {
		e.log.add(room.ForLog(ev), s.opt.LogSize)
	}
	s.publish(id, evs)
	// Shared, not copied: a stored state is never changed again (the next
	// Update changes a clone), and callers only read it.
	return next, evs, nil
}

func (s *Store) publish(id string, evs []protocol.Event) {
	if len(evs) == 0 {
		return
	}
	s.subMu.Lock()
	defer s.subMu.Unlock()
	for _, deliver := range s.subs[id] {
		for _, ev := range evs {
			deliver(ev)
		}
	}
}

// Since implements room.Store.
func (s *Store) Since(_ context.Context, id, epoch string, after uint64) ([]protocol.Event, bool, error) {
	e, err := s.lock(id)
	if err != nil {
		return nil, false, err
	}
	defer e.mu.Unlock()
	if epoch != e.st.Epoch || after > e.st.Offset {
		return nil, false, nil
	}
	if after == e.st.Offset {
		return nil, true, nil
	}
	oldest, ok := e.log.first()
	if !ok || oldest.Offset > after+1 {
		return nil, false, nil
	}
	return e.log.from(int(after + 1 - oldest.Offset)), true, nil
}

// Delete implements room.Store.
func (s *Store) Delete(_ context.Context, id string) error {
	s.mu.Lock()
	e, ok := s.rooms[id]
	delete(s.rooms, id)
	s.mu.Unlock()
	if ok {
		e.mu.Lock()
		e.gone = true
		e.st, e.log = nil, eventLog{}
		e.mu.Unlock()
	}
	return nil
}

// Subscribe implements edge.Feed: the memory store is its own feed. It
// works for a room that does not exist yet, so a subscriber can never miss a
// room's first events.
func (s *Store) Subscribe(id string, deliver func(protocol.Event)) func() {
	s.subMu.Lock()
	defer s.subMu.Unlock()
	s.next++
	key := s.next
	if s.subs[id] == nil {
		s.subs[id] = make(map[uint64]func(protocol.Event))
	}
	s.subs[id][key] = deliver
	return func() {
		s.subMu.Lock()
		defer s.subMu.Unlock()
		delete(s.subs[id], key)
		if len(s.subs[id]) == 0 {
			delete(s.subs, id)
		}
	}
}

// Ping implements room.Store and edge.Feed; memory is always there.
func (s *Store) Ping(context.Context) error { return nil }

// Len returns the number of rooms held, for metrics and tests.
func (s *Store) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.rooms)
}
