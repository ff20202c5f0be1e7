package redisstore

import (
	"crypto/tls"
	"errors"
	"fmt"
	"strings"

	"github.com/redis/go-redis/v9"
)

// Config says how to reach Redis. Exactly one of URL and Addrs is set.
//
//   - One node: URL, "redis://[user:password@]host:port[/db]", or "rediss://"
//     for TLS (any option redis.ParseURL knows may follow as a query).
//   - Sentinel: Addrs lists the Sentinels and MasterName names the master
//     they watch; the client follows failovers.
//   - Cluster: Addrs lists seed nodes (one reachable node is enough) and
//     MasterName is empty.
//
// Username, Password and TLS apply to Addrs only (a URL carries its own);
// SentinelPassword is the Sentinels' own password, when they have one.
// PoolSize, when positive, is how many connections the client keeps per
// node; it overrides a URL's pool_size.
type Config struct {
	URL              string
	Addrs            []string
	MasterName       string
	Username         string
	Password         string
	SentinelPassword string
	TLS              bool
	PoolSize         int
}

// NewClient returns a client for cfg. Commands honour their context's
// deadline (ContextTimeoutEnabled), so a caller's timeout bounds each one.
// The caller closes the client after the Store.
func NewClient(cfg Config) (redis.UniversalClient, error) {
	switch {
	case cfg.URL != "" && len(cfg.Addrs) > 0:
		return nil, errors.New("redis: give either a URL or addresses, not both")
	case cfg.URL != "":
		if cfg.MasterName != "" || cfg.Username != "" || cfg.Password != "" || cfg.SentinelPassword != "" || cfg.TLS {
			return nil, errors.New("redis: a URL carries its own credentials and TLS (rediss://); the other Redis settings are for addresses")
		}
		opt, err := redis.ParseURL(cfg.URL)
		if err != nil {
			// ParseURL's errors may quote the URL, password included.
			return nil, errors.New("redis: the URL must look like redis://[user:password@]host:port[/db], or rediss:// with TLS")
		}
		opt.ContextTimeoutEnabled = true
		if cfg.PoolSize > 0 {
			opt.PoolSize = cfg.PoolSize
		}
		return redis.NewClient(opt), nil
	case len(cfg.Addrs) > 0:
		for _, a := range cfg.Addrs {
			if a == "" || strings.Contains(a, "://") {
				return nil, fmt.Errorf("redis: addresses are host:port, got %q", a)
			}
		}
		opt := &redis.UniversalOptions{
			Addrs:                 cfg.Addrs,
			MasterName:            cfg.MasterName,
			Username:              cfg.Username,
			Password:              cfg.Password,
			SentinelPassword:      cfg.SentinelPassword,
			IsClusterMode:         cfg.MasterName == "",
			ContextTimeoutEnabled: true,
			PoolSize:              cfg.PoolSize, // 0 is go-redis's default
		}
		if cfg.TLS {
			opt.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
		}
		return redis.NewUniversalClient(opt), nil
	}
	return nil, errors.New("redis: no URL and no addresses")
}
