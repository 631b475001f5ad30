package cloudflare

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/dnspublish/publishertest"
	sim "github.com/dcvd/dcvd/sandbox/cloudflare"
	"github.com/dcvd/dcvd/sandbox/simkit"
)

func init() { sdkRetries = 1 }

type env struct {
	sim *sim.Server
	api string
	dns string
}

func start(t *testing.T) env {
	t.Helper()
	s := sim.New(map[string][]string{"good-token": nil, "scoped-token": {"other.org"}})
	h := httptest.NewServer(s)
	t.Cleanup(h.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	d, err := s.StartDNS(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return env{sim: s, api: h.URL + sim.Prefix, dns: d.Addr()}
}

func open(t *testing.T, e env, o Options, zones ...string) *Publisher {
	t.Helper()
	o.BaseURL = e.api
	p, err := New(dnspublish.Base{Name: "cf", Zones: zones}, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func seedRecords(zone string, recs []dnspublish.Record) []sim.Record {
	var out []sim.Record
	for _, r := range recs {
		c := r.Value
		if r.Type == dnspublish.TXT {
			c = dnspublish.TXTContent(r.Value)
		}
		out = append(out, sim.Record{Name: strings.TrimSuffix(r.FQDN, "."), Type: string(r.Type), Content: c, TTL: 300})
	}
	return out
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

func TestConformance(t *testing.T) {
	e := start(t)
	e.sim.AddZone("example.org", seedRecords("example.org", publishertest.Foreign("example.org"))...)
	publishertest.Run(t, publishertest.Harness{
		Publisher: open(t, e, Options{APIToken: "good-token"}, "example.org"),
		Zone:      "example.org",
		Server:    e.dns,
	})
}

func TestBadInput(t *testing.T) {
	e := start(t)
	zid := e.sim.AddZone("example.org", seedRecords("example.org", publishertest.Foreign("example.org"))...)
	ctx := context.Background()
	name := "_acme-challenge.example.org."
	rec := []dnspublish.Record{publishertest.TXT(name, "token-1")}
	served := func() []string {
		v, err := publishertest.Served(ctx, e.dns, name, dns.TypeTXT)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	t.Run("wrong token", func(t *testing.T) {
		_, err := open(t, e, Options{APIToken: "wrong-token-77"}, "example.org").Add(ctx, "example.org", rec)
		wantErr(t, err, `cloudflare "cf": add 1 records in example.org: zone: GET /client/v4/zones: 403 9109: "Invalid access token"`)
		if strings.Contains(err.Error(), "wrong-token-77") {
			t.Fatal("error shows the token")
		}
	})
	t.Run("token scoped to other zones", func(t *testing.T) {
		_, err := open(t, e, Options{APIToken: "scoped-token"}, "example.org").Add(ctx, "example.org", rec)
		wantErr(t, err, "zone example.org not found (not in the account, or the token may not read it)")
		_, err = open(t, e, Options{APIToken: "scoped-token", ZoneIDs: map[string]string{"example.org": zid}}, "example.org").Add(ctx, "example.org", rec)
		wantErr(t, err, `403 10000: "Authentication error"`)
	})
	t.Run("zone id that does not exist", func(t *testing.T) {
		_, err := open(t, e, Options{APIToken: "good-token", ZoneIDs: map[string]string{"example.org": "0123"}}, "example.org").Add(ctx, "example.org", rec)
		wantErr(t, err, "404 7003")
	})
	p := open(t, e, Options{APIToken: "good-token"}, "example.org")
	t.Run("429 then success", func(t *testing.T) {
		e.sim.Faults.Inject("POST", "*", simkit.RateLimit, 1)
		if _, err := p.Add(ctx, "example.org", rec); err != nil {
			t.Fatal(err)
		}
		if got := served(); len(got) != 1 || got[0] != "token-1" {
			t.Fatalf("served %q", got)
		}
	})
	t.Run("record vanished between read and delete", func(t *testing.T) {
		e.sim.BeforeDelete = func(id string) { e.sim.BeforeDelete = nil; e.sim.DeleteRecord(id) }
		if _, err := p.Remove(ctx, "example.org", rec); err != nil {
			t.Fatal(err)
		}
		if got := served(); len(got) != 0 {
			t.Fatalf("served %q", got)
		}
	})
	t.Run("persistent 500", func(t *testing.T) {
		e.sim.Faults.Inject("", "*", simkit.ServerError, 100)
		defer e.sim.Faults.Clear()
		_, err := p.Add(ctx, "example.org", rec)
		wantErr(t, err, `500 10001: "Internal server error"`)
	})
	t.Run("check", func(t *testing.T) {
		if err := p.Check(ctx); err != nil {
			t.Fatal(err)
		}
		wantErr(t, open(t, e, Options{APIToken: "scoped-token"}, "example.org").Check(ctx), "not found")
	})
}

func TestOptions(t *testing.T) {
	spec := Spec()
	opts := spec.Options().(*Options)
	if _, err := toml.Decode(`
api_token = "t"
zone_ids = { "example.org" = "abc" }
timeout = "10s"
ttl = 120
rate_limit = "100/1m"
`, opts); err != nil {
		t.Fatal(err)
	}
	pub, err := spec.Open(context.Background(), dnspublish.Base{Name: "cf", Zones: []string{"example.org"}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if p := pub.(*Publisher); p.ttl != 120 || p.ids["example.org."] != "abc" {
		t.Fatalf("decoded %+v", p)
	}
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{}, "api_token, api_token_file or api_token_credential is required"},
		{Options{APIToken: "t", ZoneIDs: map[string]string{"example.com": "x"}}, "zone_ids: example.com is not one of the zones"},
	} {
		_, err := New(dnspublish.Base{Name: "cf", Zones: []string{"example.org"}}, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.o, err, c.want)
		}
	}
}

// `dcvd sandbox cloudflare` serves the API and DNS; a publisher pointed at
// it publishes and the record is served.
func TestSandboxCommand(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := sandboxCommand()
	out := &syncBuffer{}
	cmd.SetOut(out)
	cmd.SetArgs([]string{"--listen", "127.0.0.1:0", "--dns-listen", "127.0.0.1:0", "--zone", "sandbox.test"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	var base, dnsAddr string
	deadline := time.Now().Add(5 * time.Second)
	for base == "" {
		if time.Now().After(deadline) {
			t.Fatalf("no banner: %q", out.String())
		}
		time.Sleep(10 * time.Millisecond)
		fmt.Sscanf(out.String(), "Cloudflare simulator: base_url = %q, api_token = \"sandbox-cloudflare-token\", DNS at %s", &base, &dnsAddr)
	}
	dnsAddr = strings.TrimSuffix(dnsAddr, ",")
	p, err := New(dnspublish.Base{Name: "cf", Zones: []string{"sandbox.test"}}, Options{APIToken: "sandbox-cloudflare-token", BaseURL: base})
	if err != nil {
		t.Fatal(err)
	}
	rec := publishertest.TXT("_acme-challenge.sandbox.test", "from-the-sandbox")
	if _, err := p.Add(ctx, "sandbox.test", []dnspublish.Record{rec}); err != nil {
		t.Fatal(err)
	}
	got, err := publishertest.Served(ctx, dnsAddr, rec.FQDN, dns.TypeTXT)
	if err != nil || len(got) != 1 || got[0] != rec.Value {
		t.Fatalf("served %q, %v", got, err)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
