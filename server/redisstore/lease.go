package redisstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"time"

	"github.com/redis/go-redis/v9"

	"softland/server/room"
)

// Instances and the seats they hold
//
// An instance that is killed cannot tell anyone that its sockets are gone,
// so their seats would stay "online" for the partner. Each Store therefore
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

var _ room.SeatHolder = (*Store)(nil)

// Instance returns this store's instance id.
func (s *Store) Instance() string { return s.instance }

// OnOrphaned implements room.SeatHolder: f is called for each seat held by
// an instance that died; room.New passes its Service's Orphaned.
func (s *Store) OnOrphaned(f func(ctx context.Context, m room.Member) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.orphaned = f
}

// OnRevived implements room.SeatHolder: f is called for each seat this
// instance holds when it finds it was taken for dead while alive.
func (s *Store) OnRevived(f func(ctx context.Context, m room.Member) error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.revived = f
}

// Hold implements room.SeatHolder.
func (s *Store) Hold(ctx context.Context, m room.Member) {
	s.heldMu.Lock()
	s.held[m] = struct{}{}
	s.heldMu.Unlock()
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.SAdd(ctx, heldKey(s.instance), heldMember(m))
		p.PExpire(ctx, heldKey(s.instance), s.heldTTL())
		return nil
	})
	if err != nil {
		s.log.Debug("redis: recording a held seat failed", "err", err)
	}
}

// Release implements room.SeatHolder.
func (s *Store) Release(ctx context.Context, m room.Member) {
	s.heldMu.Lock()
	delete(s.held, m)
	s.heldMu.Unlock()
	if err := s.client.SRem(ctx, heldKey(s.instance), heldMember(m)).Err(); err != nil {
		s.log.Debug("redis: releasing a held seat failed", "err", err)
	}
}

func (s *Store) heldTTL() time.Duration { return 10 * s.opt.Lease }

// renew refreshes this instance's lease and the keys that name it, and
// reports whether that worked. While reassert is positive it also writes
// back the held set and returns the seats it holds, to be revived. It
// reports whether the id had to be added to sl:instances anew.
func (s *Store) renew() (revive []room.Member, readded, ok bool) {
	ctx, cancel := context.WithTimeout(s.ctx, s.opt.Lease/2)
	defer cancel()
	var held []string
	if s.reassert > 0 {
		revive = s.heldNow()
		for _, m := range revive {
			held = append(held, heldMember(m))
		}
	}
	var added *redis.IntCmd
	_, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Set(ctx, liveKey(s.instance), "1", s.opt.Lease)
		added = p.SAdd(ctx, instancesKey, s.instance)
		p.PExpire(ctx, instancesKey, s.heldTTL())
		if len(held) > 0 {
			p.SAdd(ctx, heldKey(s.instance), held)
		}
		p.PExpire(ctx, heldKey(s.instance), s.heldTTL())
		return nil
	})
	if err != nil {
		return nil, false, false
	}
	if s.reassert > 0 {
		s.reassert--
	}
	return revive, added.Val() == 1, true
}

// heldNow returns the connections this instance holds.
func (s *Store) heldNow() []room.Member {
	s.heldMu.Lock()
	defer s.heldMu.Unlock()
	ms := make([]room.Member, 0, len(s.held))
	for m := range s.held {
		ms = append(ms, m)
	}
	return ms
}

// revive hands each of ms to OnRevived, off the manage goroutine.
func (s *Store) revive(ms []room.Member) {
	s.mu.Lock()
	revived := s.revived
	s.mu.Unlock()
	if revived == nil || len(ms) == 0 {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		for _, m := range ms {
			ctx, cancel := context.WithTimeout(s.ctx, orphanTimeout)
			err := revived(ctx, m)
			cancel()
			if err != nil && !room.IsRefusal(err) && s.ctx.Err() == nil {
				s.log.Warn("redis: marking a seat online again failed", "err", err)
			}
		}
	}()
}

// leaseTick runs from manage: it renews the lease every Lease/3 and, once
// the lease has been held without a lapse for a whole Lease, starts a sweep
// for dead instances unless one is running. A renewal that fails is no lapse
// as long as one succeeds within a Lease of the last: a busy moment must not
// stop the sweeps, but an outage long enough to let leases expire must
// give every instance the time to renew before anyone is judged.
func (s *Store) leaseTick(now time.Time) {
	if now.Sub(s.renewedAt) < s.opt.Lease/3 {
		return
	}
	s.renewedAt = now
	// The clock is read around the renewal, not taken from the tick: after
	// a stall the ticker hands over a tick from before it, and the renewal
	// itself may have waited.
	start := time.Now()
	revive, readded, ok := s.renew()
	if !ok {
		return
	}
	s.revive(revive)
	now = time.Now()
	lapsed := !s.lastRenewal.IsZero() && now.Sub(s.lastRenewal) > s.opt.Lease
	if s.lastRenewal.IsZero() || lapsed {
		s.healthySince = now
	}
	if lapsed || (readded && !s.lastRenewal.IsZero()) {
		// Another instance may have taken this one for dead meanwhile
		// (a renewal's answer can be lost while the command went through,
		// so the lapse is the surer sign).
		s.log.Warn("redis: this instance's lease may have lapsed; reclaiming its seats")
		s.reassert = 3
	}
	s.lastRenewal = start
	if now.Sub(s.healthySince) < s.opt.Lease || !s.sweeping.CompareAndSwap(false, true) {
		return
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer s.sweeping.Store(false)
		if err := s.sweep(); err != nil && s.ctx.Err() == nil {
			s.log.Warn("redis: checking other instances failed", "err", err)
		}
	}()
}

// sweep finds instances whose lease expired and hands their seats to
// OnOrphaned.
func (s *Store) sweep() error {
	ctx, cancel := context.WithTimeout(s.ctx, s.opt.Lease)
	defer cancel()
	ids, err := s.client.SMembers(ctx, instancesKey).Result()
	if err != nil {
		return err
	}
	var others []string
	for _, id := range ids {
		if id != s.instance {
			others = append(others, id)
		}
	}
	if len(others) == 0 {
		return nil
	}
	exists := make([]*redis.IntCmd, len(others))
	if _, err := s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
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
		if n, err := s.client.SRem(ctx, instancesKey, id).Result(); err != nil || n == 0 {
			if err != nil {
				return err
			}
			continue
		}
		held, err := s.client.SMembers(ctx, heldKey(id)).Result()
		if err != nil {
			return err
		}
		s.log.Info("redis: an instance stopped without closing its sockets; marking its seats reconnecting", "seats", len(held))
		s.mu.Lock()
		orphaned := s.orphaned
		s.mu.Unlock()
		for _, h := range held {
			m, ok := parseHeld(h)
			if !ok || orphaned == nil {
				continue
			}
			octx, cancel := context.WithTimeout(s.ctx, orphanTimeout)
			err := orphaned(octx, m)
			cancel()
			if err != nil && !room.IsRefusal(err) {
				s.log.Warn("redis: marking a seat reconnecting failed", "err", err)
			}
		}
		if err := s.client.Del(ctx, heldKey(id)).Err(); err != nil {
			return err
		}
	}
	return nil
}

// dropLease deletes this instance's keys when it closes: its sockets have
// been closed, and Leave marked their seats.
func (s *Store) dropLease() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s.client.Pipelined(ctx, func(p redis.Pipeliner) error {
		p.Del(ctx, liveKey(s.instance))
		p.Del(ctx, heldKey(s.instance))
		p.SRem(ctx, instancesKey, s.instance)
		return nil
	})
}
