// Package push wakes sleeping phones with Web Push (RFC 8030 delivery,
// RFC 8291 message encryption, RFC 8292 VAPID). A locked phone runs no
// JavaScript and its socket is frozen or gone, so a pause would reach it only
// when it is next unlocked; a push is the knock on the door, after which the
// phone resumes by offset as always.
//
// A push carries nothing but a kind and the room's offset
// (protocol.PushMessage), encrypted to the phone and padded to one size
// (protocol.PushBodyBytes): the push service learns the endpoint and the
// time, nothing else. It goes only to a seat whose phone is not demonstrably
// online, and only from the instance that committed the event (room.Pusher),
// so an awake phone gets no duplicate and no event is pushed twice.
//
// The package knows nothing of sockets, and of stores only what room.Service
// offers: it reads a room again before each send (so an erased room, a
// forgotten subscription or a phone that came back cost nothing) and asks the
// room to forget a subscription its push service says is gone.
//
// Messages are sent with github.com/SherClockHolmes/webpush-go v1.4.0: its
// aes128gcm encryption pads every message to a fixed record size, which is
// exactly the one-size padding wanted here, and it signs the RFC 8292
// "vapid t=…, k=…" header, the scheme every current push service takes.
// Where v1.4.0 falls short this package works around it: see send.
package push

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strconv"
	"sync"
	"time"

	webpush "github.com/SherClockHolmes/webpush-go"

	"softland/server/metrics"
	"softland/server/protocol"
	"softland/server/room"
)

// Defaults for Config. They are named so flags, docs and tests point at one
// value.
const (
	// DefaultGrace is how long a push waits for an online phone to show it
	// has the event before the phone is taken to be asleep.
	DefaultGrace   = 2 * time.Second
	DefaultQueue   = 1024
	DefaultWorkers = 4
	// DefaultTimeout bounds one request to a push service.
	DefaultTimeout = 10 * time.Second
	// DefaultAttempts bounds the tries of one push (the first and the
	// retries after a 429, a 5xx or a network failure).
	DefaultAttempts = 4
	DefaultBackoff  = time.Second
	maxBackoff      = 30 * time.Second
	// DefaultTTL is how long a push service keeps an undelivered push. A
	// knock that arrives much later helps nobody: the phone catches up by
	// offset when it is opened anyway.
	DefaultTTL = 15 * time.Minute
	// KeyRefresh is how often Run renews the shared VAPID key's expiry,
	// well within the day it is given beyond a room's idle time.
	KeyRefresh = 6 * time.Hour
)

// Outcomes, the fixed values of the metrics' outcome label.
const (
	OutcomeSent      = "sent"      // the push service took it
	OutcomeConfirmed = "confirmed" // not sent: the phone showed it has the event
	OutcomeGone      = "gone"      // 404/410: the subscription was forgotten
	OutcomeRejected  = "rejected"  // another 4xx: not retried
	OutcomeRetried   = "retried"   // 429, 5xx or a network failure: tried again later
	OutcomeFailed    = "failed"    // still failing after the last attempt
	OutcomeDropped   = "dropped"   // this instance had too many pushes waiting
)

// Rooms is what the sender needs of the room logic (room.Service).
type Rooms interface {
	Load(ctx context.Context, roomID string) (*room.State, error)
	DropPush(ctx context.Context, roomID string, seat int, endpoint string) error
}

// Config configures a Sender. Zero values take the defaults.
type Config struct {
	Keys *Keys
	// KeyStore, when set, is where Keys is shared with the other
	// instances; Run refreshes its expiry every KeyRefresh.
	KeyStore KeyStore
	// Contact is the VAPID subject, a mailto: or https: URL (CheckContact);
	// "" takes DefaultContact.
	Contact string
	// Services is the allowlist of push services (newAllowlist); nil takes
	// DefaultServices.
	Services []string
	// Grace is how long a push for an online phone waits before the room is
	// read again to see whether the phone has the event.
	Grace time.Duration
	// Queue bounds the pushes waiting on this instance; beyond it they are
	// dropped (and counted). Workers is how many are sent at once.
	Queue   int
	Workers int
	// Timeout bounds each request to a push service; Attempts and Backoff
	// bound the retries (doubling from Backoff, at most 30 s apart, or what
	// a Retry-After asks within that).
	Timeout  time.Duration
	Attempts int
	Backoff  time.Duration
	// TTL is the push's time to live at the push service.
	TTL time.Duration
	// Client sends the requests; nil makes one. Redirects are never
	// followed, whatever the client: a push service that redirects could
	// lead the server off the allowlist.
	Client  *http.Client
	Logger  *slog.Logger
	Metrics *metrics.Metrics
	// Observe, when set, hears every outcome as it is counted; tests wait
	// on it instead of polling the metrics.
	Observe func(kind, outcome string)
}

// Sender decides which events wake which phone and sends the pushes. It
// implements room.Pusher. Committed only queues; Run sends.
type Sender struct {
	cfg    Config
	allow  *allowlist
	client *http.Client
	log    *slog.Logger
	m      *metrics.Metrics

	queue chan job

	// mu guards the timers of pushes waiting for their grace or a retry,
	// so Run can stop them all when it ends; stopped is set then, and no
	// timer starts after it.
	mu      sync.Mutex
	timers  map[*time.Timer]struct{}
	stopped bool
	pending int // queued + timers, for the bound and the gauge
}

var _ room.Pusher = (*Sender)(nil)

// job is one push to consider: the room, the seat to wake, what happened
// and at which offset. It holds no subscription: the worker reads the room
// again, so nothing of a subscription waits in memory and an erased room
// sends nothing.
type job struct {
	room    string
	seat    int
	kind    string
	offset  uint64
	graced  bool // the grace for an online phone has passed
	attempt int  // tries so far
}

// New returns a Sender for cfg.
func New(cfg Config) (*Sender, error) {
	if cfg.Keys == nil {
		return nil, errors.New("push: no VAPID keys")
	}
	if cfg.Contact == "" {
		cfg.Contact = DefaultContact
	}
	if err := CheckContact(cfg.Contact); err != nil {
		return nil, err
	}
	if cfg.Services == nil {
		cfg.Services = DefaultServices
	}
	allow, err := newAllowlist(cfg.Services)
	if err != nil {
		return nil, err
	}
	if cfg.Grace <= 0 {
		cfg.Grace = DefaultGrace
	}
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultQueue
	}
	if cfg.Workers <= 0 {
		cfg.Workers = DefaultWorkers
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultTimeout
	}
	if cfg.Attempts <= 0 {
		cfg.Attempts = DefaultAttempts
	}
	if cfg.Backoff <= 0 {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.TTL <= 0 {
		cfg.TTL = DefaultTTL
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Metrics == nil {
		cfg.Metrics = metrics.New()
	}
	client := &http.Client{Timeout: cfg.Timeout}
	if cfg.Client != nil {
		c := *cfg.Client
		client = &c
	}
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &Sender{
		cfg:    cfg,
		allow:  allow,
		client: client,
		log:    cfg.Logger,
		m:      cfg.Metrics,
		queue:  make(chan job, cfg.Queue),
		timers: map[*time.Timer]struct{}{},
	}, nil
}

// PublicKey implements room.Pusher.
func (s *Sender) PublicKey() string { return s.cfg.Keys.Public() }

// Allowed implements room.Pusher.
func (s *Sender) Allowed(endpoint string) bool { return s.allow.allowed(endpoint) }

// pushKind maps a logged event to the kind of push it is worth, and says
// which seats it is for: the partner of the seat that acted, or both when no
// seat acted (debriefs are released by the room, to both).
func pushKind(ev *protocol.Event) (kind string, seats [2]bool) {
	switch ev.Kind {
	case protocol.KindPaused:
		kind = protocol.PushPause
	case protocol.KindRoundOpened:
		kind = protocol.PushCheckin
	case protocol.KindAnnounced:
		kind = protocol.PushSpace
	case protocol.KindDebriefReleased:
		return protocol.PushDebrief, [2]bool{true, true}
	default:
		return "", seats
	}
	if ev.Seat == 1 || ev.Seat == 2 {
		seats[2-ev.Seat] = true
	}
	return kind, seats
}

// Committed implements room.Pusher: it queues a push for every seat that
// subscribed to the kind of an event just committed. It does not block; a
// full queue drops the push (the phone still catches up when opened).
func (s *Sender) Committed(st *room.State, evs []protocol.Event) {
	for e := range evs {
		kind, seats := pushKind(&evs[e])
		if kind == "" {
			continue
		}
		for i, want := range seats {
			if want && st.Seats[i].Taken && st.Seats[i].Push.Wants(kind) {
				s.enqueue(job{room: st.ID, seat: i + 1, kind: kind, offset: evs[e].Offset})
			}
		}
	}
}

// enqueue queues j without blocking, counting it as dropped when the bound
// is reached.
func (s *Sender) enqueue(j job) {
	s.mu.Lock()
	if s.stopped || s.pending >= s.cfg.Queue {
		s.mu.Unlock()
		s.count(j.kind, OutcomeDropped)
		return
	}
	s.pending++
	s.m.PushQueue.Inc()
	s.mu.Unlock()
	s.queue <- j // never blocks: pending <= Queue = cap(queue)
}

// later queues j again after d (the grace, or a backoff). The timer counts
// towards the bound, and Run stops it when it ends.
func (s *Sender) later(d time.Duration, j job) {
	s.mu.Lock()
	if s.stopped || s.pending >= s.cfg.Queue {
		s.mu.Unlock()
		s.count(j.kind, OutcomeDropped)
		return
	}
	s.pending++
	s.m.PushQueue.Inc()
	var t *time.Timer
	t = time.AfterFunc(d, func() {
		s.mu.Lock()
		if _, ok := s.timers[t]; !ok { // stopped by Run
			s.mu.Unlock()
			return
		}
		delete(s.timers, t)
		s.mu.Unlock()
		s.queue <- j // its place was counted when the timer started
	})
	s.timers[t] = struct{}{}
	s.mu.Unlock()
}

func (s *Sender) done() {
	s.mu.Lock()
	s.pending--
	s.m.PushQueue.Dec()
	s.mu.Unlock()
}

func (s *Sender) count(kind, outcome string) {
	s.m.Pushes.WithLabelValues(kind, outcome).Inc()
	if s.cfg.Observe != nil {
		s.cfg.Observe(kind, outcome)
	}
}

// Run sends queued pushes with Workers goroutines until ctx ends, then
// stops the waiting timers and returns once every worker has.
func (s *Sender) Run(ctx context.Context, rooms Rooms) {
	var wg sync.WaitGroup
	if s.cfg.KeyStore != nil {
		wg.Go(func() { s.keepKey(ctx) })
	}
	for range s.cfg.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-ctx.Done():
					return
				case j := <-s.queue:
					s.handle(ctx, rooms, j)
					s.done()
				}
			}
		}()
	}
	<-ctx.Done()
	s.mu.Lock()
	s.stopped = true
	for t := range s.timers {
		t.Stop()
	}
	clear(s.timers)
	s.mu.Unlock()
	wg.Wait()
}

// keepKey renews the shared VAPID key's expiry every KeyRefresh until ctx
// ends, so the key outlives every room that may hold a subscription made
// with it.
func (s *Sender) keepKey(ctx context.Context) {
	t := time.NewTicker(KeyRefresh)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		kctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		stored, err := s.cfg.KeyStore.VAPIDKey(kctx, s.cfg.Keys.Private())
		cancel()
		switch {
		case err != nil:
			s.log.Warn("push: could not renew the shared VAPID key", "err", err)
		case stored != s.cfg.Keys.Private():
			// The stored key was lost (Redis emptied) and another
			// instance stored its own: the instances now disagree, and
			// phones subscribed with one key are refused pushes signed
			// with the other until every instance restarts.
			s.log.Error("push: the shared VAPID key changed under this instance; restart every instance")
		}
	}
}

// handle decides on one job with the room as it is now. A phone that has
// confirmed the event (Seat.Seen, its receipts) gets no push. One that is
// online is given the grace to confirm it: its socket is live and was sent
// the event, but a frozen tab or a phone that locked a moment ago keeps a
// socket that looks online while running no JavaScript, so being online
// is not enough. Any other phone, away or reconnecting or unreachable, is
// pushed at once.
func (s *Sender) handle(ctx context.Context, rooms Rooms, j job) {
	lctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	st, err := rooms.Load(lctx, j.room)
	cancel()
	if err != nil {
		if room.Code(err) != protocol.CodeNotFound {
			// The store failed: try again later, within the bound.
			s.retry(j, 0)
		}
		return // erased or expired: nothing to send, nothing to keep
	}
	se := &st.Seats[j.seat-1]
	if st.Erased || !se.Taken || !se.Push.Wants(j.kind) {
		return // unsubscribed, or switched this kind off, since
	}
	if se.Seen >= j.offset {
		s.count(j.kind, OutcomeConfirmed)
		return
	}
	if se.Presence == protocol.PresenceOnline && !j.graced {
		j.graced = true
		s.later(s.cfg.Grace, j)
		return
	}
	s.send(ctx, rooms, j, se.Push)
}

// send makes one attempt at a push.
//
// webpush-go v1.4.0 is used with these workarounds:
//   - it pads by writing to a bytes.Buffer made from the message, which
//     writes into the spare capacity of the caller's backing array: the
//     message is a fresh slice with none;
//   - it prefixes "mailto:" to any subscriber that is not https (subscriber);
//   - it ignores Options.VapidExpiration (issue #73) and always signs for
//     12 hours, within RFC 8292's 24 and with room for clock skew; nothing to
//     do but know it (pushtest checks the expiry);
//   - its default client has no timeout and follows redirects: New gives it
//     one that has and does not;
//   - it leaves the response to the caller, whose body is drained and closed
//     here so the connection is reused.
//
// Its main branch since added an AuthScheme option (#84) for the older
// "WebPush" scheme some services took; it still defaults to v1.4.0's
// "vapid t=…, k=…", RFC 8292's, which FCM, Mozilla, Apple and Windows take,
// so nothing is lost by staying on the release the module proxy serves.
func (s *Sender) send(ctx context.Context, rooms Rooms, j job, sub *room.PushSub) {
	body, _ := json.Marshal(protocol.PushMessage{V: protocol.PushVersion, Kind: j.kind, Offset: j.offset})
	msg := make([]byte, len(body)) // len == cap: see above
	copy(msg, body)
	opts := &webpush.Options{
		HTTPClient:      s.client,
		RecordSize:      protocol.PushBodyBytes,
		Subscriber:      subscriber(s.cfg.Contact),
		Topic:           "softland-" + j.kind,
		TTL:             int(s.cfg.TTL / time.Second),
		Urgency:         webpush.UrgencyNormal,
		VAPIDPublicKey:  s.cfg.Keys.Public(),
		VAPIDPrivateKey: s.cfg.Keys.Private(),
	}
	if j.kind == protocol.PushPause {
		opts.Urgency = webpush.UrgencyHigh
	}
	rctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	resp, err := webpush.SendNotificationWithContext(rctx, msg, &webpush.Subscription{
		Endpoint: sub.Endpoint,
		Keys:     webpush.Keys{Auth: sub.Auth, P256dh: sub.P256dh},
	}, opts)
	if err != nil {
		if ctx.Err() != nil {
			return // shutting down
		}
		// The error may quote the endpoint (a *url.Error does): log only
		// that the network failed.
		s.log.Info("push failed", "kind", j.kind, "reason", "network")
		s.retry(j, 0)
		return
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch code := resp.StatusCode; {
	case code >= 200 && code < 300:
		s.count(j.kind, OutcomeSent)
	case code == http.StatusNotFound || code == http.StatusGone:
		dctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
		err := rooms.DropPush(dctx, j.room, j.seat, sub.Endpoint)
		cancel()
		if err != nil {
			s.log.Warn("push: could not forget a gone subscription", "kind", j.kind, "err", room.Code(err))
		}
		s.count(j.kind, OutcomeGone)
	case code == http.StatusTooManyRequests || code >= 500:
		s.log.Info("push failed", "kind", j.kind, "status", code)
		s.retry(j, retryAfter(resp.Header.Get("Retry-After")))
	default:
		// 400, 401, 403, 413: a fault of ours or of the subscription that
		// retrying will not mend.
		s.log.Warn("push refused", "kind", j.kind, "status", code)
		s.count(j.kind, OutcomeRejected)
	}
}

// retry schedules the next attempt of j, or gives up after the last one.
// The wait doubles from Backoff, with jitter, at most maxBackoff; a push
// service's Retry-After is honoured within that bound.
func (s *Sender) retry(j job, after time.Duration) {
	j.attempt++
	if j.attempt >= s.cfg.Attempts {
		s.count(j.kind, OutcomeFailed)
		return
	}
	s.count(j.kind, OutcomeRetried)
	d := s.cfg.Backoff << (j.attempt - 1)
	d += rand.N(d/2 + 1)
	d = max(d, after)
	s.later(min(d, maxBackoff), j)
}

// retryAfter reads a Retry-After given in seconds; a date or nothing is 0.
func retryAfter(v string) time.Duration {
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0
	}
	return min(time.Duration(n)*time.Second, maxBackoff)
}
