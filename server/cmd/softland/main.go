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

	"github.com/redis/go-redis/v9/logging"

	"softland/server/edge"
	"softland/server/memstore"
	"softland/server/redisstore"
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
	redis         redisConfig
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
	boolean := func(p *bool, name, env string, usage string) {
		fs.BoolVar(p, name, false, usage+" ("+env+")")
		envs[name] = env
	}
	str(&c.addr, "addr", "SOFTLAND_ADDR", DefaultAddr, "address to listen on")
	r := &c.redis
	str(&r.url, "redis-url", "SOFTLAND_REDIS_URL", "", "one Redis node: redis://[user:password@]host:port[/db] or rediss:// for TLS; with neither this nor -redis-addrs rooms stay in memory")
	str(&r.addrs, "redis-addrs", "SOFTLAND_REDIS_ADDRS", "", "comma-separated host:port of Redis Sentinels (with -redis-master) or Redis Cluster seed nodes (without); instead of -redis-url")
	str(&r.master, "redis-master", "SOFTLAND_REDIS_MASTER", "", "Sentinel master name; makes -redis-addrs Sentinels")
	str(&r.username, "redis-username", "SOFTLAND_REDIS_USERNAME", "", "Redis ACL user, with -redis-addrs")
	str(&r.password, "redis-password", "SOFTLAND_REDIS_PASSWORD", "", "Redis password, with -redis-addrs (prefer the environment variable)")
	str(&r.sentinelPassword, "redis-sentinel-password", "SOFTLAND_REDIS_SENTINEL_PASSWORD", "", "the Sentinels' own password, if they have one")
	boolean(&r.tls, "redis-tls", "SOFTLAND_REDIS_TLS", "use TLS to reach -redis-addrs")
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
	if err := c.redis.check(); err != nil {
		return nil, err
	}
	return c, nil
}

// redisConfig is where Redis is, from the -redis-* flags. With neither a URL
// nor addresses, rooms stay in memory.
type redisConfig struct {
	url, addrs, master string
	username, password string
	sentinelPassword   string
	tls                bool
}

func (r *redisConfig) enabled() bool { return r.url != "" || r.addrs != "" }

func (r *redisConfig) check() error {
	if !r.enabled() && (r.master != "" || r.username != "" || r.password != "" || r.sentinelPassword != "" || r.tls) {
		return errors.New("the -redis-* settings need -redis-url or -redis-addrs")
	}
	return nil
}

func (r *redisConfig) store() redisstore.Config {
	var addrs []string
	for _, a := range strings.Split(r.addrs, ",") {
		if a = strings.TrimSpace(a); a != "" {
			addrs = append(addrs, a)
		}
	}
	return redisstore.Config{
		URL:              r.url,
		Addrs:            addrs,
		MasterName:       r.master,
		Username:         r.username,
		Password:         r.password,
		SentinelPassword: r.sentinelPassword,
		TLS:              r.tls,
	}
}

// openStore returns the configured room store and a function that closes it
// (and its Redis client).
func openStore(ctx context.Context, c *config, logger *slog.Logger) (room.Store, string, func(), error) {
	if !c.redis.enabled() {
		ms := memstore.New(memstore.Options{IdleTTL: c.roomTTL})
		return ms, "memory", func() { ms.Close() }, nil
	}
	// go-redis's own log lines may name Pub/Sub channels, which carry room
	// ids; the store reports connection trouble itself, without them.
	logging.Disable()
	client, err := redisstore.NewClient(c.redis.store())
	if err != nil {
		return nil, "", nil, err
	}
	rs := redisstore.New(client, redisstore.Options{IdleTTL: c.roomTTL, Logger: logger})
	// Redis may come up after us: say so, and let /readyz hold phones off
	// until it answers.
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if err := rs.Ping(pctx); err != nil {
		logger.Warn("redis not reachable yet; /readyz reports 503 until it is", "err", err)
	}
	cancel()
	return rs, "redis", func() { rs.Close(); client.Close() }, nil
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

	store, storeName, closeStore, err := openStore(ctx, c, logger)
	if err != nil {
		return err
	}
	defer closeStore()

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
	fmt.Fprintf(stdout, "softland: listening on http://%s (%s store)\n", ln.Addr(), storeName)
	logger.Info("listening", "addr", ln.Addr().String(), "store", storeName)

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
