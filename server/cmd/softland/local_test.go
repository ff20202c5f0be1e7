package main

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coder/websocket"

	"softland/server/localca"
	"softland/server/protocol"
	"softland/server/setup"
)

// homeServer is a server started with -tls local, and what it printed.
type homeServer struct {
	app, setup, fingerprint string
	stop                    func() error
}

// startHome runs the binary in home mode on loopback with dir as its data
// directory and reads the lines it prints for the person at the computer.
func startHome(t *testing.T, dir string) *homeServer {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"-tls", "local", "-data-dir", dir, "-addr", "127.0.0.1:0", "-setup-addr", "127.0.0.1:0"}, func(string) string { return "" }, pw, io.Discard)
		pw.Close()
	}()
	h := &homeServer{}
	br := bufio.NewReader(pr)
	for h.app == "" || h.setup == "" || h.fingerprint == "" {
		line, err := br.ReadString('\n')
		if err != nil {
			cancel()
			t.Fatalf("server did not start: %v (%v)", err, <-done)
		}
		switch {
		case strings.HasPrefix(line, "softland: listening on "):
			h.app = strings.Fields(line)[3]
		case strings.Contains(line, "on each phone, open "):
			h.setup = strings.Fields(strings.SplitAfter(line, "open ")[1])[0]
		case strings.Contains(line, "fingerprint (SHA-256): "):
			h.fingerprint = strings.TrimSpace(strings.SplitAfter(line, "(SHA-256): ")[1])
		}
	}
	go io.Copy(io.Discard, br)
	stopped := false
	h.stop = func() error {
		if stopped {
			return nil
		}
		stopped = true
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(30 * time.Second):
			t.Fatal("server did not stop")
			return nil
		}
	}
	t.Cleanup(func() { h.stop() })
	return h
}

// TestHomeMode is what two phones at home do: fetch the setup page and the
// authority over plain HTTP, then reach the app and its socket over HTTPS
// trusting that authority and nothing else.
func TestHomeMode(t *testing.T) {
	dir := t.TempDir()
	h := startHome(t, dir)
	if !strings.HasPrefix(h.app, "https://127.0.0.1:") || !strings.HasPrefix(h.setup, "http://127.0.0.1:") || !strings.HasSuffix(h.setup, setup.Path) {
		t.Fatalf("app %s, setup %s", h.app, h.setup)
	}
	setupOrigin := strings.TrimSuffix(h.setup, setup.Path)

	// The setup page, over plain HTTP, shows the fingerprint the terminal
	// printed and links to the app over HTTPS.
	code, page := get(t, h.setup)
	if code != http.StatusOK {
		t.Fatalf("setup page: %d", code)
	}
	firstLine := strings.ReplaceAll(h.fingerprint[:23], ":", " ")
	if !strings.Contains(page, firstLine) || !strings.Contains(page, `href="`+h.app+`/"`) {
		t.Errorf("setup page lacks the fingerprint %q or the link to %s", firstLine, h.app)
	}
	// The plain-HTTP listener serves the setup page only.
	for _, p := range []string{"/index.html", "/catalog.json", "/healthz", "/metrics"} {
		if code, _ := get(t, setupOrigin+p); code != http.StatusNotFound {
			t.Errorf("plain HTTP %s: %d", p, code)
		}
	}

	// The authority, downloaded as a phone does, is the one fingerprinted.
	resp, err := http.Get(setupOrigin + setup.CertPath)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != setup.CertType {
		t.Errorf("certificate served as %q", ct)
	}
	ca, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	if localca.Fingerprint(ca) != h.fingerprint {
		t.Fatalf("downloaded authority %s, printed %s", localca.Fingerprint(ca), h.fingerprint)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca)
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	defer client.CloseIdleConnections()

	// Without the authority the app is refused, with it served.
	if resp, err := http.Get(h.app + "/"); err == nil {
		resp.Body.Close()
		t.Fatal("the server certificate verified without the home authority")
	}
	resp, err = client.Get(h.app + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "<!doctype html>") {
		t.Fatalf("app over HTTPS: %d %.80q", resp.StatusCode, body)
	}
	if resp.Header.Get("Strict-Transport-Security") != "" {
		t.Error("HSTS in home mode would lock phones out of the plain-HTTP setup page")
	}
	checkServerCertificate(t, resp.TLS.PeerCertificates[0], pool)

	// The socket, from the app's own HTTPS origin: create gets a welcome.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	wss := "wss" + strings.TrimPrefix(h.app, "https") + "/ws"
	ws, _, err := websocket.Dial(ctx, wss, &websocket.DialOptions{HTTPClient: client, HTTPHeader: http.Header{"Origin": {h.app}}})
	if err != nil {
		t.Fatal(err)
	}
	defer ws.CloseNow()
	sum := sha256.Sum256([]byte("a join key for the home-mode test"))
	create, _ := protocol.Marshal(&protocol.Create{Header: protocol.Header{Type: protocol.TypeCreate, ID: "c1"}, JoinKeyHash: base64.RawURLEncoding.EncodeToString(sum[:])})
	if err := ws.Write(ctx, websocket.MessageText, create); err != nil {
		t.Fatal(err)
	}
	_, b, err := ws.Read(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var welcome struct {
		Type, ID, Device string
		Seat             int
	}
	if err := json.Unmarshal(b, &welcome); err != nil || welcome.Type != "welcome" || welcome.ID != "c1" || welcome.Seat != 1 || welcome.Device == "" {
		t.Fatalf("answer to create: %.200s (%v)", b, err)
	}
	// A page from the plain-HTTP origin may not open it.
	if ws2, _, err := websocket.Dial(ctx, wss, &websocket.DialOptions{HTTPClient: client, HTTPHeader: http.Header{"Origin": {setupOrigin}}}); err == nil {
		ws2.CloseNow()
		t.Error("the plain-HTTP origin opened the socket")
	}
	ws.Close(websocket.StatusNormalClosure, "")
	if err := h.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}

	// The authority is made once: a restart on the same directory keeps
	// it, so the phones need not be set up again.
	if again := startHome(t, dir); again.fingerprint != h.fingerprint {
		t.Errorf("restart made another authority: %s, was %s", again.fingerprint, h.fingerprint)
	}
}

// checkServerCertificate checks the leaf against what iOS and Android ask of
// a trusted server certificate (see package localca): the computer's names
// and addresses as Subject Alternative Names, serverAuth, digitalSignature,
// not a CA, at most 398 days, ECDSA P-256 with SHA-256, signed by the home
// authority.
func checkServerCertificate(t *testing.T, leaf *x509.Certificate, pool *x509.CertPool) {
	t.Helper()
	local, err := localca.LocalNames()
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range local.DNS {
		if !slices.Contains(leaf.DNSNames, name) {
			t.Errorf("SANs %v lack %s", leaf.DNSNames, name)
		}
	}
	for _, ip := range local.IPs {
		if !slices.ContainsFunc(leaf.IPAddresses, ip.Equal) {
			t.Errorf("SANs %v lack %s", leaf.IPAddresses, ip)
		}
	}
	if !slices.ContainsFunc(leaf.IPAddresses, net.IPv4(127, 0, 0, 1).Equal) || !slices.Contains(leaf.DNSNames, "localhost") {
		t.Errorf("SANs %v %v lack loopback", leaf.DNSNames, leaf.IPAddresses)
	}
	if !slices.Equal(leaf.ExtKeyUsage, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}) {
		t.Errorf("extended key usage %v", leaf.ExtKeyUsage)
	}
	if leaf.KeyUsage != x509.KeyUsageDigitalSignature {
		t.Errorf("key usage %b", leaf.KeyUsage)
	}
	if leaf.IsCA || !leaf.BasicConstraintsValid {
		t.Error("the server certificate is not marked as a leaf")
	}
	if life := leaf.NotAfter.Sub(leaf.NotBefore); life > 398*24*time.Hour {
		t.Errorf("valid for %s", life)
	}
	if now := time.Now(); now.Before(leaf.NotBefore) || now.After(leaf.NotAfter) {
		t.Errorf("not valid now: %s to %s", leaf.NotBefore, leaf.NotAfter)
	}
	if k, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve.Params().BitSize < 256 || leaf.SignatureAlgorithm != x509.ECDSAWithSHA256 {
		t.Errorf("key %T, signature %s", leaf.PublicKey, leaf.SignatureAlgorithm)
	}
	for _, host := range append([]string{"localhost", "127.0.0.1"}, local.DNS...) {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: host, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}); err != nil {
			t.Errorf("verify for %s: %v", host, err)
		}
	}
}

func TestHomeModeFlags(t *testing.T) {
	none := func(string) string { return "" }
	c, err := parse([]string{"-tls", "local"}, none, io.Discard)
	if err != nil || c.addr != DefaultLocalAddr || c.setupAddr != DefaultSetupAddr {
		t.Fatalf("-tls local: %+v %v", c, err)
	}
	if c, err := parse([]string{"-tls", "local", "-addr", ":9443"}, none, io.Discard); err != nil || c.addr != ":9443" {
		t.Errorf("-addr with -tls local: %+v %v", c, err)
	}
	if c, err := parse([]string{"-tls", "local"}, func(k string) string { return map[string]string{"SOFTLAND_ADDR": ":7443"}[k] }, io.Discard); err != nil || c.addr != ":7443" {
		t.Errorf("SOFTLAND_ADDR with -tls local: %+v %v", c, err)
	}
	for name, args := range map[string][]string{
		"unknown mode":     {"-tls", "self-signed"},
		"local and files":  {"-tls", "local", "-tls-cert", "c.pem", "-tls-key", "k.pem"},
		"local and acme":   {"-tls", "local", "-acme-domains", "example.org"},
		"data dir, no tls": {"-data-dir", "/tmp/x"},
	} {
		if _, err := parse(args, none, io.Discard); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}

	for _, tc := range []struct {
		env  map[string]string
		flag string
		want string
	}{
		{map[string]string{"XDG_DATA_HOME": "/x/data", "HOME": "/home/a"}, "", "/x/data/softland"},
		{map[string]string{"XDG_DATA_HOME": "relative", "HOME": "/home/a"}, "", "/home/a/.local/share/softland"},
		{map[string]string{"HOME": "/home/a"}, "/srv/softland", "/srv/softland"},
	} {
		got, err := dataDir(&config{dataDir: tc.flag}, func(k string) string { return tc.env[k] })
		if err != nil || got != tc.want {
			t.Errorf("%v %q: %q %v, want %q", tc.env, tc.flag, got, err, tc.want)
		}
	}
	if _, err := dataDir(&config{}, none); err == nil {
		t.Error("no HOME and no -data-dir: accepted")
	}
}
