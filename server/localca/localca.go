// Package localca is home mode's certificate authority: a small CA made once
// on this computer and kept in a data directory, and the server certificate it
// issues for this computer's home-network addresses and names. Two phones
// that trust the CA then reach the server over HTTPS, which the web app needs:
// WebCrypto and service workers exist only in a secure context, and a
// self-signed certificate clicked through with "proceed anyway" is not one
// for service workers.
//
// The package knows nothing of HTTP or of phones; package setup explains to a
// person how to trust the CA, and the server binary wires both.
//
// # What phones require, and what we issue
//
// The server certificate meets what iOS and Android (Chrome) ask of a trusted
// TLS server certificate:
//
//   - Apple, "Requirements for trusted certificates in iOS 13 and macOS
//     10.15" (support.apple.com/en-us/103769, formerly HT210176): RSA keys of at least 2048 bits
//     (we use ECDSA P-256), SHA-2 signatures (ECDSA with SHA-256), host names
//     in the Subject Alternative Name extension (the Common Name is not
//     trusted), the id-kp-serverAuth extended key usage, and a validity of at
//     most 825 days for certificates issued after 2019-07-01.
//   - Apple, "About upcoming limits on trusted certificates"
//     (support.apple.com/HT211025): at most 398 days for certificates issued
//     on or after 2020-09-01. Apple applies that limit to its public roots,
//     not to roots a user added, but our 90 days meet it anyway (and the
//     CA/Browser Forum's later, shorter limits for public CAs down to 100
//     days in 2027).
//   - Chrome (and so Android's browser): since Chrome 58 only the Subject
//     Alternative Name names a host; the Chrome Root Program Policy and the
//     CA/Browser Forum Baseline Requirements (§6.1.5 key sizes: RSA ≥ 2048
//     or ECDSA P-256/P-384; §7.1 serial numbers with at least 64 random
//     bits; §7.1.2 profiles: a leaf with basicConstraints cA:false,
//     keyUsage digitalSignature for an ECDSA key, extKeyUsage serverAuth; a
//     root with basicConstraints cA:true and keyUsage keyCertSign and
//     cRLSign). Chrome's 398-day limit binds publicly trusted CAs only;
//     locally trusted roots are exempt, and we meet it regardless.
//   - Android: since Android 7 apps trust user-installed CAs only when they
//     opt in; Chrome does. Since Android 11 a CA certificate cannot be
//     installed from the browser's download prompt, only from Settings, which
//     is what the setup page tells the user.
//
// A leaf lasts LeafValidity and is reissued when less than RenewBefore
// remains or when it no longer covers an address the computer has; the CA
// lasts CAValidity (roots are not bound by those limits; mkcert uses ten
// years too).
//
// # Name constraints
//
// The CA carries a critical Name Constraints extension (RFC 5280 §4.2.1.10)
// that lets it vouch only for home-network names and addresses: localhost and
// the names under .local (mDNS), .home.arpa (RFC 8375), .lan and .internal,
// and the private, shared (100.64.0.0/10, as used by CGNAT and mesh VPNs),
// link-local and loopback address ranges. A phone that trusts it has thereby
// not given this computer the power to impersonate its bank, even if the CA's
// key were stolen. It is feasible because the leaf never needs anything
// else: the phones reach the server by a LAN address. Verifiers that enforce
// constraints in a trust anchor: Go, Chrome (for locally installed roots
// since 2024, crbug.com/1072083) and Apple's trustd (its Security framework
// checks name constraints). A verifier that ignores them in a trust anchor
// (RFC 5280 does not oblige it to) still accepts the certificate; it just
// offers less protection. The host's bare name ("alex-laptop") is not
// permitted: a single-label constraint would also permit a whole public
// top-level domain should the name equal one ("dev", "app"), so the leaf
// names the host as alex-laptop.local instead, which iOS and Android resolve
// by mDNS.
package localca

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Lifetimes and checks; see the package comment for the rules behind them.
const (
	CAValidity     = 10 * 365 * 24 * time.Hour
	LeafValidity   = 90 * 24 * time.Hour
	RenewBefore    = 30 * 24 * time.Hour
	DefaultRecheck = time.Minute
	// backdate starts validity an hour early, for phones whose clocks run
	// a little behind.
	backdate = time.Hour
)

// Files in the data directory. The CA's certificate and key share one file
// so that they are created together, atomically, or not at all.
const (
	CAFile     = "ca.pem"
	ServerFile = "server.pem"
)

// permittedDNS and permittedIPs are the CA's name constraints.
var permittedDNS = []string{"localhost", "local", "home.arpa", "lan", "internal"}

var permittedIPs = mustCIDRs(
	"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", // private (RFC 1918)
	"100.64.0.0/10",  // shared address space (RFC 6598): CGNAT, mesh VPNs
	"169.254.0.0/16", // link-local
	"127.0.0.0/8",    // loopback
	"fc00::/7",       // unique local (RFC 4193)
	"::1/128",        // loopback
)

func mustCIDRs(cidrs ...string) []*net.IPNet {
	var nets []*net.IPNet
	for _, c := range cidrs {
		_, n, err := net.ParseCIDR(c)
		if err != nil {
			panic(err)
		}
		nets = append(nets, n)
	}
	return nets
}

// PermittedIP reports whether the CA may vouch for ip.
func PermittedIP(ip net.IP) bool {
	for _, n := range permittedIPs {
		if n.Contains(ip) {
			return true
		}
	}
	return false
}

// PermittedDNS reports whether the CA may vouch for name.
func PermittedDNS(name string) bool {
	name = strings.ToLower(strings.TrimSuffix(name, "."))
	for _, d := range permittedDNS {
		if name == d || strings.HasSuffix(name, "."+d) {
			return true
		}
	}
	return false
}

// Options configure Open. Zero values take the defaults.
type Options struct {
	// Dir holds the CA and the server certificate; it is created (0700).
	Dir string
	// Names returns what the server certificate must cover now; nil takes
	// LocalNames. Names the CA may not vouch for are left out.
	Names func() (Names, error)
	// Now is the clock; nil takes time.Now.
	Now func() time.Time
	// Recheck is how often a TLS handshake looks at the names again.
	Recheck time.Duration
	Logger  *slog.Logger
}

// Authority is the CA and the server certificate it keeps current. Its
// methods are safe for concurrent use.
type Authority struct {
	dir     string
	names   func() (Names, error)
	now     func() time.Time
	recheck time.Duration
	log     *slog.Logger

	cert *x509.Certificate
	key  *ecdsa.PrivateKey

	mu      sync.Mutex // guards the fields below
	leaf    *tls.Certificate
	covers  Names     // what the names function last returned
	checked time.Time // when leaf was last checked against it
}

// Open loads the CA from opts.Dir, creating it the first time, and makes sure
// a current server certificate is there.
func Open(opts Options) (*Authority, error) {
	if opts.Dir == "" {
		return nil, errors.New("localca: no data directory")
	}
	if opts.Names == nil {
		opts.Names = LocalNames
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.Recheck <= 0 {
		opts.Recheck = DefaultRecheck
	}
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(opts.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("localca: %w", err)
	}
	a := &Authority{dir: opts.Dir, names: opts.Names, now: opts.Now, recheck: opts.Recheck, log: opts.Logger}
	if err := a.loadOrCreateCA(); err != nil {
		return nil, err
	}
	a.loadLeaf()
	if _, err := a.serverCert(); err != nil {
		return nil, err
	}
	return a, nil
}

// Certificate returns the CA's certificate.
func (a *Authority) Certificate() *x509.Certificate { return a.cert }

// Fingerprint returns the SHA-256 fingerprint of the CA's certificate as
// upper-case hex pairs joined by colons, the way phones and openssl show it.
func (a *Authority) Fingerprint() string { return Fingerprint(a.cert) }

// Fingerprint returns the SHA-256 fingerprint of cert as hex pairs.
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	h := strings.ToUpper(hex.EncodeToString(sum[:]))
	pairs := make([]string, 0, len(sum))
	for i := 0; i < len(h); i += 2 {
		pairs = append(pairs, h[i:i+2])
	}
	return strings.Join(pairs, ":")
}

// GetCertificate is for tls.Config: it returns the server certificate,
// reissuing it first when it nears expiry or when this computer has an
// address or name it does not cover (looked at once per Recheck).
func (a *Authority) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	return a.serverCert()
}

// Names returns what the server certificate covers, as last looked up.
func (a *Authority) Names() Names {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.covers
}

func (a *Authority) serverCert() (*tls.Certificate, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	now := a.now()
	fresh := a.leaf != nil && a.leaf.Leaf.NotAfter.Sub(now) > RenewBefore
	if fresh && now.Sub(a.checked) < a.recheck {
		return a.leaf, nil
	}
	names, err := a.names()
	if err != nil {
		if fresh {
			a.log.Warn("localca: cannot list this computer's addresses; keeping the server certificate", "err", err)
			return a.leaf, nil
		}
		return nil, fmt.Errorf("localca: %w", err)
	}
	names = names.permitted()
	a.covers, a.checked = names, now
	if fresh && covers(a.leaf.Leaf, names) {
		return a.leaf, nil
	}
	leaf, err := a.Issue(names, now)
	if err != nil {
		return nil, err
	}
	if err := writeAtomic(filepath.Join(a.dir, ServerFile), encodePEM(leaf)); err != nil {
		// Serving the new certificate matters more than keeping it; the
		// next start issues another.
		a.log.Warn("localca: cannot save the server certificate", "err", err)
	}
	a.leaf = leaf
	a.log.Info("localca: issued a server certificate", "dns", names.DNS, "ips", len(names.IPs), "not_after", leaf.Leaf.NotAfter)
	return leaf, nil
}

// Issue makes a server certificate for names, valid from now for
// LeafValidity, signed by the CA. Names the CA may not vouch for are left out.
func (a *Authority) Issue(names Names, now time.Time) (*tls.Certificate, error) {
	names = names.permitted()
	if len(names.DNS) == 0 && len(names.IPs) == 0 {
		return nil, errors.New("localca: no name or address to issue a certificate for")
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("localca: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return nil, err
	}
	cn := ""
	if len(names.DNS) > 0 {
		cn = names.DNS[0]
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"Softland"}, CommonName: cn},
		DNSNames:              names.DNS,
		IPAddresses:           names.IPs,
		NotBefore:             now.Add(-backdate),
		NotAfter:              now.Add(LeafValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, &key.PublicKey, a.key)
	if err != nil {
		return nil, fmt.Errorf("localca: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("localca: %w", err)
	}
	return &tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}, nil
}

// covers reports whether cert names every name in names.
func covers(cert *x509.Certificate, names Names) bool {
	for _, d := range names.DNS {
		if cert.VerifyHostname(d) != nil {
			return false
		}
	}
	for _, ip := range names.IPs {
		if cert.VerifyHostname(ip.String()) != nil {
			return false
		}
	}
	return true
}

// loadLeaf takes the saved server certificate if the CA signed it and it is
// whole; serverCert then decides whether it is still good enough.
func (a *Authority) loadLeaf() {
	b, err := os.ReadFile(filepath.Join(a.dir, ServerFile))
	if err != nil {
		return
	}
	cert, key, err := decodePEM(b)
	if err != nil || cert.IsCA {
		a.log.Warn("localca: replacing an unreadable server certificate", "err", err)
		return
	}
	pool := x509.NewCertPool()
	pool.AddCert(a.cert)
	if _, err := cert.Verify(x509.VerifyOptions{Roots: pool, CurrentTime: a.now(), KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
		a.log.Info("localca: replacing the server certificate", "reason", err.Error())
		return
	}
	a.leaf = &tls.Certificate{Certificate: [][]byte{cert.Raw}, PrivateKey: key, Leaf: cert}
}

func (a *Authority) loadOrCreateCA() error {
	path := filepath.Join(a.dir, CAFile)
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		if err := a.createCA(path); err != nil {
			return err
		}
		b, err = os.ReadFile(path)
	}
	if err != nil {
		return fmt.Errorf("localca: %w", err)
	}
	cert, key, err := decodePEM(b)
	if err != nil {
		return fmt.Errorf("localca: %s: %w", path, err)
	}
	if !cert.IsCA {
		return fmt.Errorf("localca: %s is not a certificate authority", path)
	}
	if now := a.now(); now.After(cert.NotAfter) {
		return fmt.Errorf("localca: the authority in %s expired on %s; move that file away to make a new one, which both phones must then trust", path, cert.NotAfter.Format(time.DateOnly))
	}
	a.cert, a.key = cert, key
	return nil
}

// createCA makes a new CA and saves it at path, unless another process got
// there first, in which case that one stands.
func (a *Authority) createCA(path string) error {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return fmt.Errorf("localca: %w", err)
	}
	serial, err := serialNumber()
	if err != nil {
		return err
	}
	now := a.now()
	host, _ := os.Hostname()
	name := "Softland home CA"
	if host != "" {
		name += " (" + host + ")"
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		// The date tells two of them apart in a phone's settings.
		Subject:                     pkix.Name{Organization: []string{"Softland"}, CommonName: name + " " + now.UTC().Format(time.DateOnly)},
		NotBefore:                   now.Add(-backdate),
		NotAfter:                    now.Add(CAValidity),
		KeyUsage:                    x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid:       true,
		IsCA:                        true,
		MaxPathLenZero:              true, // it signs leaves only
		PermittedDNSDomainsCritical: true, // RFC 5280: name constraints MUST be critical
		PermittedDNSDomains:         permittedDNS,
		PermittedIPRanges:           permittedIPs,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return fmt.Errorf("localca: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return fmt.Errorf("localca: %w", err)
	}
	tmp, err := writeTemp(path, encodePEM(&tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: cert}))
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	// A link fails if the file exists: two servers starting at once on one
	// directory agree on the first CA instead of overwriting each other.
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, os.ErrExist) {
		return fmt.Errorf("localca: %w", err)
	}
	return nil
}

// serialNumber returns 128 random bits (the Baseline Requirements ask for
// at least 64), positive.
func serialNumber() (*big.Int, error) {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("localca: %w", err)
	}
	return n.Add(n, big.NewInt(1)), nil
}

func encodePEM(c *tls.Certificate) []byte {
	kb, err := x509.MarshalPKCS8PrivateKey(c.PrivateKey)
	if err != nil {
		panic(err) // an ECDSA key we made always marshals
	}
	out := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.Certificate[0]})
	return append(out, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kb})...)
}

// decodePEM reads a certificate and its ECDSA key from one PEM file.
func decodePEM(b []byte) (*x509.Certificate, *ecdsa.PrivateKey, error) {
	var cert *x509.Certificate
	var key *ecdsa.PrivateKey
	for {
		var block *pem.Block
		block, b = pem.Decode(b)
		if block == nil {
			break
		}
		switch block.Type {
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, nil, err
			}
			cert = c
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, nil, err
			}
			ek, ok := k.(*ecdsa.PrivateKey)
			if !ok {
				return nil, nil, errors.New("the key is not an ECDSA key")
			}
			key = ek
		}
	}
	if cert == nil || key == nil {
		return nil, nil, errors.New("want a CERTIFICATE and a PRIVATE KEY block")
	}
	if !key.PublicKey.Equal(cert.PublicKey) {
		return nil, nil, errors.New("the key does not belong to the certificate")
	}
	return cert, key, nil
}

// writeTemp writes b to a new private file beside path and returns its name.
func writeTemp(path string, b []byte) (string, error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*")
	if err != nil {
		return "", fmt.Errorf("localca: %w", err)
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("localca: %w", err)
	}
	return f.Name(), nil
}

// writeAtomic replaces path with b: readers see the old file or the new one,
// never half of one.
func writeAtomic(path string, b []byte) error {
	tmp, err := writeTemp(path, b)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("localca: %w", err)
	}
	return nil
}
