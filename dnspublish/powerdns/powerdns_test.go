package powerdns

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/BurntSushi/toml"
	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/dnspublish/publishertest"
	"github.com/dcvd/dcvd/internal/testenv"
)

const zoneName = "example.com."

func startPDNS(t *testing.T) *testenv.PDNS {
	t.Helper()
	return testenv.StartPDNS(t, testenv.PDNSOptions{Zones: []testenv.PDNSZone{
		{Name: "example.com", Records: publishertest.ZoneFileLines("example.com")},
		{Name: "primary.test", Kind: "Master"},
	}})
}

func open(t *testing.T, s *testenv.PDNS, apiURL, key string, zones ...string) *Publisher {
	t.Helper()
	if len(zones) == 0 {
		zones = []string{zoneName}
	}
	p, err := New(dnspublish.Base{Name: "pdns", Zones: zones}, Options{APIURL: apiURL, APIKey: key})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// foreignPatch changes an RRset through the API as someone else would.
func foreignPatch(t *testing.T, s *testenv.PDNS, name string, contents ...string) {
	t.Helper()
	rs := map[string]any{"name": name, "type": "TXT", "ttl": 300, "changetype": "REPLACE"}
	var recs []map[string]any
	for _, c := range contents {
		recs = append(recs, map[string]any{"content": dnspublish.TXTContent(c), "disabled": false})
	}
	if len(recs) == 0 {
		rs = map[string]any{"name": name, "type": "TXT", "changetype": "DELETE"}
	} else {
		rs["records"] = recs
	}
	body, _ := json.Marshal(map[string]any{"rrsets": []any{rs}})
	req, _ := http.NewRequest(http.MethodPatch, s.APIURL+"/api/v1/servers/localhost/zones/"+zoneName, bytes.NewReader(body))
	req.Header.Set("X-API-Key", s.APIKey)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusNoContent {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("foreign PATCH: %d %s", resp.StatusCode, b)
	}
}

func served(t *testing.T, s *testenv.PDNS, name string) []string {
	t.Helper()
	v, err := publishertest.Served(context.Background(), s.Addr, name, dns.TypeTXT)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func equal(t *testing.T, what string, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("%s:\n got %q\nwant %q", what, got, want)
	}
}

func wantErr(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want one containing %q", parts)
	}
	publishertest.OneLine(t, err)
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Fatalf("error %q does not contain %q", err, p)
		}
	}
}

func txt(name, v string) dnspublish.Record { return publishertest.TXT(name, v) }

// TestPowerDNS runs the conformance suite and the PowerDNS specifics against
// one real pdns_server (gsqlite3, caches off) started on loopback.
func TestPowerDNS(t *testing.T) {
	s := startPDNS(t)
	ctx := context.Background()
	p := open(t, s, s.APIURL, s.APIKey, zoneName, "primary.test")

	t.Run("conformance", func(t *testing.T) {
		publishertest.Run(t, publishertest.Harness{Publisher: p, Zone: zoneName, Server: s.Addr})
	})

	t.Run("serial and foreign TTL", func(t *testing.T) {
		rec := txt(zoneName, "serial-check")
		res, err := p.Add(ctx, zoneName, []dnspublish.Record{rec})
		if err != nil {
			t.Fatal(err)
		}
		m := new(dns.Msg)
		m.SetQuestion(zoneName, dns.TypeSOA)
		r, err := dns.Exchange(m, s.Addr)
		if err != nil {
			t.Fatal(err)
		}
		if soa := r.Answer[0].(*dns.SOA); res.Serial == 0 || soa.Serial != res.Serial {
			t.Fatalf("Result.Serial %d, served %d", res.Serial, soa.Serial)
		}
		m.SetQuestion(zoneName, dns.TypeTXT)
		r, _ = dns.Exchange(m, s.Addr)
		for _, rr := range r.Answer {
			if rr.Header().Ttl != 3600 {
				t.Fatalf("apex TXT TTL changed: %v", rr)
			}
		}
		if _, err := p.Remove(ctx, zoneName, []dnspublish.Record{rec}); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("primary zone: NOTIFY asked for", func(t *testing.T) {
		var logs bytes.Buffer
		p := open(t, s, s.APIURL, s.APIKey, "primary.test")
		p.log = slogTo(&logs)
		rec := txt("_acme-challenge.primary.test", "v")
		if _, err := p.Add(ctx, "primary.test", []dnspublish.Record{rec}); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Remove(ctx, "primary.test", []dnspublish.Record{rec}); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(logs.String(), "failed") {
			t.Fatalf("notify failed: %s", logs.String())
		}
	})

	t.Run("someone else changes the RRset after our write: merged, kept", func(t *testing.T) {
		name := "_acme-challenge.race." + zoneName
		p := open(t, s, s.APIURL, s.APIKey)
		p.afterWrite = func(round int) {
			if round == 0 {
				foreignPatch(t, s, name, "intruder")
			}
		}
		if _, err := p.Add(ctx, zoneName, []dnspublish.Record{txt(name, "ours")}); err != nil {
			t.Fatal(err)
		}
		equal(t, "after add", served(t, s, name), "intruder", "ours")
		p.afterWrite = func(round int) {
			if round == 0 {
				foreignPatch(t, s, name, "intruder", "ours", "second-intruder")
			}
		}
		if _, err := p.Remove(ctx, zoneName, []dnspublish.Record{txt(name, "ours")}); err != nil {
			t.Fatal(err)
		}
		equal(t, "after remove", served(t, s, name), "intruder", "second-intruder")
		foreignPatch(t, s, name)
	})

	t.Run("someone else removes their value meanwhile: not resurrected", func(t *testing.T) {
		busy := "busy." + zoneName
		p := open(t, s, s.APIURL, s.APIKey)
		p.afterWrite = func(round int) {
			if round == 0 {
				foreignPatch(t, s, busy)
			}
		}
		if _, err := p.Add(ctx, zoneName, []dnspublish.Record{txt(busy, "ours")}); err != nil {
			t.Fatal(err)
		}
		equal(t, "after add", served(t, s, busy), "ours")
		p.afterWrite = nil
		if _, err := p.Remove(ctx, zoneName, []dnspublish.Record{txt(busy, "ours")}); err != nil {
			t.Fatal(err)
		}
		foreignPatch(t, s, busy, publishertest.ForeignTXT)
	})

	t.Run("someone else changes it every time: gives up, keeps theirs", func(t *testing.T) {
		name := "_acme-challenge.storm." + zoneName
		p := open(t, s, s.APIURL, s.APIKey)
		p.afterWrite = func(round int) { foreignPatch(t, s, name, fmt.Sprintf("theirs-%d", round)) }
		_, err := p.Add(ctx, zoneName, []dnspublish.Record{txt(name, "ours")})
		wantErr(t, err, `powerdns "pdns": add 1 records in example.com: the RRsets at _acme-challenge.storm.example.com were changed by someone else during each of 5 attempts`)
		equal(t, "theirs kept", served(t, s, name), "theirs-4")
		foreignPatch(t, s, name)
	})

	t.Run("wrong API key", func(t *testing.T) {
		p := open(t, s, s.APIURL, "wrong-key-4711")
		_, err := p.Add(ctx, zoneName, []dnspublish.Record{txt("_acme-challenge."+zoneName, "v")})
		wantErr(t, err, `powerdns "pdns": add 1 records in example.com: read: GET /api/v1/servers/localhost/zones/example.com.: 401`, "Unauthorized")
		t.Log(err)
		if strings.Contains(err.Error(), "wrong-key-4711") {
			t.Fatal("error shows the key")
		}
		wantErr(t, p.Check(ctx), "401")
	})

	t.Run("zone not found", func(t *testing.T) {
		p := open(t, s, s.APIURL, s.APIKey, "missing.test")
		_, err := p.Add(ctx, "missing.test", []dnspublish.Record{txt("_acme-challenge.missing.test", "v")})
		wantErr(t, err, "read: zone missing.test not found on the server", "404")
		wantErr(t, p.Check(ctx), `powerdns "pdns": zones not on the server: missing.test`)
	})

	t.Run("check", func(t *testing.T) {
		if err := p.Check(ctx); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("429 and 5xx through a proxy", func(t *testing.T) {
		target, _ := url.Parse(s.APIURL)
		proxy := httputil.NewSingleHostReverseProxy(target)
		var mode atomic.Value
		mode.Store("")
		var patches atomic.Int32
		front := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			m := mode.Load().(string)
			if r.Method == http.MethodPatch {
				patches.Add(1)
			}
			switch {
			case m == "429 once" && r.Method == http.MethodGet:
				mode.Store("")
				w.Header().Set("Retry-After", "0")
				http.Error(w, `{"error": "slow down"}`, http.StatusTooManyRequests)
				return
			case m == "503 before PATCH" && r.Method == http.MethodPatch:
				mode.Store("")
				http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
				return
			case m == "502 after PATCH" && r.Method == http.MethodPatch:
				mode.Store("")
				rec := httptest.NewRecorder()
				proxy.ServeHTTP(rec, r)
				http.Error(w, "Bad Gateway", http.StatusBadGateway)
				return
			case m == "500 always":
				http.Error(w, `{"error": "database is locked"}`, http.StatusInternalServerError)
				return
			}
			proxy.ServeHTTP(w, r)
		}))
		defer front.Close()
		p := open(t, s, front.URL, s.APIKey)
		name := "_acme-challenge.flaky." + zoneName
		for _, m := range []string{"429 once", "503 before PATCH", "502 after PATCH"} {
			mode.Store(m)
			patches.Store(0)
			if _, err := p.Add(ctx, zoneName, []dnspublish.Record{txt(name, "v")}); err != nil {
				t.Fatalf("%s: %v", m, err)
			}
			equal(t, m, served(t, s, name), "v")
			if m == "502 after PATCH" && patches.Load() != 1 {
				t.Fatalf("%s: %d PATCHes, want 1 (reconciled by reading back)", m, patches.Load())
			}
			if _, err := p.Remove(ctx, zoneName, []dnspublish.Record{txt(name, "v")}); err != nil {
				t.Fatal(err)
			}
		}
		mode.Store("500 always")
		_, err := p.Add(ctx, zoneName, []dnspublish.Record{txt(name, "v")})
		wantErr(t, err, "500", "database is locked")
		t.Log(err)
		mode.Store("")
		equal(t, "nothing written", served(t, s, name))
	})

	if t.Failed() {
		t.Log(s.Log())
	}
}

func TestOptions(t *testing.T) {
	spec := Spec()
	opts := spec.Options().(*Options)
	_, err := toml.Decode(`
api_url = "http://127.0.0.1:8081"
server_id = "localhost"
api_key = "k"
timeout = "5s"
ttl = 120
notify = false
rate_limit = "5/1s"
`, opts)
	if err != nil {
		t.Fatal(err)
	}
	pub, err := spec.Open(context.Background(), dnspublish.Base{Name: "pdns", Zones: []string{"Example.com"}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	p := pub.(*Publisher)
	if p.ttl != 120 || p.notify || p.Zones()[0] != zoneName || p.prefix != "/api/v1/servers/localhost" {
		t.Fatalf("decoded: %+v", p)
	}
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{APIKey: "k"}, `api_url ""`},
		{Options{APIURL: "127.0.0.1:8081", APIKey: "k"}, "want the server root"},
		{Options{APIURL: "http://127.0.0.1:8081/api/v1", APIKey: "k"}, "without a path"},
		{Options{APIURL: "http://127.0.0.1:8081"}, "api_key, api_key_file or api_key_credential is required"},
		{Options{APIURL: "http://127.0.0.1:8081", APIKeyFile: "/nonexistent/key"}, "api_key_file"},
	} {
		_, err := New(dnspublish.Base{Name: "pdns", Zones: []string{"example.com"}}, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.o, err, c.want)
		}
	}
}
