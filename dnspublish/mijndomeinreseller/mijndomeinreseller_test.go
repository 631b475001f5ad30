package mijndomeinreseller

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/miekg/dns"
	"github.com/spf13/cobra"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/dnspublish/publishertest"
	"github.com/dcvd/dcvd/internal/backoff"
	sim "github.com/dcvd/dcvd/sandbox/mijndomeinreseller"
	"github.com/dcvd/dcvd/sandbox/simkit"
)

const putRoute = "PUT /v2/domains/{domain}/dnszone/records"

type env struct {
	sim *sim.Server
	api string
	dns string
}

func init() { retryPolicy = backoff.Policy{Min: 10 * time.Millisecond, Max: 50 * time.Millisecond} }

func start(t *testing.T, domains ...string) env {
	t.Helper()
	s := sim.New(sim.Options{Keys: []string{"good-key"}, ReadOnlyKeys: []string{"read-only-key"}})
	for _, d := range domains {
		s.AddDomain(d)
	}
	h := httptest.NewServer(s)
	t.Cleanup(h.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	d, err := s.StartDNS(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if n := s.Calls(putRoute); n != 0 {
			t.Errorf("the whole zone was replaced (PUT) %d times", n)
		}
	})
	return env{sim: s, api: h.URL, dns: d.Addr()}
}

func open(t *testing.T, e env, key string, zones ...string) *Publisher {
	t.Helper()
	p, err := New(dnspublish.Base{Name: "mdr", Zones: zones}, Options{BaseURL: e.api, APIKey: key, RateLimit: dnspublish.Rate{Limit: simkit.Limit{N: 1000, Window: 1e9}}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// seed writes records as the domain's owner would, in the provider's web
// interface.
func (e env) seed(zone string, recs []dnspublish.Record) {
	for _, r := range recs {
		e.sim.AddRecords(zone, sim.Record{Name: nameIn(dns.CanonicalName(r.FQDN), dns.CanonicalName(zone)), Type: string(r.Type), Content: r.Value})
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

func TestConformance(t *testing.T) {
	e := start(t, "example.nl")
	publishertest.Run(t, publishertest.Harness{
		Publisher: open(t, e, "good-key", "example.nl"),
		Zone:      "example.nl",
		Server:    e.dns,
		Seed: func(_ context.Context, recs []dnspublish.Record) error {
			e.seed("example.nl", recs)
			return nil
		},
	})
}

func served(t *testing.T, e env, name string) []string {
	t.Helper()
	v, err := publishertest.Served(context.Background(), e.dns, name, dns.TypeTXT)
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

func TestBadInput(t *testing.T) {
	e := start(t, "example.nl")
	e.seed("example.nl", publishertest.Foreign("example.nl"))
	ctx := context.Background()
	p := open(t, e, "good-key", "example.nl")
	name := "_dnsauth.example.nl."
	rec := []dnspublish.Record{publishertest.TXT(name, "token-1")}

	t.Run("wrong key", func(t *testing.T) {
		_, err := open(t, e, "wrong-key-123", "example.nl").Add(ctx, "example.nl", rec)
		wantErr(t, err, `mijndomeinreseller "mdr": add 1 records in example.nl: read: GET /v2/domains/example.nl/dnszone/records: 401 AU-TH01: "Unauthorized: The API key is missing or invalid"`)
		if strings.Contains(err.Error(), "wrong-key-123") {
			t.Fatal("error shows the key")
		}
	})
	t.Run("read-only key", func(t *testing.T) {
		_, err := open(t, e, "read-only-key", "example.nl").Add(ctx, "example.nl", rec)
		wantErr(t, err, "write: PATCH /v2/domains/example.nl/dnszone/records: 403 AU-TH03")
		equal(t, "nothing written", served(t, e, name))
	})
	t.Run("domain not in the account", func(t *testing.T) {
		_, err := open(t, e, "good-key", "missing.nl").Add(ctx, "missing.nl", []dnspublish.Record{publishertest.TXT("_dnsauth.missing.nl", "v")})
		wantErr(t, err, "read: domain missing.nl not found in the account", "404 DM-DM01")
		wantErr(t, open(t, e, "good-key", "missing.nl").Check(ctx), "404")
	})
	t.Run("429 then success", func(t *testing.T) {
		e.sim.Faults.Inject("GET", "*", simkit.RateLimit, 1)
		if _, err := p.Add(ctx, "example.nl", rec); err != nil {
			t.Fatal(err)
		}
		equal(t, "added", served(t, e, name), "token-1")
	})
	t.Run("500 on the PATCH, reconciled and repeated", func(t *testing.T) {
		e.sim.Faults.Inject("PATCH", "*", simkit.ServerError, 1)
		if _, err := p.Remove(ctx, "example.nl", rec); err != nil {
			t.Fatal(err)
		}
		equal(t, "removed", served(t, e, name))
	})
	t.Run("persistent 502", func(t *testing.T) {
		e.sim.Faults.Inject("", "*", simkit.BadGateway, 100)
		defer e.sim.Faults.Clear()
		_, err := p.Add(ctx, "example.nl", rec)
		wantErr(t, err, "502")
	})
	t.Run("record id vanished between read and del", func(t *testing.T) {
		two := []dnspublish.Record{publishertest.TXT(name, "apex"), publishertest.TXT(name, "wildcard")}
		if _, err := p.Add(ctx, "example.nl", two); err != nil {
			t.Fatal(err)
		}
		e.seed("example.nl", []dnspublish.Record{publishertest.TXT(name, "someone else's")})
		// Someone removes our "apex" record just before our del arrives.
		e.sim.BeforePatch = func(string) {
			e.sim.BeforePatch = nil
			for _, r := range e.sim.Records("example.nl") {
				if r.Content == "apex" {
					e.sim.DeleteRecord("example.nl", r.ID)
				}
			}
		}
		if _, err := p.Remove(ctx, "example.nl", two); err != nil {
			t.Fatal(err)
		}
		equal(t, "only theirs left", served(t, e, name), "someone else's")
	})
	t.Run("check", func(t *testing.T) {
		if err := p.Check(ctx); err != nil {
			t.Fatal(err)
		}
		wantErr(t, open(t, e, "nope", "example.nl").Check(ctx), "401")
	})
}

func TestPaging(t *testing.T) {
	e := start(t, "big.nl")
	for i := 0; i < 250; i++ {
		e.sim.AddRecords("big.nl", sim.Record{Name: fmt.Sprintf("host%03d", i), Type: "A", Content: "192.0.2.1"})
	}
	e.sim.AddRecords("big.nl", sim.Record{Name: "_dnsauth", Type: "TXT", Content: "last-page"})
	p := open(t, e, "good-key", "big.nl")
	rec := []dnspublish.Record{publishertest.TXT("_dnsauth.big.nl", "last-page")}
	// The value on page 3 is found: no duplicate is added, and remove finds its id.
	if _, err := p.Add(context.Background(), "big.nl", rec); err != nil {
		t.Fatal(err)
	}
	if n := len(e.sim.Records("big.nl")); n != 251 {
		t.Fatalf("%d records, want 251", n)
	}
	if _, err := p.Remove(context.Background(), "big.nl", rec); err != nil {
		t.Fatal(err)
	}
	equal(t, "removed", served(t, e, "_dnsauth.big.nl."))
}

func TestRecordListShapes(t *testing.T) {
	for _, body := range []string{
		`{"data":[{"record_id":"7","name":"@","type":"txt","content":"v"}],"meta":{}}`,
		`{"records":[{"record_id":7,"name":"@","type":"TXT","content":"v"}]}`,
		`[{"record_id":"7","name":"@","type":"TXT","content":"v"}]`,
	} {
		var l recordList
		if err := json.Unmarshal([]byte(body), &l); err != nil || len(l) != 1 || l[0].ID != "7" || l[0].Type != "TXT" {
			t.Errorf("%s: %+v %v", body, l, err)
		}
	}
	var l recordList
	if err := json.Unmarshal([]byte(`{"items":[]}`), &l); err == nil {
		t.Error("unknown shape accepted")
	}
	for in, want := range map[string]string{"@": "example.nl.", "": "example.nl.", "_x": "_x.example.nl.", "_x.Example.nl": "_x.example.nl.", "_x.example.nl.": "_x.example.nl.", "a.b": "a.b.example.nl."} {
		if got := ownerOf(in, "example.nl."); got != want {
			t.Errorf("ownerOf(%q) = %q, want %q", in, got, want)
		}
	}
	if !matches(record{Content: `"quoted \"v\""`}, publishertest.TXT("x.", `quoted "v"`)) {
		t.Error("quoted content not matched")
	}
}

func TestAuthCode(t *testing.T) {
	e := start(t, "example.nl", "example.eu", "example.be")
	p := open(t, e, "good-key", "example.nl")
	run := func(args ...string) (string, error) {
		cmd := commands(func(*cobra.Command) (dnspublish.Publisher, error) { return p, nil })
		var out bytes.Buffer
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(args)
		err := cmd.ExecuteContext(context.Background())
		return out.String(), err
	}
	out, err := run("auth-code", "example.nl")
	if err != nil || out != "SIM4-NL-QP48-457Y\n" {
		t.Fatalf("nl: %q %v", out, err)
	}
	out, err = run("auth-code", "example.eu")
	if err != nil || !strings.HasPrefix(out, "SIM4-EU-QP48-457Y\t(expires 20") {
		t.Fatalf("eu: %q %v", out, err)
	}
	out, err = run("auth-code", "example.be")
	if err != nil || out != "example.be: the registry sends the auth code to the registrant (no code returned)\n" {
		t.Fatalf("be: %q %v", out, err)
	}
	_, err = run("auth-code", "unknown.nl")
	wantErr(t, err, "POST /v2/domains/unknown.nl/auth_code: 404 DM-DM01")
}

func TestOptions(t *testing.T) {
	spec := Spec()
	opts := spec.Options().(*Options)
	if _, err := toml.Decode(`
provider = "nextname"
environment = "test"
api_key = "k"
timeout = "10s"
rate_limit = "2/1s"
`, opts); err != nil {
		t.Fatal(err)
	}
	pub, err := spec.Open(context.Background(), dnspublish.Base{Name: "nn", Zones: []string{"example.nl"}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if p := pub.(*Publisher); p.api.BaseURL() != "https://api-test.nextname.nl" || p.label != `nextname "nn"` {
		t.Fatalf("base URL %s, label %s", p.api.BaseURL(), p.label)
	}
	if p, _ := New(dnspublish.Base{Name: "m", Zones: []string{"example.nl"}}, Options{APIKey: "k"}); p.api.BaseURL() != "https://api.mijndomeinreseller.nl" {
		t.Fatalf("default base URL %s", p.api.BaseURL())
	}
	for _, c := range []struct {
		o    Options
		want string
	}{
		{Options{APIKey: "k", Provider: "godaddy"}, `provider "godaddy"`},
		{Options{APIKey: "k", Environment: "staging"}, `environment "staging"`},
		{Options{APIKey: "k", BaseURL: "ftp://x"}, "base_url"},
		{Options{}, "api_key, api_key_file or api_key_credential is required"},
	} {
		_, err := New(dnspublish.Base{Name: "m", Zones: []string{"example.nl"}}, c.o)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%+v: %v, want %q", c.o, err, c.want)
		}
	}
}
