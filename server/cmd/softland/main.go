// Command softland runs the Softland server: the web app, the WebSocket
// endpoint the phones talk to, and health checks. Every flag has a SOFTLAND_*
// environment twin; a flag given on the command line wins over the twin.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"softland/server/edge"
	"softland/server/memstore"
	"softland/server/room"
	"softland/static"
)

// Defaults for flags that are not room or edge settings.
const (
	DefaultAddr         = ":8080"
	DefaultDrainTimeout = 10 * time.Second
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "softland:", err)
		os.Exit(1)
	}
}

// config is everything run needs, from flags and their environment twins.
type config struct {
	addr          string
	redisURL      string
	origins       string
	inviteTTL     time.Duration
	roomTTL       time.Duration
	revealSize    int
	roundWindow   time.Duration
	debriefWindow time.Duration
	maxSubmits    int
	logLevel      string
	drainTimeout  time.Duration
}

func parse(args []string, getenv func(string) string, stderr io.Writer) (*config, error) {
	c := &config{}
	fs := flag.NewFlagSet("softland", flag.ContinueOnError)
	fs.SetOutput(stderr)
	envs := map[string]string{}
	str := func(p *string, name, env, def, usage string) {
		fs.StringVar(p, name, def, usage+" ("+env+")")
		envs[name] = env
	}
	dur := func(p *time.Duration, name, env string, def time.Duration, usage string) {
		fs.DurationVar(p, name, def, usage+" ("+env+")")
		envs[name] = env
	}
	num := func(p *int, name, env string, def int, usage string) {
		fs.IntVar(p, name, def, usage+" ("+env+")")
		envs[name] = env
	}
	str(&c.addr, "addr", "SOFTLAND_ADDR", DefaultAddr, "address to listen on")
	str(&c.redisURL, "redis-url", "SOFTLAND_REDIS_URL", "", "Redis URL; empty keeps rooms in memory")
	str(&c.origins, "origins", "SOFTLAND_ORIGINS", "", "comma-separated extra host patterns allowed to open /ws (the server's own host always is)")
	dur(&c.inviteTTL, "invite-ttl", "SOFTLAND_INVITE_TTL", room.DefaultInviteTTL, "how long a pairing link works")
	dur(&c.roomTTL, "room-ttl", "SOFTLAND_ROOM_TTL", room.DefaultIdleTTL, "how long an idle room is kept")
	num(&c.revealSize, "reveal-size", "SOFTLAND_REVEAL_SIZE", room.DefaultRevealSize, "at most this many mutual suggestions are revealed (K)")
	dur(&c.roundWindow, "round-window", "SOFTLAND_ROUND_WINDOW", room.DefaultRoundWindow, "how long a check-in round stays open")
	dur(&c.debriefWindow, "debrief-window", "SOFTLAND_DEBRIEF_WINDOW", room.DefaultDebriefWindow, "how long after a round opens its debriefs are accepted")
	num(&c.maxSubmits, "max-submits", "SOFTLAND_MAX_SUBMITS", room.DefaultMaxSubmits, "submissions allowed per seat per round")
	str(&c.logLevel, "log-level", "SOFTLAND_LOG_LEVEL", "info", "debug, info, warn or error")
	dur(&c.drainTimeout, "drain-timeout", "SOFTLAND_DRAIN_TIMEOUT", DefaultDrainTimeout, "how long shutdown waits for sockets to close")
	fs.VisitAll(func(f *flag.Flag) {
		if v := getenv(envs[f.Name]); v != "" {
			if err := f.Value.Set(v); err != nil {
				fmt.Fprintf(stderr, "softland: ignoring %s: %v\n", envs[f.Name], err)
			}
		}
	})
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if c.revealSize < 1 || c.maxSubmits < 1 {
		return nil, errors.New("reveal-size and max-submits must be at least 1")
	}
	return c, nil
}

// run starts the server and serves until ctx ends, then drains. It prints one
// line "softland: listening on URL" to stdout once it accepts connections, so
// tests and scripts can find a port chosen with ":0".
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	c, err := parse(args, getenv, stderr)
	if err != nil {
		return err
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(c.logLevel)); err != nil {
		return fmt.Errorf("log-level: %w", err)
	}
	logger := slog.New(slog.NewJSONHandler(stderr, &slog.HandlerOptions{Level: level}))

	if c.redisURL != "" {
		return errors.New("the Redis store is not part of this build yet; unset SOFTLAND_REDIS_URL to keep rooms in memory")
	}
	store := memstore.New(memstore.Options{IdleTTL: c.roomTTL})
	defer store.Close()

	rooms := room.New(room.Options{
		Store:         store,
		RevealSize:    c.revealSize,
		InviteTTL:     c.inviteTTL,
		RoundWindow:   c.roundWindow,
		DebriefWindow: c.debriefWindow,
		MaxSubmits:    c.maxSubmits,
	})
	var origins []string
	for _, o := range strings.Split(c.origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}
	srv := edge.New(edge.Config{Rooms: rooms, Static: static.FS, Origins: origins, Logger: logger})

	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	hs := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	fmt.Fprintf(stdout, "softland: listening on http://%s (memory store)\n", ln.Addr())
	logger.Info("listening", "addr", ln.Addr().String(), "store", "memory")

	served := make(chan error, 1)
	go func() { served <- hs.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	drain, cancel := context.WithTimeout(context.Background(), c.drainTimeout)
	defer cancel()
	hsErr := hs.Shutdown(drain)
	wsErr := srv.Shutdown(drain)
	if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return errors.Join(hsErr, wsErr)
}
