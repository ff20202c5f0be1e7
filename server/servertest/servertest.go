// Package servertest starts a whole Softland server (memory store, room
// logic, WebSocket edge, embedded app) on a loopback port for tests in any
// package, so every test talks to the real thing over real sockets.
package servertest

import (
	"context"
	"log/slog"
	"net/http/httptest"
	"testing"
	"time"

	"softland/server/edge"
	"softland/server/memstore"
	"softland/server/room"
	"softland/static"
)

// Options adjust the server under test. Zero values take the defaults.
type Options struct {
	Room room.Options // Store and Seats are filled in
	Mem  memstore.Options
	Edge edge.Config // Rooms, Static and Logger are filled in when nil, Feed with the memory store
	// Store, when set, is used instead of a new memory store; Edge.Feed
	// must be set with it.
	Store room.Store
	// Seats, when set, is the Service's seat holder, its callbacks wired to
	// the Service as the command wires them (redisstore.Leases).
	Seats Seats
}

// Seats is a seat holder that reports seats of instances that died, and of
// this one when it was taken for dead while alive.
type Seats interface {
	room.SeatHolder
	OnOrphaned(f func(ctx context.Context, m room.Member) error)
	OnRevived(f func(ctx context.Context, m room.Member) error)
}

// Server is a running test server.
type Server struct {
	*httptest.Server
	Edge  *edge.Server
	Rooms *room.Service
	Store room.Store
	Feed  edge.Feed
}

// Start runs a server until the test ends. Server logs go to t.Log.
func Start(t testing.TB, opts ...Options) *Server {
	t.Helper()
	var o Options
	if len(opts) > 0 {
		o = opts[0]
	}
	store := o.Store
	cfg := o.Edge
	if store == nil {
		ms := memstore.New(o.Mem)
		t.Cleanup(func() { ms.Close() })
		store = ms
		if cfg.Feed == nil {
			cfg.Feed = ms
		}
	}
	if cfg.Feed == nil {
		t.Fatal("servertest: Options.Store needs Options.Edge.Feed")
	}
	o.Room.Store = store
	if o.Seats != nil {
		o.Room.Seats = o.Seats
	}
	rooms := room.New(o.Room)
	if o.Seats != nil {
		o.Seats.OnOrphaned(rooms.Orphaned)
		o.Seats.OnRevived(rooms.Revived)
	}
	cfg.Rooms = rooms
	if cfg.Static == nil {
		cfg.Static = static.FS
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	srv := edge.New(cfg)
	hs := httptest.NewServer(srv)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		srv.Shutdown(ctx)
		hs.Close()
	})
	return &Server{Server: hs, Edge: srv, Rooms: rooms, Store: store, Feed: cfg.Feed}
}

// WSURL returns the server's WebSocket URL.
func (s *Server) WSURL() string { return "ws" + s.URL[len("http"):] + "/ws" }

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p[:len(p)-1]))
	return len(p), nil
}
