package route53

import (
	"context"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/dnspublish/publishertest"
	sim "github.com/dcvd/dcvd/sandbox/route53"
	"github.com/dcvd/dcvd/sandbox/simkit"
)

func init() {
	sdkAttempts = 2
	insyncPoll = 20 * time.Millisecond
}

type env struct {
	sim *sim.Server
	api string
	dns string
}

// start runs the simulator and points the AWS default chain at a key it
// accepts (environment variables, as on a CI machine), with IMDS off.
func start(t *testing.T) env {
	t.Helper()
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDSIMULATOR")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "sim-secret")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	s := sim.New("AKIDSIMULATOR", "AKIDPROFILE")
	h := httptest.NewServer(s)
	t.Cleanup(h.Close)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	d, err := s.StartDNS(ctx, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return env{sim: s, api: h.URL, dns: d.Addr()}
}

func open(t *testing.T, e env, o Options, zones ...string) *Publisher {
	t.Helper()
	o.BaseURL = e.api
	o.RateLimit = dnspublish.Rate{Limit: simkit.Limit{N: 1000, Window: time.Second}}
	p, err := New(dnspublish.Base{Name: "r53", Zones: zones}, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// foreign turns records into RRsets, one per name and type.
func foreign(recs []dnspublish.Record) []sim.RRset {
	var out []sim.RRset
	idx := map[string]int{}
	for _, r := range recs {
		k := r.FQDN + " " + string(r.Type)
		v := r.Value
		if r.Type == dnspublish.TXT {
			v = dnspublish.TXTContent(r.Value)
		}
		if i, ok := idx[k]; ok {
			out[i].Values = append(out[i].Values, v)
			continue
		}
		idx[k] = len(out)
		out = append(out, sim.RRset{Name: r.FQDN, Type: string(r.Type), TTL: int64(r.TTL), Values: []string{v}})
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
	e.sim.AddZone("example.net", foreign(publishertest.Foreign("example.net"))...)
	publishertest.Run(t, publishertest.Harness{
		Publisher: open(t, e, Options{}, "example.net"),
		Zone:      "example.net",
		Server:    e.dns,
	})
}

func TestBadInputAndConcurrency(t *testing.T) {
	e := start(t)
	zid := e.sim.AddZone("example.net", foreign(publishertest.Foreign("example.net"))...)
	ctx := context.Background()
	name := "_acme-challenge.example.net."
	rec := []dnspublish.Record{publishertest.TXT(name, "ours")}
	served := func() []string {
		v, err := publishertest.Served(ctx, e.dns, name, dns.TypeTXT)
		if err != nil {
			t.Fatal(err)
		}
		return v
	}

	t.Run("unknown access key", func(t *testing.T) {
		t.Setenv("AWS_ACCESS_KEY_ID", "AKIDWRONG")
		_, err := open(t, e, Options{}, "example.net").Add(ctx, "example.net", rec)
		wantErr(t, err, `route53 "r53": add 1 records in example.net: zone: ListHostedZonesByName: 403 InvalidClientTokenId`)
		if strings.Contains(err.Error(), "sim-secret") {
			t.Fatal("error shows the secret")
		}
	})
	t.Run("profile from the shared credentials file", func(t *testing.T) {
		creds := filepath.Join(t.TempDir(), "credentials")
		os.WriteFile(creds, []byte("[dcvd]\naws_access_key_id = AKIDPROFILE\naws_secret_access_key = s\n"), 0o600)
		t.Setenv("AWS_SHARED_CREDENTIALS_FILE", creds)
		t.Setenv("AWS_ACCESS_KEY_ID", "")
		t.Setenv("AWS_SECRET_ACCESS_KEY", "")
		p := open(t, e, Options{Profile: "dcvd"}, "example.net")
		if err := p.Check(ctx); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("zone not in the account", func(t *testing.T) {
		_, err := open(t, e, Options{}, "missing.net").Add(ctx, "missing.net", []dnspublish.Record{publishertest.TXT("_acme-challenge.missing.net", "v")})
		wantErr(t, err, "zone: no public hosted zone missing.net in the account")
		_, err = open(t, e, Options{HostedZoneID: "ZNOPE"}, "missing.net").Add(ctx, "missing.net", []dnspublish.Record{publishertest.TXT("_acme-challenge.missing.net", "v")})
		wantErr(t, err, "404 NoSuchHostedZone")
	})
	p := open(t, e, Options{HostedZoneID: zid}, "example.net")
	t.Run("waits for INSYNC", func(t *testing.T) {
		e.sim.InsyncAfter = 150 * time.Millisecond
		defer func() { e.sim.InsyncAfter = 0 }()
		before := e.sim.GetChangeCalls
		start := time.Now()
		if _, err := p.Add(ctx, "example.net", rec); err != nil {
			t.Fatal(err)
		}
		if time.Since(start) < 150*time.Millisecond || e.sim.GetChangeCalls-before < 2 {
			t.Fatalf("returned after %v with %d GetChange calls", time.Since(start), e.sim.GetChangeCalls-before)
		}
		if got := served(); strings.Join(got, "|") != "ours" {
			t.Fatalf("served %q", got)
		}
	})
	t.Run("RRset changed by someone else between read and write", func(t *testing.T) {
		p.beforeChange = func(round int) {
			if round == 0 {
				e.sim.Set(zid, sim.RRset{Name: name, Type: "TXT", TTL: 60, Values: []string{`"ours"`, `"theirs"`}})
			}
		}
		defer func() { p.beforeChange = nil }()
		two := []dnspublish.Record{publishertest.TXT(name, "ours"), publishertest.TXT(name, "second")}
		if _, err := p.Add(ctx, "example.net", two); err != nil {
			t.Fatal(err)
		}
		if got := served(); strings.Join(got, "|") != "ours|second|theirs" {
			t.Fatalf("served %q", got)
		}
		if _, err := p.Remove(ctx, "example.net", two); err != nil {
			t.Fatal(err)
		}
		if got := served(); strings.Join(got, "|") != "theirs" {
			t.Fatalf("after remove: %q", got)
		}
	})
	t.Run("someone else changes it every time: gives up, keeps theirs", func(t *testing.T) {
		n := 0
		p.beforeChange = func(int) {
			n++
			e.sim.Set(zid, sim.RRset{Name: name, Type: "TXT", TTL: 60, Values: []string{`"theirs-` + string(rune('0'+n)) + `"`}})
		}
		defer func() { p.beforeChange = nil }()
		_, err := p.Add(ctx, "example.net", rec)
		wantErr(t, err, "changed by someone else during each of 5 attempts", "InvalidChangeBatch")
		if got := served(); strings.Join(got, "|") != "theirs-5" {
			t.Fatalf("served %q", got)
		}
		e.sim.Set(zid, sim.RRset{Name: name, Type: "TXT"})
	})
	t.Run("throttling then success; persistent 5xx", func(t *testing.T) {
		e.sim.Faults.Inject("POST", "*", simkit.RateLimit, 1)
		if _, err := p.Add(ctx, "example.net", rec); err != nil {
			t.Fatal(err)
		}
		e.sim.Faults.Inject("", "*", simkit.ServerError, 100)
		_, err := p.Remove(ctx, "example.net", rec)
		e.sim.Faults.Clear()
		wantErr(t, err, "ServiceUnavailable")
		if _, err := p.Remove(ctx, "example.net", rec); err != nil {
			t.Fatal(err)
		}
	})
}

func TestOptions(t *testing.T) {
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	spec := Spec()
	opts := spec.Options().(*Options)
	if _, err := toml.Decode(`
hosted_zone_id = "/hostedzone/Z123"
profile = "default"
region = "eu-west-1"
timeout = "10s"
insync_timeout = "2m"
ttl = 120
rate_limit = "5/1s"
`, opts); err != nil {
		t.Fatal(err)
	}
	opts.Profile = ""
	pub, err := spec.Open(context.Background(), dnspublish.Base{Name: "r53", Zones: []string{"example.net"}}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if p := pub.(*Publisher); p.ids["example.net."] != "Z123" || p.ttl != 120 || p.insync != 2*time.Minute {
		t.Fatalf("decoded %+v", p)
	}
	_, err = New(dnspublish.Base{Name: "r53", Zones: []string{"a.net", "b.net"}}, Options{HostedZoneID: "Z1"})
	if err == nil || !strings.Contains(err.Error(), "hosted_zone_id needs exactly one zone") {
		t.Fatalf("two zones with one id: %v", err)
	}
}
