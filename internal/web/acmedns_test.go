package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/internal/app"
	"github.com/dcvd/dcvd/internal/web"
)

func freeAddr(t *testing.T) string {
	t.Helper()
	for i := 0; i < 20; i++ {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().String()
		u, err := net.ListenPacket("udp", addr)
		l.Close()
		if err == nil {
			u.Close()
			return addr
		}
	}
	t.Fatal("no free loopback port")
	return ""
}

// acmeEnv is dcvd with the embedded DNS server answering for acme.test and
// the acme-dns API on an httptest server.
type acmeEnv struct {
	url, dnsAddr string
}

func newAcmeEnv(t *testing.T, extra string) acmeEnv {
	t.Helper()
	dir := t.TempDir()
	dnsAddr := freeAddr(t)
	cfg := filepath.Join(dir, "config.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`[daemon]
state_dir = %q
listen = "127.0.0.1:1"
[daemon.acmedns]
zone = "auth.acme.test"
%s
[propagation]
timeout = "5s"
poll_min = "10ms"
[[propagation.override]]
zone = "acme.test"
servers = [%q]
[[dns]]
type = "embedded"
name = "embedded"
zones = ["acme.test"]
listen = %q
reload_interval = "50ms"
`, filepath.Join(dir, "state"), extra, dnsAddr, dnsAddr)), 0o600)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	a, err := app.Open(ctx, cfg, app.Options{LogOutput: io.Discard, Actor: "daemon"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.Close() })
	for _, s := range a.Servers() {
		go s.Serve(ctx)
	}
	h, err := web.Handler(ctx, a)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return acmeEnv{url: srv.URL, dnsAddr: dnsAddr}
}

func (e acmeEnv) post(t *testing.T, path, body string, hdr ...string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, e.url+path, strings.NewReader(body))
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

// txt asks the embedded server for name's TXT values.
func (e acmeEnv) txt(t *testing.T, name string) []string {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(dns.Fqdn(name), dns.TypeTXT)
	r, err := dns.Exchange(m, e.dnsAddr)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, rr := range r.Answer {
		if txt, ok := rr.(*dns.TXT); ok {
			out = append(out, strings.Join(txt.Txt, ""))
		}
	}
	slices.Sort(out)
	return out
}

func value(c byte) string { return strings.Repeat(string(c), 43) }

// TestAcmeDNSAPI checks the acme-dns API against the embedded DNS server:
// registration, updates with case-insensitive JSON keys, the two most recent
// values, and every refusal acme-dns makes.
func TestAcmeDNSAPI(t *testing.T) {
	e := newAcmeEnv(t, "")
	code, reg := e.post(t, "/register", "")
	if code != 201 {
		t.Fatalf("register: %d %v", code, reg)
	}
	user, pass, sub, full := reg["username"].(string), reg["password"].(string), reg["subdomain"].(string), reg["fulldomain"].(string)
	if len(pass) != 40 || full != sub+".auth.acme.test" || user == "" || reg["allowfrom"] == nil {
		t.Fatalf("register answer %v", reg)
	}
	auth := []string{"X-Api-User", user, "X-Api-Key", pass}
	for _, v := range []byte{'a', 'b', 'c'} {
		// One client (goacmedns, old) sends {"SubDomain","Txt"}.
		code, out := e.post(t, "/update", fmt.Sprintf(`{"SubDomain":%q,"Txt":%q}`, sub, value(v)), auth...)
		if code != 200 || out["txt"] != value(v) {
			t.Fatalf("update %c: %d %v", v, code, out)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for want := []string{value('b'), value('c')}; !slices.Equal(e.txt(t, full), want); {
		if time.Now().After(deadline) {
			t.Fatalf("TXT %s = %v, want the two most recent %v", full, e.txt(t, full), want)
		}
		time.Sleep(50 * time.Millisecond)
	}
	// A repeated value is not published twice and displaces nothing.
	if code, _ := e.post(t, "/update", fmt.Sprintf(`{"subdomain":%q,"txt":%q}`, sub, value('c')), auth...); code != 200 {
		t.Fatalf("repeated update: %d", code)
	}
	if got := e.txt(t, full); !slices.Equal(got, []string{value('b'), value('c')}) {
		t.Fatalf("after a repeated update TXT = %v", got)
	}

	refusals := []struct {
		name, path, body string
		hdr              []string
		code             int
		err              string
	}{
		{"wrong key", "/update", fmt.Sprintf(`{"subdomain":%q,"txt":%q}`, sub, value('d')), []string{"X-Api-User", user, "X-Api-Key", "x" + pass[1:]}, 401, "forbidden"},
		{"unknown user", "/update", fmt.Sprintf(`{"subdomain":%q,"txt":%q}`, sub, value('d')), []string{"X-Api-User", "nobody", "X-Api-Key", pass}, 401, "forbidden"},
		{"other subdomain", "/update", fmt.Sprintf(`{"subdomain":"other","txt":%q}`, value('d')), auth, 401, "forbidden"},
		{"short txt", "/update", fmt.Sprintf(`{"subdomain":%q,"txt":"abc"}`, sub), auth, 400, "bad_txt"},
		{"bad json", "/update", `{`, auth, 400, "malformed_json_payload"},
		{"bad cidr", "/register", `{"allowfrom":["300.1.1.1/8"]}`, nil, 400, "invalid_allowfrom_cidr"},
	}
	for _, r := range refusals {
		code, out := e.post(t, r.path, r.body, r.hdr...)
		if code != r.code || out["error"] != r.err {
			t.Errorf("%s: %d %v, want %d %q", r.name, code, out, r.code, r.err)
		}
	}

	// An account restricted to another network cannot update from here.
	code, reg2 := e.post(t, "/register", `{"allowfrom":["10.0.0.0/8"]}`)
	if code != 201 {
		t.Fatalf("register with allowfrom: %d %v", code, reg2)
	}
	code, out := e.post(t, "/update", fmt.Sprintf(`{"subdomain":%q,"txt":%q}`, reg2["subdomain"], value('e')),
		"X-Api-User", reg2["username"].(string), "X-Api-Key", reg2["password"].(string))
	if code != 401 || out["error"] != "forbidden" {
		t.Errorf("update from outside the account's allowfrom: %d %v", code, out)
	}
}

// TestAcmeDNSClosed: registration off, and a source outside allow_from.
func TestAcmeDNSClosed(t *testing.T) {
	e := newAcmeEnv(t, "registration = false")
	if code, _ := e.post(t, "/register", ""); code != 404 && code != 405 {
		t.Errorf("register with registration = false: %d, want 404", code)
	}
	e = newAcmeEnv(t, `allow_from = ["192.0.2.0/24"]`)
	if code, out := e.post(t, "/register", ""); code != 401 || out["error"] != "forbidden" {
		t.Errorf("register from outside allow_from: %d %v", code, out)
	}
}
