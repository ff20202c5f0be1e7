package localca

import (
	"net"
	"os"
	"slices"
	"strings"
)

// Names are the host names and addresses a server certificate covers.
type Names struct {
	DNS []string
	IPs []net.IP
}

// permitted returns n without what the CA may not vouch for, without
// duplicates, IPv4 addresses in their 4-byte form.
func (n Names) permitted() Names {
	var out Names
	for _, d := range n.DNS {
		d = strings.ToLower(strings.TrimSuffix(d, "."))
		if PermittedDNS(d) && !slices.Contains(out.DNS, d) {
			out.DNS = append(out.DNS, d)
		}
	}
	for _, ip := range n.IPs {
		if v4 := ip.To4(); v4 != nil {
			ip = v4
		}
		if PermittedIP(ip) && !slices.ContainsFunc(out.IPs, ip.Equal) {
			out.IPs = append(out.IPs, ip)
		}
	}
	return out
}

// LAN returns the address phones on the home network should use: the first
// private IPv4 address (RFC 1918), else the first other non-loopback one, else
// nil.
func (n Names) LAN() net.IP {
	var other net.IP
	for _, ip := range n.IPs {
		if ip.IsPrivate() && ip.To4() != nil {
			return ip
		}
		if other == nil && !ip.IsLoopback() && !ip.IsLinkLocalUnicast() {
			other = ip
		}
	}
	return other
}

// Has reports whether host (a name or an address) is among n.
func (n Names) Has(host string) bool {
	if ip := net.ParseIP(host); ip != nil {
		return slices.ContainsFunc(n.IPs, ip.Equal)
	}
	return slices.Contains(n.DNS, strings.ToLower(strings.TrimSuffix(host, ".")))
}

// LocalNames returns this computer's names and addresses: localhost, its
// host name as NAME.local (and as it is, if it is already under a permitted
// domain), and the addresses of its network interfaces that the CA may vouch
// for.
func LocalNames() (Names, error) {
	host, _ := os.Hostname()
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return Names{}, err
	}
	return namesFrom(host, addrs), nil
}

func namesFrom(host string, addrs []net.Addr) Names {
	n := Names{DNS: []string{"localhost"}}
	host = strings.ToLower(strings.TrimSuffix(host, "."))
	if label, _, _ := strings.Cut(host, "."); validLabel(label) {
		n.DNS = append(n.DNS, label+".local")
	}
	if strings.Contains(host, ".") {
		n.DNS = append(n.DNS, host) // kept by permitted() only under a permitted domain
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && !(ipn.IP.To4() == nil && ipn.IP.IsLinkLocalUnicast()) {
			// IPv6 link-local addresses need a zone, which URLs in
			// browsers cannot carry.
			n.IPs = append(n.IPs, ipn.IP)
		}
	}
	return n.permitted()
}

// validLabel reports whether s is a DNS label a certificate may carry.
func validLabel(s string) bool {
	if s == "" || len(s) > 63 || s[0] == '-' || s[len(s)-1] == '-' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}
