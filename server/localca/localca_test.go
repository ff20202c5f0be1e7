package localca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// clock is a settable time for tests.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// names is a settable Names function for tests.
type names struct {
	mu sync.Mutex
	n  Names
}

func (n *names) get() (Names, error) { n.mu.Lock(); defer n.mu.Unlock(); return n.n, nil }
func (n *names) set(v Names)         { n.mu.Lock(); defer n.mu.Unlock(); n.n = v }

func ips(s ...string) []net.IP {
	var out []net.IP
	for _, a := range s {
		out = append(out, net.ParseIP(a))
	}
	return out
}

func open(t *testing.T, dir string, c *clock, n *names) *Authority {
	t.Helper()
	a, err := Open(Options{Dir: dir, Now: c.now, Names: n.get})
	if err != nil {
		t.Fatal(err)
	}
	return a
}

func leafOf(t *testing.T, a *Authority) *x509.Certificate {
	t.Helper()
	c, err := a.GetCertificate(nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.Leaf
}

var oidNameConstraints = asn1.ObjectIdentifier{2, 5, 29, 30}

// The certificates meet what iOS and Chrome/Android ask of a trusted server
// certificate and its root (see the package comment for the sources).
func TestCertificatesMeetPhoneRequirements(t *testing.T) {
	c := &clock{t: time.Now()}
	n := &names{n: Names{
		DNS: []string{"localhost", "box.local", "bank.example"},
		IPs: ips("127.0.0.1", "192.168.1.20", "::1", "fd00::5", "8.8.8.8", "2001:db8::1"),
	}}
	a := open(t, t.TempDir(), c, n)

	ca := a.Certificate()
	if !ca.IsCA || !ca.BasicConstraintsValid || !ca.MaxPathLenZero || ca.MaxPathLen != 0 {
		t.Errorf("CA basic constraints: IsCA %v valid %v maxPathLen %d", ca.IsCA, ca.BasicConstraintsValid, ca.MaxPathLen)
	}
	if ca.KeyUsage != x509.KeyUsageCertSign|x509.KeyUsageCRLSign {
		t.Errorf("CA key usage %b", ca.KeyUsage)
	}
	if !slices.Equal(ca.PermittedDNSDomains, permittedDNS) || len(ca.PermittedIPRanges) != len(permittedIPs) {
		t.Errorf("CA name constraints %v %v", ca.PermittedDNSDomains, ca.PermittedIPRanges)
	}
	critical := false
	for _, e := range ca.Extensions {
		if e.Id.Equal(oidNameConstraints) {
			critical = e.Critical
		}
	}
	if !critical {
		t.Error("name constraints are not critical")
	}

	leaf := leafOf(t, a)
	for name, cert := range map[string]*x509.Certificate{"CA": ca, "leaf": leaf} {
		if k, ok := cert.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
			t.Errorf("%s: key %T, want ECDSA P-256", name, cert.PublicKey)
		}
		if cert.SignatureAlgorithm != x509.ECDSAWithSHA256 {
			t.Errorf("%s: signature %v", name, cert.SignatureAlgorithm)
		}
		if cert.SerialNumber.Sign() <= 0 || cert.SerialNumber.BitLen() < 64 {
			t.Errorf("%s: serial %v has fewer than 64 bits", name, cert.SerialNumber)
		}
	}
	if leaf.IsCA || !leaf.BasicConstraintsValid {
		t.Error("leaf: want basicConstraints cA:false")
	}
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("leaf key usage %b, want digitalSignature", leaf.KeyUsage)
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("leaf EKU %v, want serverAuth", leaf.ExtKeyUsage)
	}
	if v := leaf.NotAfter.Sub(leaf.NotBefore); v > 398*24*time.Hour {
		t.Errorf("leaf valid for %v, more than 398 days", v)
	}
	if !slices.Equal(leaf.DNSNames, []string{"localhost", "box.local"}) {
		t.Errorf("leaf DNS names %v", leaf.DNSNames)
	}
	var got []string
	for _, ip := range leaf.IPAddresses {
		got = append(got, ip.String())
	}
	if !slices.Equal(got, []string{"127.0.0.1", "192.168.1.20", "::1", "fd00::5"}) {
		t.Errorf("leaf IPs %v (public addresses must be left out)", got)
	}
	if leaf.Subject.CommonName != "localhost" {
		t.Errorf("leaf CN %q is not one of its SANs", leaf.Subject.CommonName)
	}

	roots := x509.NewCertPool()
	roots.AddCert(ca)
	for _, host := range []string{"localhost", "box.local", "127.0.0.1", "192.168.1.20", "::1", "fd00::5"} {
		if _, err := leaf.Verify(x509.VerifyOptions{DNSName: host, Roots: roots, CurrentTime: c.now()}); err != nil {
			t.Errorf("verify for %s: %v", host, err)
		}
	}
}

// A certificate the CA's key signs for a public name or address is refused
// by a verifier that trusts only the CA: the name constraints hold even if
// the key were stolen.
func TestNameConstraintsRefuseOtherNames(t *testing.T) {
	c := &clock{t: time.Now()}
	a := open(t, t.TempDir(), c, &names{n: Names{DNS: []string{"localhost"}}})
	roots := x509.NewCertPool()
	roots.AddCert(a.Certificate())
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	for _, tc := range []struct {
		host string
		tmpl x509.Certificate
	}{
		{"bank.example", x509.Certificate{DNSNames: []string{"bank.example"}}},
		{"8.8.8.8", x509.Certificate{IPAddresses: ips("8.8.8.8")}},
		{"local.example", x509.Certificate{DNSNames: []string{"local.example"}}},
	} {
		tmpl := tc.tmpl
		tmpl.SerialNumber = big.NewInt(2)
		tmpl.Subject = pkix.Name{CommonName: tc.host}
		tmpl.NotBefore, tmpl.NotAfter = c.now().Add(-time.Hour), c.now().Add(time.Hour)
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		der, err := x509.CreateCertificate(rand.Reader, &tmpl, a.cert, &key.PublicKey, a.key)
		if err != nil {
			t.Fatal(err)
		}
		cert, _ := x509.ParseCertificate(der)
		_, err = cert.Verify(x509.VerifyOptions{DNSName: tc.host, Roots: roots, CurrentTime: c.now()})
		var ce x509.CertificateInvalidError
		if !asCertInvalid(err, &ce) || ce.Reason != x509.CANotAuthorizedForThisName {
			t.Errorf("%s: verify = %v, want CANotAuthorizedForThisName", tc.host, err)
		}
	}
}

func asCertInvalid(err error, target *x509.CertificateInvalidError) bool {
	ce, ok := err.(x509.CertificateInvalidError)
	if ok {
		*target = ce
	}
	return ok
}

// The CA is made once: a restart finds the same one, and the same server
// certificate while it is good. Keys are readable by the owner only.
func TestCAPersistsAndFilesArePrivate(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	c := &clock{t: time.Now()}
	n := &names{n: Names{DNS: []string{"localhost"}, IPs: ips("127.0.0.1")}}
	a := open(t, dir, c, n)
	b := open(t, dir, c, n)
	if a.Fingerprint() != b.Fingerprint() {
		t.Fatalf("fingerprint changed across restarts: %s, %s", a.Fingerprint(), b.Fingerprint())
	}
	if leafOf(t, a).SerialNumber.Cmp(leafOf(t, b).SerialNumber) != 0 {
		t.Error("a restart reissued a server certificate that was still good")
	}
	if len(strings.Split(a.Fingerprint(), ":")) != 32 {
		t.Errorf("fingerprint %q is not 32 hex pairs", a.Fingerprint())
	}
	for name, want := range map[string]os.FileMode{"": 0o700, CAFile: 0o600, ServerFile: 0o600} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != want {
			t.Errorf("%q: mode %v, want %v", name, fi.Mode().Perm(), want)
		}
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("data directory holds %d files, want 2 (no temporary files left)", len(entries))
	}
}

// Two servers starting at once on one directory end up with one CA.
func TestConcurrentOpenAgreesOnOneCA(t *testing.T) {
	dir := t.TempDir()
	n := &names{n: Names{DNS: []string{"localhost"}}}
	fps := make([]string, 4)
	var wg sync.WaitGroup
	for i := range fps {
		wg.Go(func() {
			a, err := Open(Options{Dir: dir, Names: n.get})
			if err != nil {
				t.Error(err)
				return
			}
			fps[i] = a.Fingerprint()
		})
	}
	wg.Wait()
	a := open(t, dir, &clock{t: time.Now()}, n)
	for i, fp := range fps {
		if fp != a.Fingerprint() {
			t.Errorf("opener %d got CA %s, the directory holds %s", i, fp, a.Fingerprint())
		}
	}
}

// The server certificate is reissued when the computer gets an address it
// does not cover (noticed within Recheck), when it nears expiry, and not
// otherwise; a restart picks up the reissued one.
func TestServerCertificateReissued(t *testing.T) {
	dir := t.TempDir()
	c := &clock{t: time.Now()}
	n := &names{n: Names{DNS: []string{"localhost"}, IPs: ips("127.0.0.1", "192.168.1.20")}}
	a := open(t, dir, c, n)
	first := leafOf(t, a)

	// An address going away needs no new certificate.
	n.set(Names{DNS: []string{"localhost"}, IPs: ips("127.0.0.1")})
	c.add(DefaultRecheck)
	if leafOf(t, a).SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Fatal("reissued for a lost address")
	}

	// A new address is noticed once Recheck has passed.
	n.set(Names{DNS: []string{"localhost"}, IPs: ips("127.0.0.1", "10.0.0.7")})
	if leafOf(t, a).SerialNumber.Cmp(first.SerialNumber) != 0 {
		t.Fatal("looked at the addresses again before Recheck")
	}
	c.add(DefaultRecheck)
	second := leafOf(t, a)
	if second.SerialNumber.Cmp(first.SerialNumber) == 0 || second.VerifyHostname("10.0.0.7") != nil {
		t.Fatalf("new address 10.0.0.7 not covered: %v", second.IPAddresses)
	}
	if !a.Names().Has("10.0.0.7") || a.Names().Has("192.168.1.20") {
		t.Errorf("Names() = %v, want the current addresses", a.Names())
	}

	// Nearing expiry, it is renewed, at once.
	c.add(second.NotAfter.Sub(c.now()) - RenewBefore + time.Second)
	third := leafOf(t, a)
	if third.SerialNumber.Cmp(second.SerialNumber) == 0 || !third.NotAfter.After(second.NotAfter) {
		t.Fatal("not renewed within RenewBefore of expiry")
	}

	// A restart takes the saved, reissued certificate.
	b := open(t, dir, c, n)
	if leafOf(t, b).SerialNumber.Cmp(third.SerialNumber) != 0 {
		t.Error("restart did not load the saved server certificate")
	}
}

// An expired CA is an error that says what to do, not a silent new CA the
// phones do not trust.
func TestExpiredCARefused(t *testing.T) {
	dir := t.TempDir()
	n := &names{n: Names{DNS: []string{"localhost"}}}
	open(t, dir, &clock{t: time.Now()}, n)
	_, err := Open(Options{Dir: dir, Names: n.get, Now: func() time.Time { return time.Now().Add(CAValidity + time.Hour) }})
	if err == nil || !strings.Contains(err.Error(), "expired") {
		t.Fatalf("Open with an expired CA: %v", err)
	}
}

func TestNamesFrom(t *testing.T) {
	addrs := func(cidrs ...string) []net.Addr {
		var out []net.Addr
		for _, s := range cidrs {
			ip, n, _ := net.ParseCIDR(s)
			out = append(out, &net.IPNet{IP: ip, Mask: n.Mask})
		}
		return out
	}
	lan := addrs("127.0.0.1/8", "192.168.1.20/24", "::1/128", "fe80::1/64", "fd00::5/64", "203.0.113.9/24", "2001:db8::1/64")
	for _, tc := range []struct {
		host    string
		wantDNS []string
	}{
		{"Alex-Laptop", []string{"localhost", "alex-laptop.local"}},
		{"box.lan", []string{"localhost", "box.local", "box.lan"}},
		{"box.example.com", []string{"localhost", "box.local"}},
		{"box.local", []string{"localhost", "box.local"}},
		{"bad_name", []string{"localhost"}},
		{"", []string{"localhost"}},
	} {
		n := namesFrom(tc.host, lan)
		if !slices.Equal(n.DNS, tc.wantDNS) {
			t.Errorf("%q: DNS %v, want %v", tc.host, n.DNS, tc.wantDNS)
		}
		var got []string
		for _, ip := range n.IPs {
			got = append(got, ip.String())
		}
		if want := []string{"127.0.0.1", "192.168.1.20", "::1", "fd00::5"}; !slices.Equal(got, want) {
			t.Errorf("%q: IPs %v, want %v", tc.host, got, want)
		}
		if lanIP := n.LAN(); lanIP.String() != "192.168.1.20" {
			t.Errorf("LAN() = %v", lanIP)
		}
	}
}
