package edge

import (
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Per-address defaults. Couples behind one carrier NAT share an address, so
// the socket cap is generous; pairing attempts are what an attacker would
// spray, so those are tight.
const (
	DefaultSocketsPerIP = 256
	DefaultAdmitsPerIP  = 10               // create or join attempts ...
	DefaultAdmitsPer    = 10 * time.Second // ... per this long, with that burst
	ipEntryIdle         = 10 * time.Minute
	ipSweepEvery        = 1024 // sweep idle entries every this many lookups
)

// ipLimits tracks, per client address, how many sockets are open and how
// fast it tries to create or join rooms.
type ipLimits struct {
	maxSockets int
	admitRate  rate.Limit
	admitBurst int

	mu      sync.Mutex
	entries map[string]*ipEntry
	lookups int
}

type ipEntry struct {
	sockets int
	admits  *rate.Limiter
	seen    time.Time
}

func newIPLimits(maxSockets, admits int, per time.Duration) *ipLimits {
	return &ipLimits{
		maxSockets: maxSockets,
		admitRate:  rate.Every(per / time.Duration(admits)),
		admitBurst: admits,
		entries:    make(map[string]*ipEntry),
	}
}

// entry returns ip's entry; l.mu must be held.
func (l *ipLimits) entry(ip string) *ipEntry {
	now := time.Now()
	l.lookups++
	if l.lookups%ipSweepEvery == 0 {
		for k, e := range l.entries {
			if e.sockets == 0 && now.Sub(e.seen) > ipEntryIdle {
				delete(l.entries, k)
			}
		}
	}
	e := l.entries[ip]
	if e == nil {
		e = &ipEntry{admits: rate.NewLimiter(l.admitRate, l.admitBurst)}
		l.entries[ip] = e
	}
	e.seen = now
	return e
}

// openSocket counts a socket for ip, or reports false at the cap.
func (l *ipLimits) openSocket(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	e := l.entry(ip)
	if e.sockets >= l.maxSockets {
		return false
	}
	e.sockets++
	return true
}

func (l *ipLimits) closeSocket(ip string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if e := l.entries[ip]; e != nil && e.sockets > 0 {
		e.sockets--
		e.seen = time.Now()
	}
}

// admit reports whether ip may try to create or join a room now.
func (l *ipLimits) admit(ip string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.entry(ip).admits.Allow()
}

// clientIP is the address limits apply to: the peer, or, behind a trusted
// proxy, the address the proxy saw: the very last X-Forwarded-For entry, the
// one the proxy itself appended, across all the header's lines (a client can
// send lines of its own, but cannot come after the proxy's).
func clientIP(r *http.Request, trustProxy bool) string {
	if trustProxy {
		if lines := r.Header.Values("X-Forwarded-For"); len(lines) > 0 {
			parts := strings.Split(lines[len(lines)-1], ",")
			if ip := strings.TrimSpace(parts[len(parts)-1]); ip != "" {
				return ip
			}
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
