package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"time"

	"softland/server/edge"
	"softland/server/memstore"
	"softland/server/redisstore"
	"softland/server/room"
)

// serveHarness runs the server's own packages (memory or Redis store, room
// service, edge) wired as server/cmd/softland wires them with its defaults,
// plus net/http/pprof under /debug/pprof/, so the benchmark can profile the
// server while the softland binary has no profiling flag. The per-address
// caps are lifted: the benchmark's sockets all come from loopback. The web
// app is left out; it plays no part in a load test.
func serveHarness(ctx context.Context, addr, redisURL string, stdout, stderr io.Writer) error {
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var (
		store room.Store
		feed  edge.Feed
		seats *redisstore.Leases
	)
	storeName := "memory"
	if redisURL == "" {
		ms := memstore.New(memstore.Options{IdleTTL: room.DefaultIdleTTL})
		defer ms.Close()
		store, feed = ms, ms
	} else {
		client, err := redisstore.NewClient(redisstore.Config{URL: redisURL})
		if err != nil {
			return err
		}
		defer client.Close()
		rs := redisstore.New(client, redisstore.Options{IdleTTL: room.DefaultIdleTTL, Logger: logger})
		defer rs.Close()
		store, feed, seats, storeName = rs.Store, rs.Feed, rs.Leases, "redis"
	}
	opts := room.Options{Store: store}
	if seats != nil {
		opts.Seats = seats
	}
	rooms := room.New(opts)
	if seats != nil {
		seats.OnOrphaned(rooms.Orphaned)
		seats.OnRevived(rooms.Revived)
	}
	srv := edge.New(edge.Config{
		Rooms:        rooms,
		Feed:         feed,
		Logger:       logger,
		SocketsPerIP: 1 << 30,
		AdmitsPerIP:  1 << 30,
	})
	mux := http.NewServeMux()
	mux.Handle("/", srv)
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)

	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(stdout, "softland: listening on http://%s (%s store, profiling harness)\n", ln.Addr(), storeName)
	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	drain, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	hsErr := hs.Shutdown(drain)
	wsErr := srv.Shutdown(drain)
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return errors.Join(hsErr, wsErr)
}
