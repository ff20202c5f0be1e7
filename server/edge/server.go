// Package edge is Softland's network edge: the HTTP routes (the embedded web
// app, /ws, /healthz, /readyz) and one goroutine-disciplined WebSocket
// connection per phone. It owns no room logic: every request becomes a call on
// a room.Service, and every event a room logs reaches the phone through the
// Feed, in offset order, with gaps filled from the room.Service.
package edge

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/coder/websocket"

	"softland/server/metrics"
	"softland/server/protocol"
	"softland/server/room"
)

// Defaults for Config. Tests shrink them.
const (
	DefaultAuthTimeout  = 10 * time.Second
	DefaultPingInterval = 25 * time.Second
	DefaultPingTimeout  = 15 * time.Second
	DefaultWriteTimeout = 10 * time.Second
	DefaultSendQueue    = 64
	DefaultRate         = 20 // messages per second per socket, sustained
	DefaultBurst        = 40
	DefaultDrainTimeout = 10 * time.Second
	// DefaultLivenessWindow is how long an admitted socket may stay silent
	// before its seat shows unreachable. Web apps send a ping every 10 s
	// while connected, so the window spans two of them plus slack for a
	// slow network: one lost or late ping does not make a phone look gone.
	DefaultLivenessWindow = 25 * time.Second
)

// Feed is what the edge needs of the store besides room.Service: the live
// events of the rooms its sockets are in, and whether the store can be
// reached. The memory store is one; with Redis it is redisstore.Feed.
type Feed interface {
	// Subscribe calls deliver with every event appended to the room from now
	// on, in offset order, until cancel is called. deliver must not block;
	// it may be called from any goroutine. A feed that can lose wake-ups (a
	// broker reconnecting) may skip events: the edge detects gaps by offset
	// and fetches them from room.Service, so skipping loses nothing.
	Subscribe(roomID string, deliver func(protocol.Event)) (cancel func())
	// Ping reports whether the store can serve requests (/readyz).
	Ping(ctx context.Context) error
}

// Config configures a Server. Zero values take the defaults, but Rooms and
// Feed must be set.
type Config struct {
	Rooms *room.Service
	Feed  Feed
	// Static is the web app served at "/".
	Static fs.FS
	// Origins are extra host patterns (as in websocket.AcceptOptions) whose
	// pages may open /ws. The server's own host is always allowed; phones
	// using the Go client send no Origin and are allowed.
	Origins []string
	Logger  *slog.Logger
	// Metrics receives what the edge measures; nil makes a private set.
	Metrics *metrics.Metrics

	AuthTimeout  time.Duration // a socket must create, join or resume within this
	PingInterval time.Duration
	PingTimeout  time.Duration
	WriteTimeout time.Duration
	// LivenessWindow: an admitted socket from which no message arrived for
	// this long makes its seat unreachable until the next message.
	LivenessWindow time.Duration
	// SendQueue bounds the frames waiting for one phone. A phone that falls
	// that far behind is disconnected (1008) rather than slowing its room; it
	// resumes and loses nothing.
	SendQueue int
	// Rate and Burst limit the messages one socket may send.
	Rate  float64
	Burst int
	// SocketsPerIP caps open sockets per client address (HTTP 429 beyond).
	SocketsPerIP int
	// AdmitsPerIP create or join attempts are allowed per AdmitsPer from one
	// address; beyond that they are refused with rate_limited.
	AdmitsPerIP int
	AdmitsPer   time.Duration
	// TrustProxy takes the client address from X-Forwarded-For; set it only
	// behind a proxy that sets that header.
	TrustProxy bool
	// HSTS adds Strict-Transport-Security to every page: set it when the
	// server itself serves HTTPS.
	HSTS bool
}

// Server serves Softland's HTTP routes and WebSocket connections.
type Server struct {
	cfg   Config
	rooms *room.Service
	log   *slog.Logger
	m     *metrics.Metrics
	mux   *http.ServeMux
	ips   *ipLimits

	mu       sync.Mutex
	conns    map[*conn]struct{}
	seats    map[seatKey]*conn // the live local connection of each seat
	closing  bool
	wg       sync.WaitGroup
	shutdown chan struct{}
}

type seatKey struct {
	room string
	seat int
}

// New returns a Server for cfg.
func New(cfg Config) *Server {
	if cfg.Rooms == nil || cfg.Feed == nil {
		panic("edge: Config needs Rooms and Feed")
	}
	if cfg.AuthTimeout <= 0 {
		cfg.AuthTimeout = DefaultAuthTimeout
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = DefaultPingInterval
	}
	if cfg.PingTimeout <= 0 {
		cfg.PingTimeout = DefaultPingTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.LivenessWindow <= 0 {
		cfg.LivenessWindow = DefaultLivenessWindow
	}
	if cfg.SendQueue <= 0 {
		cfg.SendQueue = DefaultSendQueue
	}
	if cfg.Rate <= 0 {
		cfg.Rate = DefaultRate
	}
	if cfg.Burst <= 0 {
		cfg.Burst = DefaultBurst
	}
	if cfg.SocketsPerIP <= 0 {
		cfg.SocketsPerIP = DefaultSocketsPerIP
	}
	if cfg.AdmitsPerIP <= 0 {
		cfg.AdmitsPerIP = DefaultAdmitsPerIP
	}
	if cfg.AdmitsPer <= 0 {
		cfg.AdmitsPer = DefaultAdmitsPer
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	s := &Server{
		cfg:      cfg,
		rooms:    cfg.Rooms,
		log:      cfg.Logger,
		m:        cfg.Metrics,
		conns:    make(map[*conn]struct{}),
		seats:    make(map[seatKey]*conn),
		shutdown: make(chan struct{}),
		ips:      newIPLimits(cfg.SocketsPerIP, cfg.AdmitsPerIP, cfg.AdmitsPer),
	}
	s.mux = http.NewServeMux()
	s.mux.HandleFunc("GET /ws", s.serveWS)
	s.mux.HandleFunc("GET /healthz", s.serveHealth)
	s.mux.HandleFunc("GET /readyz", s.serveReady)
	s.mux.Handle("GET /metrics", cfg.Metrics.Handler())
	if cfg.Static != nil {
		s.mux.Handle("GET /", staticHandler(cfg.Static, cfg.HSTS))
	}
	return s
}

// ServeHTTP routes a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.mux.ServeHTTP(w, r) }

func (s *Server) serveHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte("ok\n"))
}

// serveReady says whether this instance should get new phones: not while it
// drains, and not while its store is unreachable.
func (s *Server) serveReady(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if err := s.cfg.Feed.Ping(ctx); err != nil {
		http.Error(w, "store unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Write([]byte("ready\n"))
}

func (s *Server) serveWS(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	closing := s.closing
	s.mu.Unlock()
	if closing {
		http.Error(w, "shutting down", http.StatusServiceUnavailable)
		return
	}
	ip := clientIP(r, s.cfg.TrustProxy)
	if !s.ips.openSocket(ip) {
		s.log.Info("ws refused", "reason", "sockets per address")
		http.Error(w, "too many connections from this address", http.StatusTooManyRequests)
		return
	}
	defer s.ips.closeSocket(ip)
	hr := &hijackRecorder{ResponseWriter: w, timeout: s.cfg.WriteTimeout}
	ws, err := websocket.Accept(hr, r, &websocket.AcceptOptions{
		OriginPatterns:  s.cfg.Origins,
		CompressionMode: websocket.CompressionDisabled,
	})
	if err != nil {
		// Accept has already answered (403 for a foreign Origin, 400 or 426
		// for a request that is not a WebSocket upgrade).
		s.log.Info("ws refused", "reason", "upgrade")
		return
	}
	c := newConn(s, ws, hr.conn, hr.batch, ip)
	if !s.track(c) {
		ws.Close(websocket.StatusServiceRestart, "service restart")
		return
	}
	defer s.untrack(c)
	c.run()
}

// hijackRecorder keeps the raw connection websocket.Accept takes over, so
// the edge can cut a socket whose close handshake cannot finish (closeGrace)
// without giving every read a cancellable context, which costs an
// allocation per frame and a registration per idle socket. It also puts a
// batchConn between the WebSocket and that connection, so the socket's
// writer can send several frames with one write.
type hijackRecorder struct {
	http.ResponseWriter
	timeout time.Duration // batchConn's write bound
	conn    net.Conn
	batch   *batchConn
}

func (h *hijackRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	c, brw, err := http.NewResponseController(h.ResponseWriter).Hijack()
	if err != nil {
		return c, brw, err
	}
	// The socket writes through a batchConn. net/http's writer is empty
	// (the 101 answer is already flushed) and wraps the raw connection, so
	// it is pointed at the batchConn instead, keeping its buffer.
	h.batch = &batchConn{Conn: c, timeout: h.timeout}
	h.conn = c
	brw.Writer.Reset(h.batch)
	return h.batch, brw, nil
}

func (h *hijackRecorder) Unwrap() http.ResponseWriter { return h.ResponseWriter }

func (s *Server) track(c *conn) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closing {
		return false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	s.m.Sockets.Inc()
	return true
}

func (s *Server) untrack(c *conn) {
	s.mu.Lock()
	delete(s.conns, c)
	if c.member.Room != "" {
		k := seatKey{c.member.Room, c.member.Seat}
		if s.seats[k] == c {
			delete(s.seats, k)
		}
	}
	s.mu.Unlock()
	s.m.Sockets.Dec()
	s.wg.Done()
}

// claimSeat makes c the local connection of its seat, closing an older local
// one: a phone that reconnects before its old socket timed out must not leave
// two sockets speaking for one seat. After a move (movedAt, the offset of
// the new device's welcome, is not 0) the older socket is the old device's:
// it is sent the room's events up to the moved event and then closed with
// CloseMoved, so it learns why and does not resume. (An older socket on
// another instance closes the same way when the moved event reaches it.)
func (s *Server) claimSeat(c *conn, movedAt uint64) {
	k := seatKey{c.member.Room, c.member.Seat}
	s.mu.Lock()
	old := s.seats[k]
	s.seats[k] = c
	s.mu.Unlock()
	switch {
	case old == nil || old == c:
	case movedAt > 0:
		old.queue(&outItem{close: closeMoved, closeMsg: "moved to another device", after: movedAt})
	default:
		old.fail(closeReplaced, "replaced by a newer connection")
	}
}

// Conns returns the number of open WebSocket connections.
func (s *Server) Conns() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.conns)
}

// Shutdown stops accepting sockets, closes every open one with 1012 (service
// restart) so phones reconnect, possibly to another instance, and waits for
// them to finish or for ctx to end.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	if !s.closing {
		s.closing = true
		close(s.shutdown)
	}
	conns := make([]*conn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.fail(websocket.StatusServiceRestart, "service restart")
	}
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// logID is the only form of a room id that reaches a log: a short one-way
// hash, enough to follow one room through the lines, useless to find it.
func logID(room string) string {
	if room == "" {
		return "-"
	}
	sum := sha256.Sum256([]byte("softland log " + room))
	return hex.EncodeToString(sum[:6])
}
