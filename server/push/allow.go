package push

import (
	"errors"
	"net"
	"net/url"
	"strings"
)

// DefaultServices are the push services of the browsers Softland runs in:
// Chrome and Android (FCM), Firefox (Mozilla autopush), Safari and iOS
// (Apple) and Edge (Windows Push Notification Services).
var DefaultServices = []string{
	"fcm.googleapis.com",
	"updates.push.services.mozilla.com",
	"*.push.apple.com",
	"*.notify.windows.com",
}

// allowlist is the set of push services the server sends to. A phone
// chooses the endpoint of its subscription; without the list, a phone could
// make the server POST to any URL (an internal address, a third party).
type allowlist struct {
	exact    map[string]bool // host, or host:port for a non-default port
	suffixes []string        // ".push.apple.com" for "*.push.apple.com"
}

// newAllowlist reads patterns: a host name ("fcm.googleapis.com"), a
// wildcard for any name below one ("*.push.apple.com"), or a host:port
// (only for test stand-ins; real push services listen on 443).
func newAllowlist(patterns []string) (*allowlist, error) {
	a := &allowlist{exact: map[string]bool{}}
	for _, p := range patterns {
		p = strings.ToLower(strings.TrimSpace(p))
		switch {
		case p == "":
		case strings.HasPrefix(p, "*."):
			if strings.ContainsAny(p[2:], "*/:") || !strings.Contains(p[2:], ".") {
				return nil, errors.New("push services: a wildcard covers names below a domain, as in *.push.apple.com")
			}
			a.suffixes = append(a.suffixes, p[1:])
		case strings.ContainsAny(p, "*/@"):
			return nil, errors.New("push services: give host names, such as fcm.googleapis.com or *.push.apple.com")
		default:
			a.exact[p] = true
		}
	}
	return a, nil
}

// allowed reports whether endpoint is an https URL of a listed service.
func (a *allowlist) allowed(endpoint string) bool {
	u, err := url.Parse(endpoint)
	if err != nil || u.Scheme != "https" || u.User != nil || u.Host == "" {
		return false
	}
	host := strings.ToLower(u.Hostname())
	if port := u.Port(); port != "" && port != "443" {
		return a.exact[net.JoinHostPort(host, port)]
	}
	if a.exact[host] {
		return true
	}
	for _, s := range a.suffixes {
		if strings.HasSuffix(host, s) && len(host) > len(s) {
			return true
		}
	}
	return false
}
