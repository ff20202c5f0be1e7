package deploy

// No container engine runs where the tests do, so this test reads the
// deployment files instead of starting them, and holds them to the server's
// real flags and routes: every SOFTLAND_* name is a flag twin and its value
// parses as that flag's type, the ports agree, probes and health checks use
// routes that answer on a real server, and the operational promises the docs
// make (replicas, disruption budget, grace periods, Redis persistence, pinned
// images, non-root users) are in the files.

import (
	"context"
	"errors"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.yaml.in/yaml/v3"

	"softland/server/servertest"
)

// ---------------------------------------------------------------------------
// The server's flags, read from its source.

// serverFlags is what server/cmd/softland accepts.
type serverFlags struct {
	kinds        map[string]string // SOFTLAND_* name → "str", "dur", "num" or "boolean"
	defaults     map[string]string // string defaults given as literals
	defaultAddr  string
	defaultDrain time.Duration
}

var (
	rootOnce sync.Once
	rootDir  string
	rootErr  error
)

// moduleRoot is the directory of the module's go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	rootOnce.Do(func() {
		out, err := exec.Command("go", "env", "GOMOD").Output()
		if err != nil {
			rootErr = err
			return
		}
		gomod := strings.TrimSpace(string(out))
		if gomod == "" || gomod == os.DevNull {
			rootErr = errors.New("not inside a module")
			return
		}
		rootDir = filepath.Dir(gomod)
	})
	if rootErr != nil {
		t.Fatalf("finding the module root: %v", rootErr)
	}
	return rootDir
}

var (
	flagDefRE   = regexp.MustCompile(`\b(str|dur|num|boolean)\(&[^,]+,\s*"([a-z0-9-]+)",\s*"(SOFTLAND_[A-Z0-9_]+)"`)
	envLitRE    = regexp.MustCompile(`"(SOFTLAND_[A-Z0-9_]+)"`)
	envOnlyRE   = regexp.MustCompile(`\bgetenv\("(SOFTLAND_[A-Z0-9_]+)"\)`)
	defAddrRE   = regexp.MustCompile(`DefaultAddr\s*=\s*"([^"]*)"`)
	defDrainRE  = regexp.MustCompile(`DefaultDrainTimeout\s*=\s*(\d+)\s*\*\s*time\.Second`)
	envNameRE   = regexp.MustCompile(`SOFTLAND_[A-Z0-9_]+`)
	imageNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._/-]*(:[0-9]+)?(/[a-z0-9._-]+)*$`)
	probePathRE = regexp.MustCompile(`^/[a-z]+$`)
	// {$NAME} or {$NAME:default} in a Caddyfile.
	placeholderRE = regexp.MustCompile(`\{\$([A-Za-z0-9_]+)`)
	// A str flag whose default is a string literal.
	strDefaultRE = regexp.MustCompile(`\bstr\(&[^,]+,\s*"[a-z0-9-]+",\s*"(SOFTLAND_[A-Z0-9_]+)",\s*"([^"]*)"`)
)

// loadFlags reads the flag definitions of server/cmd/softland/main.go: each
// is declared with one of its helpers str, dur, num or boolean, naming the
// flag and its environment twin.
func loadFlags(t *testing.T) serverFlags {
	t.Helper()
	src, err := os.ReadFile(filepath.Join(moduleRoot(t), "server", "cmd", "softland", "main.go"))
	if err != nil {
		t.Fatal(err)
	}
	f := serverFlags{kinds: map[string]string{}, defaults: map[string]string{}}
	for _, m := range flagDefRE.FindAllStringSubmatch(string(src), -1) {
		f.kinds[m[3]] = m[1]
	}
	for _, m := range strDefaultRE.FindAllStringSubmatch(string(src), -1) {
		f.defaults[m[1]] = m[2]
	}
	// Settings read only from the environment (secrets, which a flag would
	// show in the process list), as getenv("SOFTLAND_…"); any string goes.
	for _, m := range envOnlyRE.FindAllStringSubmatch(string(src), -1) {
		if _, ok := f.kinds[m[1]]; !ok {
			f.kinds[m[1]] = "env"
		}
	}
	// Every SOFTLAND_* literal in the source must have been understood
	// above; otherwise the helpers changed and this parser must follow.
	for _, m := range envLitRE.FindAllStringSubmatch(string(src), -1) {
		if _, ok := f.kinds[m[1]]; !ok {
			t.Fatalf("main.go names %s, but not in a flag definition this test understands", m[1])
		}
	}
	for _, must := range []string{"SOFTLAND_ADDR", "SOFTLAND_REDIS_URL", "SOFTLAND_REDIS_ADDRS", "SOFTLAND_REDIS_MASTER",
		"SOFTLAND_TRUST_PROXY", "SOFTLAND_DRAIN_TIMEOUT", "SOFTLAND_ACME_CACHE", "SOFTLAND_TLS_CERT"} {
		if _, ok := f.kinds[must]; !ok {
			t.Fatalf("found no flag twin %s in main.go (found %d twins)", must, len(f.kinds))
		}
	}
	m := defAddrRE.FindStringSubmatch(string(src))
	if m == nil {
		t.Fatal("no DefaultAddr in main.go")
	}
	f.defaultAddr = m[1]
	m = defDrainRE.FindStringSubmatch(string(src))
	if m == nil {
		t.Fatal("no DefaultDrainTimeout = N * time.Second in main.go")
	}
	n, _ := strconv.Atoi(m[1])
	f.defaultDrain = time.Duration(n) * time.Second
	return f
}

// checkEnv reports a SOFTLAND_* setting that is no flag twin, or whose value
// the flag would refuse. Values still to be interpolated (${...}) are only
// checked for their name.
func (f serverFlags) checkEnv(t *testing.T, where, name, value string) {
	t.Helper()
	kind, ok := f.kinds[name]
	if !ok {
		t.Errorf("%s: %s is not the environment twin of any server flag", where, name)
		return
	}
	if value == "" || strings.Contains(value, "${") {
		return
	}
	var err error
	switch kind {
	case "dur":
		_, err = time.ParseDuration(value)
	case "num":
		_, err = strconv.Atoi(value)
	case "boolean":
		_, err = strconv.ParseBool(value)
	}
	switch name {
	case "SOFTLAND_ADDR", "SOFTLAND_ACME_HTTP_ADDR":
		_, _, err = net.SplitHostPort(value)
	case "SOFTLAND_REDIS_URL":
		var u *url.URL
		if u, err = url.Parse(value); err == nil && u.Scheme != "redis" && u.Scheme != "rediss" {
			err = errors.New("scheme must be redis or rediss")
		}
	}
	if err != nil {
		t.Errorf("%s: %s=%q: %v", where, name, value, err)
	}
}

// env is a set of SOFTLAND_* settings with the server's defaults behind it.
type env struct {
	f    serverFlags
	vals map[string]string
}

// get is a setting's value, or the flag's default when unset.
func (e env) get(name string) string {
	if v := e.vals[name]; v != "" {
		return v
	}
	if name == "SOFTLAND_ADDR" {
		return e.f.defaultAddr
	}
	return e.f.defaults[name]
}

func (e env) addr() string { return e.get("SOFTLAND_ADDR") }

// port is the port of SOFTLAND_ADDR.
func (e env) port(t *testing.T) int { return e.portOf(t, "SOFTLAND_ADDR") }

func (e env) portOf(t *testing.T, name string) int {
	t.Helper()
	_, p, err := net.SplitHostPort(e.get(name))
	if err != nil {
		t.Fatalf("%s %q: %v", name, e.get(name), err)
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		t.Fatalf("%s %q: port %q is not a number", name, e.get(name), p)
	}
	return n
}

func (e env) drain(t *testing.T) time.Duration {
	t.Helper()
	if v := e.vals["SOFTLAND_DRAIN_TIMEOUT"]; v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("SOFTLAND_DRAIN_TIMEOUT %q: %v", v, err)
		}
		return d
	}
	return e.f.defaultDrain
}

// ---------------------------------------------------------------------------
// Generic helpers for decoded YAML.

func dig(v any, keys ...string) any {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[k]
	}
	return v
}

func digStr(v any, keys ...string) string { return scalar(dig(v, keys...)) }

// scalar is a YAML scalar as the string a container would see.
func scalar(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case int:
		return strconv.Itoa(x)
	case bool:
		return strconv.FormatBool(x)
	}
	return ""
}

func digMap(v any, keys ...string) map[string]any {
	m, _ := dig(v, keys...).(map[string]any)
	return m
}

func digList(v any, keys ...string) []any {
	l, _ := dig(v, keys...).([]any)
	return l
}

func digInt(v any, keys ...string) (int, bool) {
	n, ok := dig(v, keys...).(int)
	return n, ok
}

// strs turns a YAML string or list of scalars into strings.
func strs(v any) []string {
	switch x := v.(type) {
	case string:
		return strings.Fields(x)
	case []any:
		var out []string
		for _, e := range x {
			switch s := e.(type) {
			case string:
				out = append(out, s)
			case int:
				out = append(out, strconv.Itoa(s))
			case bool:
				out = append(out, strconv.FormatBool(s))
			}
		}
		return out
	}
	return nil
}

// subset reports whether every label of sel is in labels.
func subset(sel, labels map[string]any) bool {
	if len(sel) == 0 {
		return false
	}
	for k, v := range sel {
		if labels[k] != v {
			return false
		}
	}
	return true
}

// checkImage requires an explicit tag (or digest) other than latest.
func checkImage(t *testing.T, where, ref string) {
	t.Helper()
	if ref == "" {
		t.Errorf("%s: no image", where)
		return
	}
	if strings.Contains(ref, "@sha256:") {
		return
	}
	name, tag := ref, ""
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		name, tag = ref[:i], ref[i+1:]
	}
	if tag == "" || tag == "latest" || !imageNameRE.MatchString(name) {
		t.Errorf("%s: image %q must be pinned to a tag other than latest", where, ref)
	}
}

// argsHave reports whether args hold the option name followed by value,
// either as two arguments or as one "name value" string.
func argsHave(args []string, name, value string) bool {
	joined := " " + strings.Join(args, " ") + " "
	return strings.Contains(joined, " "+name+" "+value+" ")
}

// ---------------------------------------------------------------------------
// Every SOFTLAND_* name anywhere under deploy/ is real.

func TestEveryNamedSettingIsAFlagTwin(t *testing.T) {
	f := loadFlags(t)
	dir := filepath.Join(moduleRoot(t), "deploy")
	seen := 0
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, ".go") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		for _, name := range envNameRE.FindAllString(string(b), -1) {
			seen++
			if _, ok := f.kinds[name]; !ok {
				t.Errorf("deploy/%s names %s, which is no server flag's environment twin", rel, name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if seen == 0 {
		t.Fatal("found no SOFTLAND_* names under deploy/")
	}
}

// ---------------------------------------------------------------------------
// Docker Compose and Caddy.

type composeSvc struct {
	name string
	raw  map[string]any
	env  env
}

func loadCompose(t *testing.T) (svcs map[string]*composeSvc, softland []*composeSvc) {
	t.Helper()
	f := loadFlags(t)
	dir := filepath.Join(moduleRoot(t), "deploy", "compose")
	b, err := os.ReadFile(filepath.Join(dir, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	if err := yaml.Unmarshal(b, &doc); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	svcs = map[string]*composeSvc{}
	for name, raw := range digMap(doc, "services") {
		m, _ := raw.(map[string]any)
		s := &composeSvc{name: name, raw: m, env: env{f: f, vals: map[string]string{}}}
		switch e := m["environment"].(type) {
		case map[string]any:
			for k, v := range e {
				s.env.vals[k] = scalar(v)
			}
		case []any:
			for _, kv := range strs(e) {
				k, v, _ := strings.Cut(kv, "=")
				s.env.vals[k] = v
			}
		}
		for k, v := range s.env.vals {
			if strings.HasPrefix(k, "SOFTLAND_") {
				f.checkEnv(t, "compose.yaml service "+name, k, v)
			}
		}
		svcs[name] = s
		// A Softland service is one built from deploy/Dockerfile with the
		// repository root as context.
		if df := digStr(m, "build", "dockerfile"); df != "" {
			ctx := filepath.Join(dir, digStr(m, "build", "context"))
			if filepath.Clean(ctx) != filepath.Clean(moduleRoot(t)) || filepath.ToSlash(df) != "deploy/Dockerfile" {
				t.Errorf("compose.yaml service %s builds %s in %s; want deploy/Dockerfile in the repository root", name, df, ctx)
			}
			softland = append(softland, s)
		}
	}
	slices.SortFunc(softland, func(a, b *composeSvc) int { return strings.Compare(a.name, b.name) })
	return svcs, softland
}

func TestCompose(t *testing.T) {
	svcs, softland := loadCompose(t)
	if len(softland) < 2 {
		t.Fatalf("compose.yaml runs %d Softland instances; want at least 2 behind the proxy", len(softland))
	}
	for name, s := range svcs {
		checkImage(t, "compose.yaml service "+name, digStr(s.raw, "image"))
	}
	for _, s := range softland {
		where := "compose.yaml service " + s.name
		// Shared rooms: Redis, on a service of this file.
		u, err := url.Parse(s.env.vals["SOFTLAND_REDIS_URL"])
		if err != nil || u.Host == "" {
			t.Errorf("%s: several instances need SOFTLAND_REDIS_URL (got %q)", where, s.env.vals["SOFTLAND_REDIS_URL"])
		} else {
			redis := svcs[u.Hostname()]
			if redis == nil {
				t.Errorf("%s: SOFTLAND_REDIS_URL host %q is no service of compose.yaml", where, u.Hostname())
			} else {
				if p := u.Port(); p != "" && p != "6379" {
					t.Errorf("%s: SOFTLAND_REDIS_URL port %s, Redis listens on 6379", where, p)
				}
				checkComposeRedis(t, redis)
			}
		}
		if v, _ := strconv.ParseBool(s.env.vals["SOFTLAND_TRUST_PROXY"]); !v {
			t.Errorf("%s: behind Caddy, SOFTLAND_TRUST_PROXY must be true, or every phone shares Caddy's address", where)
		}
		if _, ok := s.env.vals["SOFTLAND_DRAIN_TIMEOUT"]; !ok {
			t.Errorf("%s: set SOFTLAND_DRAIN_TIMEOUT explicitly, next to stop_grace_period", where)
		}
		grace, err := time.ParseDuration(digStr(s.raw, "stop_grace_period"))
		if err != nil {
			t.Errorf("%s: stop_grace_period: %v (Docker's default of 10s is no longer than the drain)", where, err)
		} else if drain := s.env.drain(t); grace <= drain {
			t.Errorf("%s: stop_grace_period %v must exceed SOFTLAND_DRAIN_TIMEOUT %v", where, grace, drain)
		}
		port := strconv.Itoa(s.env.port(t))
		if !slices.Contains(strs(s.raw["expose"]), port) {
			t.Errorf("%s: expose %v does not include SOFTLAND_ADDR's port %s", where, strs(s.raw["expose"]), port)
		}
		if len(strs(s.raw["ports"])) > 0 {
			t.Errorf("%s: publishes ports; phones must come through Caddy", where)
		}
		if ro, _ := s.raw["read_only"].(bool); !ro {
			t.Errorf("%s: want read_only: true", where)
		}
	}
	caddy := svcs["caddy"]
	if caddy == nil {
		t.Fatal("compose.yaml has no caddy service")
	}
	mounted := false
	for _, v := range strs(caddy.raw["volumes"]) {
		if src, dst, _ := strings.Cut(v, ":"); src == "./Caddyfile" && strings.HasPrefix(dst, "/etc/caddy/Caddyfile") {
			mounted = true
		}
	}
	if !mounted {
		t.Error("compose.yaml: caddy must mount ./Caddyfile at /etc/caddy/Caddyfile")
	}
	if p := strs(caddy.raw["ports"]); !slices.ContainsFunc(p, func(s string) bool { return strings.HasSuffix(s, ":443") }) {
		t.Errorf("compose.yaml: caddy publishes %v; want 443", p)
	}
}

func checkComposeRedis(t *testing.T, s *composeSvc) {
	t.Helper()
	where := "compose.yaml service " + s.name
	if img := digStr(s.raw, "image"); !strings.HasPrefix(img, "redis:7") {
		t.Errorf("%s: image %q; want Redis 7", where, img)
	}
	args := strs(s.raw["command"])
	if !argsHave(args, "--appendonly", "yes") || !argsHave(args, "--appendfsync", "everysec") {
		t.Errorf("%s: command %q must turn on persistence: --appendonly yes --appendfsync everysec", where, args)
	}
	persisted := false
	for _, v := range strs(s.raw["volumes"]) {
		if _, dst, _ := strings.Cut(v, ":"); dst == "/data" {
			persisted = true
		}
	}
	if !persisted {
		t.Errorf("%s: the append-only file in /data must live on a volume", where)
	}
}

// caddyfile is what the test reads from deploy/compose/Caddyfile, by lines.
type caddyfile struct {
	upstreams []string
	healthURI string
	lbPolicy  string
	placehold []string // {$NAME} placeholders
}

func loadCaddyfile(t *testing.T) caddyfile {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(moduleRoot(t), "deploy", "compose", "Caddyfile"))
	if err != nil {
		t.Fatal(err)
	}
	var c caddyfile
	proxies := 0
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if strings.HasPrefix(line, "#") || line == "" {
			continue
		}
		for _, m := range placeholderRE.FindAllStringSubmatch(line, -1) {
			c.placehold = append(c.placehold, m[1])
		}
		fields := strings.Fields(line)
		switch fields[0] {
		case "reverse_proxy":
			proxies++
			for _, u := range fields[1:] {
				if u != "{" {
					c.upstreams = append(c.upstreams, u)
				}
			}
		case "health_uri":
			c.healthURI = fields[len(fields)-1]
		case "lb_policy":
			c.lbPolicy = fields[len(fields)-1]
		}
	}
	if proxies != 1 {
		t.Fatalf("Caddyfile has %d reverse_proxy lines; this test reads exactly one", proxies)
	}
	return c
}

func TestCaddyfile(t *testing.T) {
	svcs, softland := loadCompose(t)
	c := loadCaddyfile(t)
	if c.healthURI != "/readyz" {
		t.Errorf("Caddyfile: health_uri %q; want /readyz, which turns 503 while an instance drains or loses Redis", c.healthURI)
	}
	if c.lbPolicy != "least_conn" && c.lbPolicy != "round_robin" {
		t.Errorf("Caddyfile: lb_policy %q; want least_conn or round_robin", c.lbPolicy)
	}
	targets := map[string]bool{}
	for _, u := range c.upstreams {
		host, port, err := net.SplitHostPort(u)
		if err != nil {
			t.Errorf("Caddyfile: upstream %q: %v", u, err)
			continue
		}
		s := svcs[host]
		if s == nil || !slices.Contains(softland, s) {
			t.Errorf("Caddyfile: upstream %q is no Softland service of compose.yaml", u)
			continue
		}
		if want := strconv.Itoa(s.env.port(t)); port != want {
			t.Errorf("Caddyfile: upstream %q; %s listens on port %s (SOFTLAND_ADDR)", u, host, want)
		}
		targets[host] = true
	}
	for _, s := range softland {
		if !targets[s.name] {
			t.Errorf("Caddyfile: reverse_proxy leaves out %s", s.name)
		}
	}
	caddyEnv := map[string]bool{}
	for k := range svcs["caddy"].env.vals {
		caddyEnv[k] = true
	}
	for _, p := range c.placehold {
		if !caddyEnv[p] {
			t.Errorf("Caddyfile uses {$%s}, which compose.yaml does not give the caddy service", p)
		}
	}
}

// ---------------------------------------------------------------------------
// Kubernetes.

type k8sObj struct {
	file, kind, name string
	raw              map[string]any
}

type k8s struct {
	objs   []*k8sObj
	images map[string]string // kustomize image name → newName:newTag
}

func (k *k8s) all(kind string) []*k8sObj {
	var out []*k8sObj
	for _, o := range k.objs {
		if o.kind == kind {
			out = append(out, o)
		}
	}
	return out
}

func (k *k8s) get(kind, name string) *k8sObj {
	for _, o := range k.all(kind) {
		if o.name == name {
			return o
		}
	}
	return nil
}

func loadK8s(t *testing.T) *k8s {
	t.Helper()
	dir := filepath.Join(moduleRoot(t), "deploy", "k8s")
	b, err := os.ReadFile(filepath.Join(dir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var kust map[string]any
	if err := yaml.Unmarshal(b, &kust); err != nil {
		t.Fatalf("kustomization.yaml: %v", err)
	}
	k := &k8s{images: map[string]string{}}
	for _, img := range digList(kust, "images") {
		name := digStr(img, "name")
		newName := digStr(img, "newName")
		if newName == "" {
			newName = name
		}
		k.images[name] = newName + ":" + digStr(img, "newTag")
		if d := digStr(img, "digest"); d != "" {
			k.images[name] = newName + "@" + d
		}
	}
	resources := strs(kust["resources"])
	files, _ := filepath.Glob(filepath.Join(dir, "*.yaml"))
	for _, f := range files {
		if base := filepath.Base(f); base != "kustomization.yaml" && !slices.Contains(resources, base) {
			t.Errorf("kustomization.yaml does not list %s", base)
		}
	}
	for _, res := range resources {
		b, err := os.ReadFile(filepath.Join(dir, res))
		if err != nil {
			t.Errorf("kustomization.yaml lists %s: %v", res, err)
			continue
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		for {
			var doc map[string]any
			err := dec.Decode(&doc)
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", res, err)
			}
			if doc == nil {
				continue
			}
			o := &k8sObj{file: res, kind: digStr(doc, "kind"), name: digStr(doc, "metadata", "name"), raw: doc}
			if o.kind == "" || o.name == "" || digStr(doc, "apiVersion") == "" {
				t.Errorf("%s: a document without apiVersion, kind or metadata.name", res)
			}
			k.objs = append(k.objs, o)
		}
	}
	return k
}

// effectiveImage applies kustomization.yaml's images: entries.
func (k *k8s) effectiveImage(ref string) string {
	name := ref
	if i := strings.LastIndex(ref, ":"); i > strings.LastIndex(ref, "/") {
		name = ref[:i]
	}
	if img, ok := k.images[name]; ok {
		return img
	}
	return ref
}

// containers of a workload's pod template, init containers included.
func containers(o *k8sObj) []any {
	return append(digList(o.raw, "spec", "template", "spec", "initContainers"), digList(o.raw, "spec", "template", "spec", "containers")...)
}

// containerPort resolves a probe's or Service's port (a number or a name)
// against a container's ports.
func containerPort(c any, port any) (int, bool) {
	for _, p := range digList(c, "ports") {
		n, _ := digInt(p, "containerPort")
		switch v := port.(type) {
		case int:
			if v == n {
				return n, true
			}
		case string:
			if v == digStr(p, "name") {
				return n, true
			}
		}
	}
	return 0, false
}

// k8sApp is the Softland Deployment and what it resolves to.
type k8sApp struct {
	dep       *k8sObj
	container any
	labels    map[string]any
	env       env
	port      int
}

func loadK8sApp(t *testing.T, k *k8s) k8sApp {
	t.Helper()
	f := loadFlags(t)
	deps := k.all("Deployment")
	if len(deps) != 1 {
		t.Fatalf("want exactly one Deployment, the Softland server; got %d", len(deps))
	}
	a := k8sApp{dep: deps[0], env: env{f: f, vals: map[string]string{}}}
	cs := digList(a.dep.raw, "spec", "template", "spec", "containers")
	if len(cs) != 1 {
		t.Fatalf("Deployment %s: want one container, got %d", a.dep.name, len(cs))
	}
	a.container = cs[0]
	a.labels = digMap(a.dep.raw, "spec", "template", "metadata", "labels")
	// The environment as the kubelet builds it: envFrom in order, then env.
	for _, from := range digList(a.container, "envFrom") {
		switch {
		case digStr(from, "configMapRef", "name") != "":
			name := digStr(from, "configMapRef", "name")
			cm := k.get("ConfigMap", name)
			if cm == nil {
				t.Errorf("Deployment envFrom names ConfigMap %s, which is not in the manifests", name)
				continue
			}
			for key, v := range digMap(cm.raw, "data") {
				a.env.vals[key] = scalar(v)
			}
		case digStr(from, "secretRef", "name") != "":
			name := digStr(from, "secretRef", "name")
			s := k.get("Secret", name)
			if s == nil {
				t.Errorf("Deployment envFrom names Secret %s, which is not in the manifests", name)
				continue
			}
			for key, v := range digMap(s.raw, "stringData") {
				a.env.vals[key] = scalar(v)
			}
			for key := range digMap(s.raw, "data") {
				a.env.vals[key] = "" // base64; only the name is checked
			}
		}
	}
	for _, e := range digList(a.container, "env") {
		a.env.vals[digStr(e, "name")] = digStr(e, "value")
	}
	a.port = a.env.port(t)
	return a
}

func TestKubernetesSettings(t *testing.T) {
	f := loadFlags(t)
	k := loadK8s(t)
	for _, cm := range k.all("ConfigMap") {
		for key, v := range digMap(cm.raw, "data") {
			if !strings.HasPrefix(key, "SOFTLAND_") {
				t.Errorf("ConfigMap %s: key %s is loaded with envFrom and is no Softland setting", cm.name, key)
				continue
			}
			f.checkEnv(t, "ConfigMap "+cm.name, key, scalar(v))
		}
	}
	for _, s := range k.all("Secret") {
		for key, v := range digMap(s.raw, "stringData") {
			f.checkEnv(t, "Secret "+s.name, key, scalar(v))
		}
		for key := range digMap(s.raw, "data") {
			f.checkEnv(t, "Secret "+s.name, key, "")
		}
	}
	a := loadK8sApp(t, k)
	for _, e := range digList(a.container, "env") {
		if name := digStr(e, "name"); strings.HasPrefix(name, "SOFTLAND_") {
			f.checkEnv(t, "Deployment "+a.dep.name, name, digStr(e, "value"))
		}
	}
	if v, _ := strconv.ParseBool(a.env.vals["SOFTLAND_TRUST_PROXY"]); !v {
		t.Error("behind the Ingress, SOFTLAND_TRUST_PROXY must be true")
	}
	if _, ok := a.env.vals["SOFTLAND_DRAIN_TIMEOUT"]; !ok {
		t.Error("set SOFTLAND_DRAIN_TIMEOUT explicitly, next to terminationGracePeriodSeconds")
	}
	// Service links would inject SOFTLAND_PORT and the like for Services
	// named softland*: variables that look like settings and are not.
	if v, ok := dig(a.dep.raw, "spec", "template", "spec", "enableServiceLinks").(bool); !ok || v {
		t.Error("Deployment: set enableServiceLinks: false (Services named softland* would inject SOFTLAND_* variables)")
	}
}

func TestKubernetesDeployment(t *testing.T) {
	k := loadK8s(t)
	a := loadK8sApp(t, k)
	spec := digMap(a.dep.raw, "spec")
	pod := digMap(spec, "template", "spec")

	replicas, _ := digInt(spec, "replicas")
	if replicas < 2 {
		t.Errorf("Deployment: replicas %d; want at least 2", replicas)
	}
	if !subset(digMap(spec, "selector", "matchLabels"), a.labels) {
		t.Error("Deployment: selector does not match its pod labels")
	}
	if a.env.vals["SOFTLAND_REDIS_URL"] == "" && a.env.vals["SOFTLAND_REDIS_ADDRS"] == "" {
		t.Error("Deployment: several replicas need Redis (SOFTLAND_REDIS_URL or SOFTLAND_REDIS_ADDRS)")
	}

	// Non-root, read-only, no privileges.
	if v, _ := dig(pod, "securityContext", "runAsNonRoot").(bool); !v {
		t.Error("Deployment: pod securityContext.runAsNonRoot must be true")
	}
	if uid, ok := digInt(pod, "securityContext", "runAsUser"); ok && uid == 0 {
		t.Error("Deployment: runAsUser 0")
	}
	sc := digMap(a.container, "securityContext")
	if v, _ := sc["readOnlyRootFilesystem"].(bool); !v {
		t.Error("Deployment: readOnlyRootFilesystem must be true")
	}
	if v, ok := sc["allowPrivilegeEscalation"].(bool); !ok || v {
		t.Error("Deployment: allowPrivilegeEscalation must be false")
	}
	if !slices.Contains(strs(dig(sc, "capabilities", "drop")), "ALL") {
		t.Error("Deployment: drop ALL capabilities")
	}
	if len(digMap(a.container, "resources", "requests")) == 0 || digStr(a.container, "resources", "limits", "memory") == "" {
		t.Error("Deployment: set resources.requests and a memory limit")
	}

	// The port is SOFTLAND_ADDR's, and the probes use the real routes.
	if _, ok := containerPort(a.container, a.port); !ok {
		t.Errorf("Deployment: no containerPort %d (SOFTLAND_ADDR %s)", a.port, a.env.addr())
	}
	for probe, want := range map[string]string{"readinessProbe": "/readyz", "livenessProbe": "/healthz"} {
		p := digMap(a.container, probe, "httpGet")
		if got := digStr(p, "path"); got != want {
			t.Errorf("Deployment: %s path %q; want %s", probe, got, want)
		}
		if n, ok := containerPort(a.container, dig(p, "port")); !ok || n != a.port {
			t.Errorf("Deployment: %s port %v is not the container's port %d", probe, dig(p, "port"), a.port)
		}
	}

	// Drain before SIGKILL.
	grace, ok := digInt(pod, "terminationGracePeriodSeconds")
	if !ok {
		grace = 30 // Kubernetes' default
	}
	if drain := a.env.drain(t); time.Duration(grace)*time.Second <= drain {
		t.Errorf("Deployment: terminationGracePeriodSeconds %d must exceed SOFTLAND_DRAIN_TIMEOUT %v", grace, drain)
	}

	// A PodDisruptionBudget keeps one pod through voluntary disruptions.
	pdbs := k.all("PodDisruptionBudget")
	found := false
	for _, pdb := range pdbs {
		if !subset(digMap(pdb.raw, "spec", "selector", "matchLabels"), a.labels) {
			continue
		}
		found = true
		if n, ok := digInt(pdb.raw, "spec", "minAvailable"); !ok || n != 1 || n >= replicas {
			t.Errorf("PodDisruptionBudget %s: minAvailable %v; want 1, and fewer than the replicas (%d)", pdb.name, dig(pdb.raw, "spec", "minAvailable"), replicas)
		}
	}
	if !found {
		t.Error("no PodDisruptionBudget selects the Softland pods")
	}
}

func TestKubernetesServiceAndIngress(t *testing.T) {
	k := loadK8s(t)
	a := loadK8sApp(t, k)

	// Service ports (by name and number) that reach the Softland container.
	appPorts := map[string]map[any]bool{}
	for _, svc := range k.all("Service") {
		if !subset(digMap(svc.raw, "spec", "selector"), a.labels) {
			continue
		}
		appPorts[svc.name] = map[any]bool{}
		for _, p := range digList(svc.raw, "spec", "ports") {
			target := dig(p, "targetPort")
			if target == nil {
				target = dig(p, "port")
			}
			if n, ok := containerPort(a.container, target); !ok || n != a.port {
				t.Errorf("Service %s: targetPort %v is not the container's port %d", svc.name, target, a.port)
				continue
			}
			n, _ := digInt(p, "port")
			appPorts[svc.name][n] = true
			if name := digStr(p, "name"); name != "" {
				appPorts[svc.name][name] = true
			}
		}
	}
	if len(appPorts) == 0 {
		t.Fatal("no Service selects the Softland pods")
	}

	root := false
	for _, ing := range k.all("Ingress") {
		if c := digStr(ing.raw, "spec", "ingressClassName"); c != "nginx" {
			t.Errorf("Ingress %s: ingressClassName %q; want nginx, whose annotations it carries", ing.name, c)
		}
		for _, rule := range digList(ing.raw, "spec", "rules") {
			for _, p := range digList(rule, "http", "paths") {
				svc := digStr(p, "backend", "service", "name")
				ports, ok := appPorts[svc]
				if !ok {
					t.Errorf("Ingress %s: path %s goes to %q, which is no Service of the Softland pods", ing.name, digStr(p, "path"), svc)
					continue
				}
				port := dig(p, "backend", "service", "port", "name")
				if port == nil {
					port = dig(p, "backend", "service", "port", "number")
				}
				if !ports[port] {
					t.Errorf("Ingress %s: port %v is not a port of Service %s", ing.name, port, svc)
				}
				if digStr(p, "path") != "/" {
					continue
				}
				root = true
				for _, ann := range []string{"proxy-read-timeout", "proxy-send-timeout"} {
					v := digStr(ing.raw, "metadata", "annotations", "nginx.ingress.kubernetes.io/"+ann)
					if n, err := strconv.Atoi(v); err != nil || n < 3600 {
						t.Errorf("Ingress %s: nginx.ingress.kubernetes.io/%s %q; want at least 3600 for WebSockets", ing.name, ann, v)
					}
				}
			}
		}
	}
	if !root {
		t.Error("no Ingress routes / to Softland")
	}
}

func TestKubernetesRedis(t *testing.T) {
	k := loadK8s(t)
	a := loadK8sApp(t, k)
	u, err := url.Parse(a.env.vals["SOFTLAND_REDIS_URL"])
	if err != nil || u.Hostname() == "" {
		t.Fatalf("SOFTLAND_REDIS_URL %q names no host", a.env.vals["SOFTLAND_REDIS_URL"])
	}
	svc := k.get("Service", u.Hostname())
	if svc == nil {
		t.Fatalf("SOFTLAND_REDIS_URL host %q is no Service of the manifests", u.Hostname())
	}
	port := u.Port()
	if port == "" {
		port = "6379"
	}
	var target any
	for _, p := range digList(svc.raw, "spec", "ports") {
		if digStr(p, "port") == port {
			target = dig(p, "targetPort")
			if target == nil {
				target = dig(p, "port")
			}
		}
	}
	if target == nil {
		t.Fatalf("Service %s has no port %s (SOFTLAND_REDIS_URL)", svc.name, port)
	}
	var sts *k8sObj
	for _, o := range k.all("StatefulSet") {
		if subset(digMap(svc.raw, "spec", "selector"), digMap(o.raw, "spec", "template", "metadata", "labels")) {
			sts = o
		}
	}
	if sts == nil {
		t.Fatalf("Service %s selects no StatefulSet", svc.name)
	}
	where := "StatefulSet " + sts.name
	if n, _ := digInt(sts.raw, "spec", "replicas"); n != 1 {
		t.Errorf("%s: replicas %d; want 1 (independent Redis pods would be separate sets of rooms)", where, n)
	}
	if digStr(sts.raw, "spec", "serviceName") == "" {
		t.Errorf("%s: no serviceName", where)
	}
	claims := map[string]bool{}
	for _, c := range digList(sts.raw, "spec", "volumeClaimTemplates") {
		claims[digStr(c, "metadata", "name")] = true
	}
	cs := digList(sts.raw, "spec", "template", "spec", "containers")
	if len(cs) != 1 {
		t.Fatalf("%s: want one container", where)
	}
	c := cs[0]
	if img := k.effectiveImage(digStr(c, "image")); !strings.HasPrefix(img, "redis:7") {
		t.Errorf("%s: image %q; want Redis 7", where, img)
	}
	if _, ok := containerPort(c, target); !ok {
		t.Errorf("%s: Service %s targets port %v, which the container does not have", where, svc.name, target)
	}
	args := append(strs(c.(map[string]any)["command"]), strs(c.(map[string]any)["args"])...)
	if !argsHave(args, "--appendonly", "yes") || !argsHave(args, "--appendfsync", "everysec") {
		t.Errorf("%s: args %q must turn on persistence: --appendonly yes --appendfsync everysec", where, args)
	}
	dataDir := "/data"
	for i, arg := range args {
		if arg == "--dir" && i+1 < len(args) {
			dataDir = args[i+1]
		}
	}
	persisted := false
	for _, m := range digList(c, "volumeMounts") {
		if digStr(m, "mountPath") == dataDir && claims[digStr(m, "name")] {
			persisted = true
		}
	}
	if !persisted {
		t.Errorf("%s: Redis's directory %s must be a volumeClaimTemplate's mount", where, dataDir)
	}
	// Only Softland reaches Redis.
	for _, np := range k.all("NetworkPolicy") {
		if !subset(digMap(np.raw, "spec", "podSelector", "matchLabels"), digMap(sts.raw, "spec", "template", "metadata", "labels")) {
			continue
		}
		for _, rule := range digList(np.raw, "spec", "ingress") {
			for _, from := range digList(rule, "from") {
				if !subset(digMap(from, "podSelector", "matchLabels"), a.labels) {
					t.Errorf("NetworkPolicy %s admits pods other than Softland's", np.name)
				}
			}
		}
	}
}

func TestKubernetesImagesPinnedAndNonRoot(t *testing.T) {
	k := loadK8s(t)
	workloads := append(k.all("Deployment"), k.all("StatefulSet")...)
	if len(workloads) < 2 {
		t.Fatalf("found %d workloads; want the Softland Deployment and the Redis StatefulSet", len(workloads))
	}
	for _, o := range workloads {
		pod := digMap(o.raw, "spec", "template", "spec")
		if v, _ := dig(pod, "securityContext", "runAsNonRoot").(bool); !v {
			t.Errorf("%s %s: runAsNonRoot must be true", o.kind, o.name)
		}
		for _, c := range containers(o) {
			where := o.kind + " " + o.name + " container " + digStr(c, "name")
			checkImage(t, where, digStr(c, "image"))
			checkImage(t, where+" (after kustomize images:)", k.effectiveImage(digStr(c, "image")))
		}
	}
}

// ---------------------------------------------------------------------------
// systemd.

// unitFile maps "Section.Key" to its values, in order.
func loadUnit(t *testing.T, p string) map[string][]string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	u := map[string][]string{}
	section := ""
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "["):
			section = strings.Trim(line, "[]")
		default:
			k, v, ok := strings.Cut(line, "=")
			if !ok {
				t.Fatalf("%s: cannot read line %q", p, line)
			}
			u[section+"."+k] = append(u[section+"."+k], v)
		}
	}
	return u
}

// systemdDuration reads a systemd time span: "20s", "1min 30s", or bare
// seconds.
func systemdDuration(v string) (time.Duration, error) {
	v = strings.ReplaceAll(v, " ", "")
	if n, err := strconv.Atoi(v); err == nil {
		return time.Duration(n) * time.Second, nil
	}
	v = strings.ReplaceAll(strings.ReplaceAll(v, "min", "m"), "sec", "s")
	return time.ParseDuration(v)
}

func TestSystemd(t *testing.T) {
	f := loadFlags(t)
	dir := filepath.Join(moduleRoot(t), "deploy", "systemd")
	u := loadUnit(t, filepath.Join(dir, "softland.service"))
	last := func(k string) string {
		if v := u[k]; len(v) > 0 {
			return v[len(v)-1]
		}
		return ""
	}
	for k, want := range map[string]string{
		"Service.DynamicUser":     "yes",
		"Service.NoNewPrivileges": "yes",
		"Service.ProtectSystem":   "strict",
		"Service.PrivateTmp":      "yes",
		"Service.Restart":         "on-failure",
		"Service.KillSignal":      "SIGTERM",
		"Service.StateDirectory":  "softland",
	} {
		if got := last(k); got != want {
			t.Errorf("softland.service: %s=%q; want %q", k, got, want)
		}
	}
	if last("Service.ExecStart") == "" {
		t.Error("softland.service: no ExecStart")
	}
	if ef := last("Service.EnvironmentFile"); path.Base(strings.TrimPrefix(ef, "-")) != "softland.env" {
		t.Errorf("softland.service: EnvironmentFile %q; want the softland.env of this directory, installed", ef)
	}
	caps := last("Service.CapabilityBoundingSet")
	if caps != "" && caps != "CAP_NET_BIND_SERVICE" {
		t.Errorf("softland.service: CapabilityBoundingSet=%s; want empty or only CAP_NET_BIND_SERVICE", caps)
	}

	// The environment file.
	b, err := os.ReadFile(filepath.Join(dir, "softland.env"))
	if err != nil {
		t.Fatal(err)
	}
	e := env{f: f, vals: map[string]string{}}
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			t.Errorf("softland.env: cannot read line %q", line)
			continue
		}
		f.checkEnv(t, "softland.env", k, v)
		e.vals[k] = v
	}
	stop, err := systemdDuration(last("Service.TimeoutStopSec"))
	if err != nil {
		t.Errorf("softland.service: TimeoutStopSec: %v", err)
	} else if drain := e.drain(t); stop <= drain {
		t.Errorf("softland.service: TimeoutStopSec %v must exceed SOFTLAND_DRAIN_TIMEOUT %v", stop, drain)
	}
	if e.vals["SOFTLAND_ACME_DOMAINS"] != "" {
		cache := e.vals["SOFTLAND_ACME_CACHE"]
		if state := "/var/lib/" + last("Service.StateDirectory"); cache != state && !strings.HasPrefix(cache, state+"/") {
			t.Errorf("softland.env: SOFTLAND_ACME_CACHE %q must be under the unit's state directory %s: everything else is read-only or vanishes", cache, state)
		}
	}
	// Ports below 1024 (:443, and :80 for ACME challenges) need
	// CAP_NET_BIND_SERVICE, and nothing else does.
	ports := []int{e.port(t)}
	if e.vals["SOFTLAND_ACME_DOMAINS"] != "" {
		ports = append(ports, e.portOf(t, "SOFTLAND_ACME_HTTP_ADDR"))
	}
	if slices.Min(ports) < 1024 {
		for _, k := range []string{"Service.CapabilityBoundingSet", "Service.AmbientCapabilities"} {
			if last(k) != "CAP_NET_BIND_SERVICE" {
				t.Errorf("softland.service: listening on ports %v needs %s=CAP_NET_BIND_SERVICE", ports, k)
			}
		}
	}
}

// ---------------------------------------------------------------------------
// The Dockerfile.

type dockerInstr struct {
	op, args string
	stage    int // index of the FROM it follows
}

func loadDockerfile(t *testing.T) (instrs []dockerInstr, froms []string) {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(moduleRoot(t), "deploy", "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	var cur strings.Builder
	stage := -1
	for line := range strings.Lines(string(b)) {
		trimmed := strings.TrimSpace(line)
		if strings.HasPrefix(trimmed, "#") || (trimmed == "" && cur.Len() == 0) {
			continue
		}
		if s, ok := strings.CutSuffix(trimmed, `\`); ok {
			cur.WriteString(s + " ")
			continue
		}
		cur.WriteString(trimmed)
		op, args, _ := strings.Cut(cur.String(), " ")
		cur.Reset()
		op = strings.ToUpper(op)
		if op == "FROM" {
			stage++
			fields := strings.Fields(args)
			for len(fields) > 0 && strings.HasPrefix(fields[0], "--") {
				fields = fields[1:]
			}
			if len(fields) == 0 {
				t.Fatal("Dockerfile: FROM without an image")
			}
			froms = append(froms, fields[0])
		}
		instrs = append(instrs, dockerInstr{op: op, args: strings.TrimSpace(args), stage: stage})
	}
	if len(froms) < 2 {
		t.Fatalf("Dockerfile has %d stages; want a build stage and a minimal run stage", len(froms))
	}
	return instrs, froms
}

func TestDockerfile(t *testing.T) {
	f := loadFlags(t)
	instrs, froms := loadDockerfile(t)
	final := len(froms) - 1
	for _, img := range froms {
		checkImage(t, "Dockerfile FROM", img)
	}
	if !strings.HasPrefix(froms[0], "golang:1.26") {
		t.Errorf("Dockerfile: build stage %q; want golang:1.26", froms[0])
	}
	if base := froms[final]; !strings.HasPrefix(base, "gcr.io/distroless/static") && base != "scratch" {
		t.Errorf("Dockerfile: final stage %q; want distroless/static or scratch", base)
	}
	var user, expose, entry, build string
	copied := false
	for _, in := range instrs {
		switch {
		case in.op == "RUN" && strings.Contains(in.args, "go build"):
			build = in.args
		case in.stage != final:
		case in.op == "USER":
			user = in.args
		case in.op == "EXPOSE":
			expose = in.args
		case in.op == "ENTRYPOINT":
			entry = in.args
		case in.op == "COPY" && strings.Contains(in.args, "--from=") && strings.HasSuffix(in.args, " /softland"):
			copied = true
		}
	}
	uid, _, _ := strings.Cut(user, ":")
	if uid == "" || uid == "0" || uid == "root" {
		t.Errorf("Dockerfile: the final stage must run as a non-root USER (got %q)", user)
	}
	if n, err := strconv.Atoi(uid); err != nil || n == 0 {
		t.Errorf("Dockerfile: USER %q should be numeric, so runAsNonRoot can check it", user)
	}
	_, port, _ := net.SplitHostPort(f.defaultAddr)
	if !slices.Contains(strings.Fields(expose), port) && !slices.Contains(strings.Fields(expose), port+"/tcp") {
		t.Errorf("Dockerfile: EXPOSE %q; want SOFTLAND_ADDR's default port %s", expose, port)
	}
	if entry != `["/softland"]` {
		t.Errorf(`Dockerfile: ENTRYPOINT %s; want ["/softland"]`, entry)
	}
	if !copied {
		t.Error("Dockerfile: the final stage must COPY the binary from the build stage to /softland")
	}
	for _, want := range []string{"CGO_ENABLED=0", "-trimpath", `-ldflags "-s -w"`, "./server/cmd/softland"} {
		if !strings.Contains(build, want) {
			t.Errorf("Dockerfile: go build %q lacks %s", build, want)
		}
	}
}

// TestDockerBuildContext checks that every file the server binary is built
// from (Go files and go:embed files of the module's packages it depends on,
// and go.mod and go.sum) is copied by the Dockerfile and not excluded by
// deploy/Dockerfile.dockerignore.
func TestDockerBuildContext(t *testing.T) {
	root := moduleRoot(t)
	instrs, _ := loadDockerfile(t)
	var sources []string
	for _, in := range instrs {
		if in.op != "COPY" || in.stage != 0 || strings.Contains(in.args, "--from=") {
			continue
		}
		fields := strings.Fields(in.args)
		for _, s := range fields[:len(fields)-1] {
			if !strings.HasPrefix(s, "--") {
				sources = append(sources, strings.TrimSuffix(path.Clean(s), "/"))
			}
		}
	}
	ignore := loadDockerignore(t, filepath.Join(root, "deploy", "Dockerfile.dockerignore"))

	cmd := exec.Command("go", "list", "-deps", "-f",
		`{{if and .Module .Module.Main}}{{.Dir}}|{{join .GoFiles ","}}|{{join .EmbedFiles ","}}{{end}}`,
		"./server/cmd/softland")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v", err)
	}
	files := []string{"go.mod", "go.sum"}
	for line := range strings.Lines(string(out)) {
		dir, rest, ok := strings.Cut(strings.TrimSpace(line), "|")
		if !ok {
			continue
		}
		rel, err := filepath.Rel(root, dir)
		if err != nil {
			t.Fatal(err)
		}
		for _, name := range strings.FieldsFunc(rest, func(r rune) bool { return r == ',' || r == '|' }) {
			files = append(files, filepath.ToSlash(filepath.Join(rel, name)))
		}
	}
	if len(files) < 20 {
		t.Fatalf("go list found only %d files of the server", len(files))
	}
	for _, file := range files {
		if !slices.ContainsFunc(sources, func(src string) bool { return file == src || strings.HasPrefix(file, src+"/") }) {
			t.Errorf("Dockerfile: %s is needed to build the server but no COPY takes it (COPY sources %v)", file, sources)
		}
		if ignore.excludes(file) {
			t.Errorf("Dockerfile.dockerignore excludes %s, which the server is built from", file)
		}
	}
	// The ignore file does keep the rest out.
	for _, file := range []string{".git/config", "client/client.go", "docs/protocol.md", "server/edge/edge_test.go"} {
		if !ignore.excludes(file) {
			t.Errorf("Dockerfile.dockerignore lets %s into the build context", file)
		}
	}
}

// dockerignore follows .dockerignore's rules: patterns are matched against
// paths relative to the context root, a pattern that matches a directory
// matches everything in it, "**" matches any number of directories, "!"
// re-includes, and the last matching pattern wins.
type dockerignore []struct {
	re  *regexp.Regexp
	neg bool
}

func loadDockerignore(t *testing.T, p string) dockerignore {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	var d dockerignore
	for line := range strings.Lines(string(b)) {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		neg := strings.HasPrefix(line, "!")
		pat := path.Clean(strings.TrimPrefix(strings.TrimPrefix(line, "!"), "/"))
		var re strings.Builder
		re.WriteString("^")
		for i := 0; i < len(pat); i++ {
			switch {
			case strings.HasPrefix(pat[i:], "**/"):
				re.WriteString("(.*/)?")
				i += 2
			case strings.HasPrefix(pat[i:], "**"):
				re.WriteString(".*")
				i++
			case pat[i] == '*':
				re.WriteString("[^/]*")
			case pat[i] == '?':
				re.WriteString("[^/]")
			default:
				re.WriteString(regexp.QuoteMeta(pat[i : i+1]))
			}
		}
		re.WriteString("$")
		d = append(d, struct {
			re  *regexp.Regexp
			neg bool
		}{regexp.MustCompile(re.String()), neg})
	}
	return d
}

func (d dockerignore) excludes(file string) bool {
	excluded := false
	for _, rule := range d {
		// The file itself or any directory above it.
		for p := file; p != "." && p != "/"; p = path.Dir(p) {
			if rule.re.MatchString(p) {
				excluded = !rule.neg
				break
			}
		}
	}
	return excluded
}

// ---------------------------------------------------------------------------
// The routes the probes and health checks use exist on a real server.

func TestProbedRoutesExist(t *testing.T) {
	paths := map[string]string{"/healthz": "liveness", "/readyz": "readiness", "/metrics": "Prometheus", "/": "the app"}
	paths[loadCaddyfile(t).healthURI] = "Caddyfile health_uri"
	a := loadK8sApp(t, loadK8s(t))
	for _, probe := range []string{"readinessProbe", "livenessProbe", "startupProbe"} {
		if p := digStr(a.container, probe, "httpGet", "path"); p != "" {
			paths[p] = "Deployment " + probe
		}
	}
	srv := servertest.Start(t)
	get := func(p string) int {
		t.Helper()
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatalf("GET %s: %v", p, err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		return resp.StatusCode
	}
	for p, who := range paths {
		if p != "/" && !probePathRE.MatchString(p) {
			t.Errorf("%s probes %q; want exactly /healthz or /readyz", who, p)
		}
		if code := get(p); code != http.StatusOK {
			t.Errorf("GET %s (used by %s) = %d; want 200", p, who, code)
		}
	}
	// What the deployments rely on: a draining instance is unready, and
	// still alive.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Edge.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	if code := get("/readyz"); code != http.StatusServiceUnavailable {
		t.Errorf("GET /readyz while draining = %d; want 503", code)
	}
	if code := get("/healthz"); code != http.StatusOK {
		t.Errorf("GET /healthz while draining = %d; want 200", code)
	}
}

// ---------------------------------------------------------------------------
// The documentation exists and its relative links resolve.

func TestDocs(t *testing.T) {
	dir := filepath.Join(moduleRoot(t), "deploy")
	link := regexp.MustCompile(`\]\(([^)#\s]+)(#[^)\s]*)?\)`)
	for _, doc := range []string{"README.md", "docker.md", "kubernetes.md", "systemd.md"} {
		b, err := os.ReadFile(filepath.Join(dir, doc))
		if err != nil {
			t.Error(err)
			continue
		}
		text := string(b)
		for _, m := range link.FindAllStringSubmatch(text, -1) {
			target := m[1]
			if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
				continue
			}
			if _, err := os.Stat(filepath.Join(dir, filepath.FromSlash(target))); err != nil {
				t.Errorf("%s links to %s: %v", doc, target, err)
			}
		}
	}
	// Each way says how phones on a LAN get a secure context.
	b, _ := os.ReadFile(filepath.Join(dir, "README.md"))
	for _, want := range []string{"tls internal", "mkcert", "-acme-domains", "-tls-cert"} {
		if !strings.Contains(string(b), want) {
			t.Errorf("README.md does not mention %s for phones on a LAN", want)
		}
	}
}
