package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/internal/testenv"
)

// persistWorld is a real BIND primary for p.test (RFC 2136 updates) and a
// real BIND secondary that transfers it on NOTIFY.
type persistWorld struct {
	primary, secondary *testenv.BIND
	dir                string
}

func newPersistWorld(t *testing.T) *persistWorld {
	t.Helper()
	sport := testenv.FreePort(t, "127.0.0.1")
	p := testenv.StartBIND(t, testenv.BINDOptions{ExtraOptions: "notify-delay 0;", Zones: []testenv.BINDZone{{Name: "p.test",
		Records: []string{"other TXT \"unrelated\""}, Notify: []string{fmt.Sprintf("127.0.0.1 port %d", sport)}}}})
	s := testenv.StartBIND(t, testenv.BINDOptions{Port: sport, ExtraConfig: fmt.Sprintf(
		"zone \"p.test\" { type secondary; primaries { 127.0.0.1 port %d; }; file \"p.test.secondary\"; };\n", p.Port)})
	w := &persistWorld{primary: p, secondary: s, dir: t.TempDir()}
	w.waitTXT(t, "other.p.test.", []string{"unrelated"}) // the secondary has the zone
	return w
}

// txt returns the TXT values of name on one server.
func txtAt(t *testing.T, addr, name string) []string {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, dns.TypeTXT)
	r, _, err := (&dns.Client{Timeout: time.Second}).Exchange(m, addr)
	if err != nil {
		return []string{"error: " + err.Error()}
	}
	var out []string
	for _, rr := range r.Answer {
		if txt, ok := rr.(*dns.TXT); ok {
			out = append(out, strings.Join(txt.Txt, ""))
		}
	}
	return out
}

// waitTXT waits until both servers serve exactly want (any order) at name.
func (w *persistWorld) waitTXT(t *testing.T, name string, want []string) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		ok := true
		for _, addr := range []string{w.primary.Addr, w.secondary.Addr} {
			if !sameSet(txtAt(t, addr, name), want) {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: primary %q, secondary %q; want %q", name, txtAt(t, w.primary.Addr, name), txtAt(t, w.secondary.Addr, name), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	m := map[string]int{}
	for _, v := range a {
		m[v]++
	}
	for _, v := range b {
		m[v]--
	}
	for _, n := range m {
		if n != 0 {
			return false
		}
	}
	return true
}

// update sends one signed RFC 2136 update to the primary: remove values,
// then add values, at name (what a person editing the zone does).
func (w *persistWorld) update(t *testing.T, name string, remove, add []string) {
	t.Helper()
	m := new(dns.Msg)
	m.SetUpdate("p.test.")
	for _, v := range remove {
		m.Remove([]dns.RR{&dns.TXT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: []string{v}}})
	}
	for _, v := range add {
		m.Insert([]dns.RR{&dns.TXT{Hdr: dns.RR_Header{Name: name, Rrtype: dns.TypeTXT, Class: dns.ClassINET, Ttl: 60}, Txt: []string{v}}})
	}
	k := w.primary.Key
	m.SetTsig(k.Name, k.Algorithm, 300, time.Now().Unix())
	c := &dns.Client{TsigSecret: map[string]string{k.Name: k.Secret}, Timeout: 2 * time.Second}
	if r, _, err := c.Exchange(m, w.primary.Addr); err != nil || r.Rcode != dns.RcodeSuccess {
		t.Fatalf("update %s: %v %v", name, err, r)
	}
}

func (w *persistWorld) config(t *testing.T, entries string) string {
	t.Helper()
	secret := filepath.Join(w.dir, "tsig.secret")
	os.WriteFile(secret, []byte(w.primary.Key.Secret+"\n"), 0o600)
	cfg := fmt.Sprintf(`[daemon]
state_dir = %q
log_level = "info"

[propagation]
resolvers = [%q]
poll_min = "10ms"
poll_max = "200ms"
timeout = "15s"
[[propagation.override]]
zone = "."
servers = [%q, %q]

[[dns]]
type = "rfc2136"
name = "bind"
zones = ["p.test"]
server = %q
tsig_key = %q
tsig_secret_file = %q
timeout = "2s"
%s`, filepath.Join(w.dir, "state"), w.primary.Addr, w.primary.Addr, w.secondary.Addr, w.primary.Addr,
		strings.TrimSuffix(w.primary.Key.Name, "."), secret, entries)
	path := filepath.Join(w.dir, "config.toml")
	if err := writeFile(path, cfg); err != nil {
		t.Fatal(err)
	}
	return path
}

const persistEntries = `
[[persist]]
domain = "p.test"
issuer = "digicert.com"
account_uri = "https://acme.example/acct/1"

[[persist]]
domain = "a.p.test"
issuer = "letsencrypt.org"
account_uri = "https://acme-v02.api.letsencrypt.org/acme/acct/2"
policy = "wildcard"

[[persist]]
domain = "b.p.test"
issuer = "digicert.com"
account_uri = "https://acme.example/acct/3"
persist_until = "2027-06-30T00:00:00Z"
`

// TestPersist: three [[persist]] domains on a real BIND primary and
// secondary. One `dcvd run` creates them and both servers serve them; a
// value changed by hand is repaired by the next pass (a run is one tick of
// the daemon's schedule); an entry taken out of the config loses only
// dcvd's value, a hand-made value next to it stays.
func TestPersist(t *testing.T) {
	w := newPersistWorld(t)
	cfg := w.config(t, persistEntries)
	vals := map[string]string{
		"_validation-persist.p.test.":   "digicert.com; accounturi=https://acme.example/acct/1",
		"_validation-persist.a.p.test.": "letsencrypt.org; accounturi=https://acme-v02.api.letsencrypt.org/acme/acct/2; policy=wildcard",
		"_validation-persist.b.p.test.": "digicert.com; accounturi=https://acme.example/acct/3; persistUntil=1814313600",
	}
	run := func(step string) result {
		t.Helper()
		r := runDcvd(t, deadlineCtx(t, time.Minute), nil, "run", "--config", cfg, "--timeout", "30s")
		if r.code != 0 {
			t.Fatalf("%s: run exit %d\nstdout:\n%s\nstderr:\n%s", step, r.code, r.stdout, r.stderr)
		}
		return r
	}
	r := run("create")
	for name, v := range vals {
		w.waitTXT(t, name, []string{v})
	}
	if strings.Count(r.stderr, "state=created") != 3 {
		t.Errorf("create: want three created states in the log:\n%s", r.stderr)
	}

	// By hand: a.p.test's value edited, b.p.test's deleted.
	w.update(t, "_validation-persist.a.p.test.", []string{vals["_validation-persist.a.p.test."]}, []string{"letsencrypt.org; accounturi=https://evil.example/1"})
	w.update(t, "_validation-persist.b.p.test.", []string{vals["_validation-persist.b.p.test."]}, nil)
	w.waitTXT(t, "_validation-persist.b.p.test.", nil)
	r = run("repair")
	w.waitTXT(t, "_validation-persist.a.p.test.", []string{vals["_validation-persist.a.p.test."], "letsencrypt.org; accounturi=https://evil.example/1"})
	w.waitTXT(t, "_validation-persist.b.p.test.", []string{vals["_validation-persist.b.p.test."]})
	if strings.Count(r.stderr, "state=repaired") != 2 || strings.Count(r.stderr, "state=present") != 1 {
		t.Errorf("repair: want two repaired and one present:\n%s", r.stderr)
	}

	// p.test's entry leaves the config; someone else's value there stays.
	w.update(t, "_validation-persist.p.test.", nil, []string{"sectigo.com; accounturi=https://other.example/9"})
	cfg = w.config(t, persistEntries[strings.Index(persistEntries, "[[persist]]\ndomain = \"a.p.test\""):])
	r = run("remove")
	w.waitTXT(t, "_validation-persist.p.test.", []string{"sectigo.com; accounturi=https://other.example/9"})
	w.waitTXT(t, "_validation-persist.a.p.test.", []string{vals["_validation-persist.a.p.test."], "letsencrypt.org; accounturi=https://evil.example/1"})
	w.waitTXT(t, "_validation-persist.b.p.test.", []string{vals["_validation-persist.b.p.test."]})
	if !strings.Contains(r.stderr, "state=removed") {
		t.Errorf("remove: no removed state in the log:\n%s", r.stderr)
	}

	// Every write and removal above is in the audit trail, in order: three
	// adds (create), two adds (repair), one removal, each by "run" with the
	// record, the backend, the zone and Order "persist:<domain>".
	a := runDcvd(t, deadlineCtx(t, time.Minute), nil, "audit", "--config", cfg, "--json")
	if a.code != 0 {
		t.Fatalf("audit exit %d: %s", a.code, a.stderr)
	}
	var rows []auditRow
	if err := json.Unmarshal([]byte(a.stdout), &rows); err != nil {
		t.Fatalf("audit --json: %v\n%s", err, a.stdout)
	}
	var got []string
	for _, row := range rows {
		if row.Kind != "dns-add" && row.Kind != "dns-remove" {
			continue
		}
		dom := strings.TrimPrefix(row.Order, "persist:")
		if row.Actor != "run" || row.Result != "ok" || row.Backend != "bind" || strings.TrimSuffix(row.Zone, ".") != "p.test" ||
			row.Type != "TXT" || row.Challenge != 0 || strings.TrimSuffix(row.Name, ".") != "_validation-persist."+dom || row.Value != vals["_validation-persist."+dom+"."] ||
			(row.Kind == "dns-add") != (row.Serial != 0) {
			t.Errorf("audit entry %+v", row)
		}
		got = append(got, row.Kind+" "+row.Order)
	}
	want := []string{
		"dns-add persist:a.p.test", "dns-add persist:b.p.test", "dns-add persist:p.test", // create (any order)
		"dns-add persist:a.p.test", "dns-add persist:b.p.test", // repair
		"dns-remove persist:p.test", // remove
	}
	if len(got) != len(want) || !sameSet(got[:3], want[:3]) || !sameSet(got[3:5], want[3:5]) || got[5] != want[5] {
		t.Errorf("audit writes %q, want %q (create and repair in any order)", got, want)
	}
}
