package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"

	"softland/server/room"
)

// Instances and the seats they hold
//
// An instance that is killed cannot tell anyone that its sockets are gone,
// so their seats would stay "online" for the partner. Each Leases therefore
// has a random instance id and keeps three kinds of keys:
//
//	sl:live:<instance>  its lease: refreshed every Lease/3, expires after Lease
//	sl:held:<instance>  a set of "<room> <seat> <gen>", the connections it holds
//	sl:instances        a set of the instance ids that have leases
//
// Every instance checks, every Lease/3, whether the others' leases still
// exist. The first to find one gone removes the id from sl:instances (only
// one instance wins that SREM), reads that instance's held set, deletes it,
// and calls the OnOrphaned function (room.Service.Orphaned) for each seat,
// which marks it reconnecting unless a newer connection took it meanwhile.
//
// An instance only judges others after its own lease has been renewed
// without a failure for a whole Lease: after a Redis outage every instance
// gets a chance to renew its lease before anyone is taken for dead.
//
// An instance can still be taken for dead while alive: a stall longer than
// a Lease (a frozen process, a starved CPU, a slow network to Redis) lets
// its lease expire, and another instance marks its seats reconnecting and
// deletes its held set, although its sockets are open. Its next renewal
// notices (more than a Lease since the last one, or its SADD to
// sl:instances adding the id anew) and, for the next three renewals, writes its held set back and hands each seat it holds to
// the OnRevived function (room.Service.Revived), which marks it online
// again unless a newer connection took it. Three renewals span a Lease, so
// a sweep that was still marking or deleting when the instance came back
// is outlasted. Without this the seats would read "reconnecting" while the
// phones are connected, and a later real death of the instance would go
// unnoticed, its held set being gone.
//
// These keys carry room ids, seat numbers and connection counters, nothing
// a phone sent. The held set and sl:instances expire 10 leases after the
// last renewal, the lease after one; an instance that closes deletes its
// own.

// DefaultLease is how long an instance that stops renewing is taken for
// alive.
const DefaultLease = 15 * time.Second

const instancesKey = "sl:instances"

// orphanTimeout bounds marking one orphaned seat.
const orphanTimeout = 10 * time.Second

func liveKey(instance string) string { return "sl:live:" + instance }
func heldKey(instance string) string { return "sl:held:" + instance }

func heldMember(m room.Member) string {
	return fmt.Sprintf("%s %d %d", m.Room, m.Seat, m.Gen)
}

func parseHeld(s string) (room.Member, bool) {
	var m room.Member
	if n, err := fmt.Sscanf(s, "%s %d %d", &m.Room, &m.Seat, &m.Gen); err != nil || n != 3 || !validID(m.Room) || (m.Seat != 1 && m.Seat != 2) {
		return room.Member{}, false
	}
	return m, true
}

func newInstanceID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// Leases is this instance's lease and the seats it holds (room.SeatHolder),
// and the sweep that finds instances that died. It is safe for concurrent
// use.
type Leases struct {
	client redis.UniversalClient
	opt    Options
	log    *slog.Logger

	ctx    context.Context // ends on Close
	cancel context.CancelFunc
	wg     sync.WaitGroup

	instance     string                                         // this instance's id among instances
	mu           sync.Mutex                                     // guards orphaned and revived
	orphaned     func(ctx context.Context, m room.Member) error // nil: no sweeps yet
	revived      func(ctx context.Context, m room.Member) error
	heldMu       sync.Mutex               // guards held alone: Hold may run under the feed's deliveries
	held         map[room.Member]struct{} // the connections Hold recorded
	reassert     int                      // run only: renewals left that rewrite the held set
	renewedAt    time.Time                // run only
	lastRenewal  time.Time                // run only
	healthySince time.Time                // run only: the lease held without a lapse since
	sweeping     atomic.Bool
}

var _ room.SeatHolder = (*Leases)(nil)

// NewLeases takes this instance's lease, waiting up to Lease/2 for Redis,
// and starts renewing it; Close gives it up. The client stays the caller's
// to close, after the Leases. It judges no other instance until OnOrphaned
// has given it something to do with their seats.
func NewLeases(client redis.UniversalClient, opts Options) *Leases {
	opts = opts.withDefaults()
	ctx, cancel := context.WithCancel(context.Background())
	l := &Leases{
		client:   client,
		opt:      opts,
		log:      opts.Logger,
		ctx:      ctx,
		cancel:   cancel,
		instance: newInstanceID(),
		held:     make(map[room.Member]struct{}),
	}
	// Take the lease before any seat can be held: an instance killed before
	// its first renewal would never have been known, and its seats never
	// orphaned. (A Redis that does not answer now is retried by run.)
	l.leaseTick(time.Now())
	l.wg.Add(1)
	go l.run()
	return l
}

// run renews the lease until Close.
func (l *Leases) run() {
	defer l.wg.Done()
	tick := time.NewTicker(min(time.Second, l.opt.Lease/3))
	defer tick.Stop()
	for {
		select {
		case <-l.ctx.Done():
			return
		case now := <-tick.C:
			l.leaseTick(now)
		}
	}
}

// Close stops renewing and deletes this instance's keys: its sockets have
// been closed, and Leave marked their seats.
func (l *Leases) Close() {
	l.cancel()
	l.wg.Wait()
	l.dropLease()
}

// Instance returns this instance's id.
func (l *Leases) Instance() string { return l.instance }

// OnOrphaned sets f to be called for each seat held by an instance that
// died (main gives room.Service.Orphaned). Until it is set, this instance
// leaves other instances alone: it could not mark their seats.
func (l *Leases) OnOrphaned(f func(ctx context.Context, m room.Member) error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.orphaned = f
}

// OnRevived sets f to be called for each seat this instance holds when it
// finds it was taken for dead while alive (main gives room.Service.Revived).
func (l *Leases) OnRevived(f func(ctx context.Context, m room.Member) error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.revived = f
}

// Hold implements room.SeatHolder.
func (l *Leases) Hold(ctx context.Context, m room.Member) {
	l.heldMu.Lock()
	l.held[m] = struct{}{}
	l.heldMu.Unlock()
	_, err := l.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, heldKey(l.instance), heldMember(m))
		p.PExpire(ctx, heldKey(l.instance), l.heldTTL())
		return nil
	})
	if err != nil {
		l.log.Debug("redis: recording a held seat failed", "err", err)
	}
}

// Release implements room.SeatHolder.
func (l *Leases) Release(ctx context.Context, m room.Member) {
	l.heldMu.Lock()
	delete(l.held, m)
	l.heldMu.Unlock()
	if err := l.client.SRem(ctx, heldKey(l.instance), heldMember(m)).Err(); err != nil {
		l.log.Debug("redis: releasing a held seat failed", "err", err)
	}
}

func (l *Leases) heldTTL() time.Duration { return 10 * l.opt.Lease }

// renew refreshes this instance's lease and the keys that name it, and
// reports whether that worked. While reassert is positive it also writes
// back the held set and returns the seats it holds, to be revived. It
// reports whether the id had to be added to sl:instances anew.
func (l *Leases) renew() (revive []room.Member, readded, ok bool) {
	ctx, cancel := context.WithTimeout(l.ctx, l.opt.Lease/2)
	defer cancel()
	var held []string
	if l.reassert > 0 {
		revive = l.heldNow()
		for _, m := range revive {
			held = append(held, heldMember(m))
		}
	}
	var added *redis.IntCmd
	_, err := l.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, liveKey(l.instance), "1", l.opt.Lease)
		added = p.SAdd(ctx, instancesKey, l.instance)
		p.PExpire(ctx, instancesKey, l.heldTTL())
		if len(held) > 0 {
			p.SAdd(ctx, heldKey(l.instance), held)
		}
		p.PExpire(ctx, heldKey(l.instance), l.heldTTL())
		return nil
	})
	if err != nil {
		return nil, false, false
	}
	if l.reassert > 0 {
		l.reassert--
	}
	return revive, added.Val() == 1, true
}

// heldNow returns the connections this instance holds.
func (l *Leases) heldNow() []room.Member {
	l.heldMu.Lock()
	defer l.heldMu.Unlock()
	ms := make([]room.Member, 0, len(l.held))
	for m := range l.held {
		ms = append(ms, m)
	}
	return ms
}

// revive hands each of ms to OnRevived, off the run goroutine.
func (l *Leases) revive(ms []room.Member) {
	l.mu.Lock()
	revived := l.revived
	l.mu.Unlock()
	if revived == nil || len(ms) == 0 {
		return
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		for _, m := range ms {
			ctx, cancel := context.WithTimeout(l.ctx, orphanTimeout)
			err := revived(ctx, m)
			cancel()
			if err != nil && !room.IsRefusal(err) && l.ctx.Err() == nil {
				l.log.Warn("redis: marking a seat online again failed", "err", err)
			}
		}
	}()
}

// leaseTick runs from run: it renews the lease every Lease/3 and, once
// the lease has been held without a lapse for a whole Lease, starts a sweep
// for dead instances unless one is running. A renewal that fails is no lapse
// as long as one succeeds within a Lease of the last: a busy moment must not
// stop the sweeps, but an outage long enough to let leases expire must
// give every instance the time to renew before anyone is judged.
func (l *Leases) leaseTick(now time.Time) {
	if now.Sub(l.renewedAt) < l.opt.Lease/3 {
		return
	}
	l.renewedAt = now
	// The clock is read around the renewal, not taken from the tick: after
	// a stall the ticker hands over a tick from before it, and the renewal
	// itself may have waited.
	start := time.Now()
	revive, readded, ok := l.renew()
	if !ok {
		return
	}
	l.revive(revive)
	now = time.Now()
	lapsed := !l.lastRenewal.IsZero() && now.Sub(l.lastRenewal) > l.opt.Lease
	if l.lastRenewal.IsZero() || lapsed {
		l.healthySince = now
	}
	if lapsed || (readded && !l.lastRenewal.IsZero()) {
		// Another instance may have taken this one for dead meanwhile
		// (a renewal's answer can be lost while the command went through,
		// so the lapse is the surer sign).
		l.log.Warn("redis: this instance's lease may have lapsed; reclaiming its seats")
		l.reassert = 3
	}
	l.lastRenewal = start
	if now.Sub(l.healthySince) < l.opt.Lease || !l.sweeping.CompareAndSwap(false, true) {
		return
	}
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		defer l.sweeping.Store(false)
		if err := l.sweep(); err != nil && l.ctx.Err() == nil {
			l.log.Warn("redis: checking other instances failed", "err", err)
		}
	}()
}

// sweep finds instances whose lease expired and hands their seats to
// OnOrphaned.
func (l *Leases) sweep() error {
	ctx, cancel := context.WithTimeout(l.ctx, l.opt.Lease)
	defer cancel()
	l.mu.Lock()
	orphaned := l.orphaned
	l.mu.Unlock()
	if orphaned == nil {
		return nil // nothing to hand their seats to yet
	}
	ids, err := l.client.SMembers(ctx, instancesKey).Result()
	if err != nil {
		return err
	}
	var others []string
	for _, id := range ids {
		if id != l.instance {
			others = append(others, id)
		}
	}
	if len(others) == 0 {
		return nil
	}
	exists := make([]*redis.IntCmd, len(others))
	if _, err := l.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		for i, id := range others {
			exists[i] = p.Exists(ctx, liveKey(id))
		}
		return nil
	}); err != nil {
		return err
	}
	for i, id := range others {
		if exists[i].Val() != 0 {
			continue
		}
		// Only the instance whose SREM removes the id takes over its seats.
		if n, err := l.client.SRem(ctx, instancesKey, id).Result(); err != nil || n == 0 {
			if err != nil {
				return err
			}
			continue
		}
		held, err := l.client.SMembers(ctx, heldKey(id)).Result()
		if err != nil {
			return err
		}
		l.log.Info("redis: an instance stopped without closing its sockets; marking its seats reconnecting", "seats", len(held))
		for _, h := range held {
			m, ok := parseHeld(h)
			if !ok {
				continue
			}
			octx, cancel := context.WithTimeout(l.ctx, orphanTimeout)
			err := orphaned(octx, m)
			cancel()
			if err != nil && !room.IsRefusal(err) {
				l.log.Warn("redis: marking a seat reconnecting failed", "err", err)
			}
		}
		if err := l.client.Del(ctx, heldKey(id)).Err(); err != nil {
			return err
		}
	}
	return nil
}

// dropLease deletes this instance's keys.
func (l *Leases) dropLease() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	l.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, liveKey(l.instance))
		p.Del(ctx, heldKey(l.instance))
		p.SRem(ctx, instancesKey, l.instance)
		return nil
	})
}
