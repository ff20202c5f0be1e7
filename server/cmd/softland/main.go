// Command softland runs the Softland server: the web app, the WebSocket
// endpoint the phones talk to, and health checks. Every flag has a SOFTLAND_*
// environment twin; a flag given on the command line wins over the twin.
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9/logging"

	"golang.org/x/crypto/acme/autocert"

	"softland/server/edge"
	"softland/server/memstore"
	"softland/server/metrics"
	"softland/server/push"
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
	ctx, stop := signalContext()
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return
		}
		fmt.Fprintln(os.Stderr, "softland:", err)
		os.Exit(1)
	}
}

// signalContext ends on SIGINT or SIGTERM: the server then drains.
func signalContext() (context.Context, context.CancelFunc) {
	return signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
}

// config is everything run needs, from flags and their environment twins.
type config struct {
	addr          string
	redis         redisConfig
	origins       string
	inviteTTL     time.Duration
	moveTTL       time.Duration
	roomTTL       time.Duration
	revealSize    int
	roundWindow   time.Duration
	debriefWindow time.Duration
	maxSubmits    int
	logLevel      string
	drainTimeout  time.Duration
	liveness      time.Duration
	socketsPerIP  int
	admitsPerIP   int
	trustProxy    bool
	tlsMode       string
	dataDir       string
	setupAddr     string
	tlsCert       string
	tlsKey        string
	acmeDomains   string
	acmeCache     string
	acmeEmail     string
	acmeHTTPAddr  string
	pprofAddr     string
	pushContact   string
	pushServices  string
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
	dur(&r.lease, "instance-lease", "SOFTLAND_INSTANCE_LEASE", redisstore.DefaultLease, "with Redis: an instance that stops renewing its lease (killed, lost) is taken for dead after this, and its phones' seats are marked reconnecting for their partners")
	num(&r.poolSize, "redis-pool-size", "SOFTLAND_REDIS_POOL_SIZE", 0, "connections to Redis per node (0: go-redis's default, 10 per CPU); raise it when the log shows connection pool timeouts under load")
	str(&c.origins, "origins", "SOFTLAND_ORIGINS", "", "comma-separated extra host patterns allowed to open /ws (the server's own host always is)")
	dur(&c.inviteTTL, "invite-ttl", "SOFTLAND_INVITE_TTL", room.DefaultInviteTTL, "how long a pairing link works")
	dur(&c.moveTTL, "move-ttl", "SOFTLAND_MOVE_TTL", room.DefaultMoveTTL, "how long a link to move a seat to another device, or to replace a partner's lost phone, works")
	dur(&c.roomTTL, "room-ttl", "SOFTLAND_ROOM_TTL", room.DefaultIdleTTL, "how long an idle room is kept")
	num(&c.revealSize, "reveal-size", "SOFTLAND_REVEAL_SIZE", room.DefaultRevealSize, "at most this many mutual suggestions are revealed (K)")
	dur(&c.roundWindow, "round-window", "SOFTLAND_ROUND_WINDOW", room.DefaultRoundWindow, "how long a check-in round stays open")
	dur(&c.debriefWindow, "debrief-window", "SOFTLAND_DEBRIEF_WINDOW", room.DefaultDebriefWindow, "how long after a round opens its debriefs are accepted")
	num(&c.maxSubmits, "max-submits", "SOFTLAND_MAX_SUBMITS", room.DefaultMaxSubmits, "submissions allowed per seat per round")
	num(&c.socketsPerIP, "sockets-per-ip", "SOFTLAND_SOCKETS_PER_IP", edge.DefaultSocketsPerIP, "open sockets allowed per client address")
	num(&c.admitsPerIP, "admits-per-ip", "SOFTLAND_ADMITS_PER_IP", edge.DefaultAdmitsPerIP, "create, join or move attempts allowed per client address every 10s")
	boolean(&c.trustProxy, "trust-proxy", "SOFTLAND_TRUST_PROXY", "take the client address from X-Forwarded-For (only behind a proxy that sets it)")
	str(&c.tlsMode, "tls", "SOFTLAND_TLS", "", "\"local\" for home mode: HTTPS on -addr (default "+DefaultLocalAddr+") with a certificate from a certificate authority made on this computer, and a plain-HTTP setup page on -setup-addr that tells phones how to trust it")
	str(&c.dataDir, "data-dir", "SOFTLAND_DATA_DIR", "", "with -tls local: where the certificate authority is kept (default $XDG_DATA_HOME/softland, else ~/.local/share/softland)")
	str(&c.setupAddr, "setup-addr", "SOFTLAND_SETUP_ADDR", DefaultSetupAddr, "with -tls local: plain HTTP address of the setup page")
	str(&c.tlsCert, "tls-cert", "SOFTLAND_TLS_CERT", "", "serve HTTPS with this certificate file (PEM), with -tls-key")
	str(&c.tlsKey, "tls-key", "SOFTLAND_TLS_KEY", "", "the certificate's private key file (PEM)")
	str(&c.acmeDomains, "acme-domains", "SOFTLAND_ACME_DOMAINS", "", "comma-separated public names to get certificates for automatically (ACME, e.g. Let's Encrypt); serve on :443")
	str(&c.acmeCache, "acme-cache", "SOFTLAND_ACME_CACHE", "softland-certs", "directory where automatic certificates are kept")
	str(&c.acmeEmail, "acme-email", "SOFTLAND_ACME_EMAIL", "", "contact address given to the certificate authority (optional)")
	str(&c.acmeHTTPAddr, "acme-http-addr", "SOFTLAND_ACME_HTTP_ADDR", ":80", "with -acme-domains: plain HTTP address answering certificate challenges and redirecting to HTTPS")
	str(&c.pprofAddr, "pprof", "SOFTLAND_PPROF", "", "serve net/http/pprof on this loopback address (e.g. 127.0.0.1:6060); off when empty")
	str(&c.pushContact, "push-contact", "SOFTLAND_PUSH_CONTACT", "", "Web Push (VAPID) contact a push service may write to about this server: mailto:you@example.org or an https:// URL (default https:// and the first -acme-domains name, else "+push.DefaultContact+")")
	str(&c.pushServices, "push-services", "SOFTLAND_PUSH_SERVICES", strings.Join(push.DefaultServices, ","), "comma-separated hosts of the push services phones may subscribe with (*.example.com for any name below one); off sends no Web Push")
	str(&c.logLevel, "log-level", "SOFTLAND_LOG_LEVEL", "info", "debug, info, warn or error")
	dur(&c.liveness, "liveness-window", "SOFTLAND_LIVENESS_WINDOW", edge.DefaultLivenessWindow, "a phone's socket from which nothing arrived for this long shows its seat unreachable to the partner (web apps ping every 10s)")
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
	addrSet := getenv(envs["addr"]) != ""
	fs.Visit(func(f *flag.Flag) { addrSet = addrSet || f.Name == "addr" })
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %s", strings.Join(fs.Args(), " "))
	}
	if c.revealSize < 1 || c.maxSubmits < 1 {
		return nil, errors.New("reveal-size and max-submits must be at least 1")
	}
	if err := c.redis.check(); err != nil {
		return nil, err
	}
	if (c.tlsCert == "") != (c.tlsKey == "") {
		return nil, errors.New("-tls-cert and -tls-key go together")
	}
	if c.tlsCert != "" && c.acmeDomains != "" {
		return nil, errors.New("use either -tls-cert/-tls-key or -acme-domains, not both")
	}
	switch c.tlsMode {
	case "":
		if c.dataDir != "" {
			return nil, errors.New("-data-dir is for -tls local")
		}
	case tlsLocal:
		if c.tlsCert != "" || c.acmeDomains != "" {
			return nil, errors.New("-tls local makes its own certificates: leave out -tls-cert, -tls-key and -acme-domains")
		}
		if !addrSet {
			c.addr = DefaultLocalAddr
		}
	default:
		return nil, fmt.Errorf("-tls %q: the only mode is \"local\" (for your own certificate use -tls-cert and -tls-key)", c.tlsMode)
	}
	if c.liveness <= 0 {
		return nil, errors.New("liveness-window must be positive")
	}
	if c.socketsPerIP < 1 || c.admitsPerIP < 1 {
		return nil, errors.New("sockets-per-ip and admits-per-ip must be at least 1")
	}
	if c.pprofAddr != "" {
		host, _, err := net.SplitHostPort(c.pprofAddr)
		if ip := net.ParseIP(host); err != nil || (host != "localhost" && (ip == nil || !ip.IsLoopback())) {
			return nil, errors.New("-pprof must be a loopback address such as 127.0.0.1:6060: profiles reveal memory contents")
		}
	}
	if c.pushContact == "" {
		c.pushContact = push.DefaultContact
		if d, _, _ := strings.Cut(c.acmeDomains, ","); strings.TrimSpace(d) != "" {
			c.pushContact = "https://" + strings.TrimSpace(d)
		}
	}
	if err := push.CheckContact(c.pushContact); err != nil {
		return nil, err
	}
	return c, nil
}

// pushOn reports whether the server sends Web Push.
func (c *config) pushOn() bool { return strings.TrimSpace(c.pushServices) != "off" }

// newPusher makes the Web Push sender. Its VAPID key comes from
// SOFTLAND_VAPID_PRIVATE_KEY when set (never a flag: it is a secret), else
// from the store when it keeps one for all instances (Redis), else it is made
// afresh and lives as long as this process, as memory-store rooms do.
func newPusher(ctx context.Context, c *config, getenv func(string) string, store room.Store, logger *slog.Logger, m *metrics.Metrics) (*push.Sender, error) {
	var keys *push.Keys
	var ks push.KeyStore
	var err error
	if v := getenv("SOFTLAND_VAPID_PRIVATE_KEY"); v != "" {
		keys, err = push.ParseKey(v)
	} else {
		ks, _ = store.(push.KeyStore)
		kctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		keys, err = push.SharedKeys(kctx, ks)
		cancel()
	}
	if err != nil {
		return nil, err
	}
	var services []string
	for _, h := range strings.Split(c.pushServices, ",") {
		if h = strings.TrimSpace(h); h != "" {
			services = append(services, h)
		}
	}
	return push.New(push.Config{
		Keys:     keys,
		KeyStore: ks,
		Contact:  c.pushContact,
		Services: services,
		Logger:   logger,
		Metrics:  m,
	})
}

// redisConfig is where Redis is, from the -redis-* flags. With neither a URL
// nor addresses, rooms stay in memory.
type redisConfig struct {
	url, addrs, master string
	username, password string
	sentinelPassword   string
	tls                bool
	poolSize           int
	lease              time.Duration
}

func (r *redisConfig) enabled() bool { return r.url != "" || r.addrs != "" }

func (r *redisConfig) check() error {
	if !r.enabled() && (r.master != "" || r.username != "" || r.password != "" || r.sentinelPassword != "" || r.tls || r.poolSize != 0) {
		return errors.New("the -redis-* settings need -redis-url or -redis-addrs")
	}
	if r.poolSize < 0 {
		return errors.New("-redis-pool-size must not be negative")
	}
	if r.lease < 300*time.Millisecond {
		return errors.New("-instance-lease must be at least 300ms")
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
		PoolSize:         r.poolSize,
	}
}

// stores is where rooms live, as the command wires it: the room store, the
// feed of live events the edge subscribes to, and, with Redis, the
// instance's lease and held seats.
type stores struct {
	rooms room.Store
	feed  edge.Feed
	seats *redisstore.Leases // nil with the memory store
	name  string
	close func() // closes them (and the Redis client)
}

// openStore returns the configured stores.
func openStore(ctx context.Context, c *config, logger *slog.Logger) (*stores, error) {
	if !c.redis.enabled() {
		ms := memstore.New(memstore.Options{IdleTTL: c.roomTTL})
		return &stores{rooms: ms, feed: ms, name: "memory", close: func() { ms.Close() }}, nil
	}
	// go-redis's own log lines may name Pub/Sub channels, which carry room
	// ids; the store reports connection trouble itself, without them.
	logging.Disable()
	client, err := redisstore.NewClient(c.redis.store())
	if err != nil {
		return nil, err
	}
	rs := redisstore.New(client, redisstore.Options{IdleTTL: c.roomTTL, Logger: logger, Lease: c.redis.lease})
	// Redis may come up after us: say so, and let /readyz hold phones off
	// until it answers.
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	if err := rs.Ping(pctx); err != nil {
		logger.Warn("redis not reachable yet; /readyz reports 503 until it is", "err", err)
	}
	cancel()
	return &stores{rooms: rs.Store, feed: rs.Feed, seats: rs.Leases, name: "redis", close: func() { rs.Close(); client.Close() }}, nil
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

	st, err := openStore(ctx, c, logger)
	if err != nil {
		return err
	}
	defer st.close()

	m := metrics.New()
	var pusher *push.Sender
	if c.pushOn() {
		if pusher, err = newPusher(ctx, c, getenv, st.rooms, logger, m); err != nil {
			return err
		}
	}
	opts := room.Options{
		Store:         st.rooms,
		RevealSize:    c.revealSize,
		InviteTTL:     c.inviteTTL,
		MoveTTL:       c.moveTTL,
		RoundWindow:   c.roundWindow,
		DebriefWindow: c.debriefWindow,
		MaxSubmits:    c.maxSubmits,
	}
	if pusher != nil {
		opts.Push = pusher
	}
	if st.seats != nil {
		opts.Seats = st.seats
	}
	rooms := room.New(opts)
	if st.seats != nil {
		// The lease's sweep hands over the seats of instances that died,
		// and of this one when it was taken for dead while alive.
		st.seats.OnOrphaned(rooms.Orphaned)
		st.seats.OnRevived(rooms.Revived)
	}
	if pusher != nil {
		pctx, stopPush := context.WithCancel(context.Background())
		pushed := make(chan struct{})
		go func() {
			defer close(pushed)
			pusher.Run(pctx, rooms)
		}()
		// After the drain below: pushes for the last events are sent or
		// dropped, never left running.
		defer func() { stopPush(); <-pushed }()
	}
	var origins []string
	for _, o := range strings.Split(c.origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			origins = append(origins, o)
		}
	}
	tlsConf, challenge, err := c.tls()
	if err != nil {
		return err
	}
	var hm *home
	var setupLn net.Listener
	if c.tlsMode == tlsLocal {
		if hm, err = openHome(c, getenv, logger); err != nil {
			return err
		}
		tlsConf = hm.tlsConfig()
	}
	srv := edge.New(edge.Config{
		Rooms:        rooms,
		Feed:         st.feed,
		Static:       static.FS,
		Origins:      origins,
		Logger:       logger,
		Metrics:      m,
		SocketsPerIP: c.socketsPerIP,
		AdmitsPerIP:  c.admitsPerIP,
		TrustProxy:   c.trustProxy,
		// Not in home mode: HSTS binds a host on every port (RFC 6797
		// §8.3), so it would send the phone's next visit to the setup
		// page, http://HOST:8080, to https://HOST:8080, which nothing
		// answers.
		HSTS: tlsConf != nil && hm == nil,
		// Liveness decides presence, so it is the operator's to tune.
		LivenessWindow: c.liveness,
	})

	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	scheme := "http"
	if tlsConf != nil {
		ln = tls.NewListener(ln, tlsConf)
		scheme = "https"
	}
	servers := []*http.Server{newHTTPServer(srv, logger)}
	listeners := []net.Listener{ln}
	if challenge != nil {
		cl, err := net.Listen("tcp", c.acmeHTTPAddr)
		if err != nil {
			ln.Close()
			return err
		}
		servers, listeners = append(servers, newHTTPServer(challenge, logger)), append(listeners, cl)
	}
	if hm != nil {
		setupLn, err = net.Listen("tcp", c.setupAddr)
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return err
		}
		servers, listeners = append(servers, newHTTPServer(hm.setupHandler(ln.Addr()), logger)), append(listeners, setupLn)
	}
	if c.pprofAddr != "" {
		pl, err := net.Listen("tcp", c.pprofAddr)
		if err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return err
		}
		servers, listeners = append(servers, newHTTPServer(pprofHandler(), logger)), append(listeners, pl)
		logger.Info("pprof on", "addr", pl.Addr().String())
	}
	fmt.Fprintf(stdout, "softland: listening on %s://%s (%s store)\n", scheme, ln.Addr(), st.name)
	logger.Info("listening", "addr", ln.Addr().String(), "store", st.name, "scheme", scheme)
	if hm != nil {
		if err := hm.announce(stdout, ln.Addr(), setupLn.Addr()); err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return err
		}
	}

	served := make(chan error, len(servers))
	for i, hs := range servers {
		go func() { served <- hs.Serve(listeners[i]) }()
	}
	select {
	case err := <-served:
		for _, hs := range servers {
			hs.Close()
		}
		return err
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	drain, cancel := context.WithTimeout(context.Background(), c.drainTimeout)
	defer cancel()
	var errs []error
	for _, hs := range servers {
		errs = append(errs, hs.Shutdown(drain))
	}
	errs = append(errs, srv.Shutdown(drain))
	for range servers {
		if err := <-served; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

func newHTTPServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

// tls returns the TLS configuration to serve with (nil for plain HTTP) and,
// for automatic certificates, the plain-HTTP handler that answers the
// certificate authority's challenges and redirects everything else.
func (c *config) tls() (*tls.Config, http.Handler, error) {
	switch {
	case c.tlsCert != "":
		cert, err := tls.LoadX509KeyPair(c.tlsCert, c.tlsKey)
		if err != nil {
			return nil, nil, fmt.Errorf("tls: %w", err)
		}
		return &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}, nil, nil
	case c.acmeDomains != "":
		var domains []string
		for _, d := range strings.Split(c.acmeDomains, ",") {
			if d = strings.TrimSpace(d); d != "" {
				domains = append(domains, d)
			}
		}
		m := &autocert.Manager{
			Prompt:     autocert.AcceptTOS,
			HostPolicy: autocert.HostWhitelist(domains...),
			Cache:      autocert.DirCache(c.acmeCache),
			Email:      c.acmeEmail,
		}
		conf := m.TLSConfig()
		conf.MinVersion = tls.VersionTLS12
		return conf, m.HTTPHandler(nil), nil
	}
	return nil, nil, nil
}

// pprofHandler serves the profiles. It is only ever bound to loopback.
func pprofHandler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return mux
}
