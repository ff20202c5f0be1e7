package fleet

import (
	"net"
	"testing"
)

func TestSourceIPs(t *testing.T) {
	seen := map[string]bool{}
	for n := range 5000 {
		ip := SourceIP(n)
		if !ip.IsLoopback() || ip.Equal(net.IPv4(127, 0, 0, 1)) {
			t.Fatalf("SourceIP(%d) = %v", n, ip)
		}
		if last := ip.To4()[3]; last < 2 || last == 255 {
			t.Fatalf("SourceIP(%d) = %v", n, ip)
		}
		if seen[ip.String()] {
			t.Fatalf("SourceIP(%d) = %v again", n, ip)
		}
		seen[ip.String()] = true
	}
}
