package scheduler

import (
	"context"
	"strings"
	"testing"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/digicert"
	sim "github.com/dcvd/dcvd/sandbox/digicert"
	"github.com/dcvd/dcvd/store"
)

// A hostile CA (the simulator answering names the order does not cover and
// random values that are not random values) gets every such record refused
// with a reason in the row, and nothing is written for it; the honest
// orders of the same account still validate.
func TestHostileCAAnswersRefused(t *testing.T) {
	e := newEnv(t, zoneNames(2), sim.Options{NoLimits: true})
	z0, z1 := e.Zones[0], e.Zones[1]
	good := e.sim.AddOrder(sim.OrderSpec{CommonName: z0, DNSNames: []string{"*." + z0}, Method: "dns-txt-token"})
	legacyGood := e.sim.AddOrder(sim.OrderSpec{CommonName: z1, Method: "dns-cname-token"})
	hostile := e.sim.AddOrder(sim.OrderSpec{CommonName: "www." + z0, Method: "dns-txt-token"})
	e.sim.HostileNames(hostile,
		z1,                 // another configured zone's apex
		"_dmarc."+z0,       // a label the order does not cover
		"ns1."+z0,          // the zone's NS host name
		`a\.www.`+z0,       // an escaped dot
		"a\x00.www."+z0,    // a NUL byte
		"www."+z0+".evil.", // a name outside every zone
	)
	star := e.sim.AddOrder(sim.OrderSpec{CommonName: "s." + z0, Method: "dns-cname-token", RandomValue: "*"})
	deeper := e.sim.AddOrder(sim.OrderSpec{CommonName: "d." + z0, Method: "dns-cname-token", RandomValue: "x.www"})
	ctrl := e.sim.AddOrder(sim.OrderSpec{CommonName: "c." + z0, Method: "dns-txt-token", RandomValue: "line\nbreak"})
	long := e.sim.AddOrder(sim.OrderSpec{CommonName: "l." + z0, Method: "dns-txt-token", RandomValue: strings.Repeat("a", 600)})

	p, err := digicert.Open(context.Background(), providers.Base{Name: "digicert", Method: "dns-txt"},
		&digicert.Options{BaseURL: e.SimURL, APIKey: "good-key", CNAMEForm: "legacy", BackoffMin: "1ms", BackoffMax: "5ms",
			RateLimits: []digicert.LimitOption{{N: 1000000, Window: "1s"}}})
	if err != nil {
		t.Fatal(err)
	}
	// Every backend write is recorded: a refused record must never reach it.
	eng, st := e.engine(t, testLogger(t), p)
	var wrote []string
	for _, b := range eng.backends {
		b.pub = &recordingPublisher{Publisher: b.pub, wrote: &wrote}
	}
	sum, err := eng.RunOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantIssued(t, e.sim, []int{good, legacyGood})
	rows, err := st.List(context.Background(), store.Filter{})
	if err != nil {
		t.Fatal(err)
	}
	refused := map[string]int{}
	for _, c := range rows {
		switch c.Order {
		case itoa(good), itoa(legacyGood):
			if c.State != store.Cleaned {
				t.Errorf("honest row %s %s: %s %q", c.Order, c.Name, c.State, c.Reason)
			}
		default:
			refused[c.Order]++
			if c.State != store.Failed || c.DNS != store.DNSNone || !strings.HasPrefix(c.Reason, "refused: ") {
				t.Errorf("hostile row %s %q %s: state %s dns %q reason %q", c.Order, c.Name, c.Record, c.State, c.DNS, c.Reason)
			}
		}
	}
	if refused[itoa(hostile)] != 6 {
		t.Errorf("hostile order: %d refused rows, want 6", refused[itoa(hostile)])
	}
	for _, id := range []int{star, deeper, ctrl, long} {
		if refused[itoa(id)] != 1 {
			t.Errorf("order %d: %d refused rows, want 1", id, refused[itoa(id)])
		}
	}
	for _, w := range wrote {
		if !strings.Contains(w, " "+z0+".") && !strings.Contains(w, "."+z1+".") {
			t.Errorf("backend was asked to write %s", w)
		}
	}
	if len(sum.Failed) != 10 {
		t.Errorf("summary lists %d failed rows, want 10: %s", len(sum.Failed), sum)
	}
	if left := e.dcvRecords(t); len(left) != 0 {
		t.Fatalf("records left: %v", left)
	}
	e.spfIntact(t)
}

// recordingPublisher notes every record a backend is asked to add.
type recordingPublisher struct {
	dnspublish.Publisher
	wrote *[]string
}

func (r *recordingPublisher) Add(ctx context.Context, zone string, recs []dnspublish.Record) (dnspublish.Result, error) {
	for _, rec := range recs {
		*r.wrote = append(*r.wrote, "add "+rec.FQDN+" "+rec.Value)
	}
	return r.Publisher.Add(ctx, zone, recs)
}

func itoa(i int) string {
	var b []byte
	for ; i > 0; i /= 10 {
		b = append([]byte{byte('0' + i%10)}, b...)
	}
	return string(b)
}

// checkChallenge on its own: every class of hostile record is refused, the
// documented shapes pass.
func TestCheckChallenge(t *testing.T) {
	rules, err := compileLabels(digicert.Labels)
	if err != nil {
		t.Fatal(err)
	}
	names := []string{"example.com", "www.example.com"}
	ch := func(name, fqdn string, typ dnspublish.Type, value string) providers.Challenge {
		return providers.Challenge{Order: "1", Name: name, OrderNames: names,
			Record: dnspublish.Record{FQDN: fqdn, Type: typ, Value: value}}
	}
	ok := []providers.Challenge{
		ch("example.com", "example.com.", dnspublish.TXT, "0123456789abcdef0123456789abcdef"),
		ch("www.example.com", "_dnsauth.www.example.com.", dnspublish.CNAME, "abc.dcv.digicert.com."),
		ch("example.com", "0123456789abcdef0123456789abcdef.example.com.", dnspublish.CNAME, "dcv.digicert.com."),
		ch("com", "_dnsauth.com.", dnspublish.TXT, "x"), // an ancestor (the zone check refuses it later)
		ch("example.com", "example.com.", dnspublish.TXT, `back\slash "quoted" value`),
	}
	for _, c := range ok {
		if err := checkChallenge(c, rules); err != nil {
			t.Errorf("%s %s refused: %v", c.Name, c.Record, err)
		}
	}
	bad := []providers.Challenge{
		ch("other.com", "other.com.", dnspublish.TXT, "v"),
		ch("_dmarc.example.com", "_dmarc.example.com.", dnspublish.TXT, "v"),
		ch("ns1.example.com", "ns1.example.com.", dnspublish.TXT, "v"),
		ch(`a\.example.com`, `a\.example.com.`, dnspublish.TXT, "v"),
		ch("www.example.com", `_dnsauth\.www.example.com.`, dnspublish.TXT, "v"),
		ch("a\x00.example.com", "a\x00.example.com.", dnspublish.TXT, "v"),
		ch("example.com", "*.example.com.", dnspublish.CNAME, "dcv.digicert.com."),
		ch("example.com", "x.www.example.com.", dnspublish.CNAME, "dcv.digicert.com."),
		ch("example.com", "_dmarc.example.com.", dnspublish.TXT, "v"),
		ch("example.com", "other.com.", dnspublish.TXT, "v"),
		ch("example.com", "example.com.", dnspublish.TXT, "a\nb"),
		ch("example.com", "example.com.", dnspublish.TXT, "caf\xc3\xa9"),
		ch("example.com", "example.com.", dnspublish.TXT, strings.Repeat("v", MaxTXTValue+1)),
		ch("example.com", "_dnsauth.example.com.", dnspublish.CNAME, "a b.dcv.digicert.com."),
		ch("example.com", "_dnsauth.example.com.", dnspublish.CNAME, `a\.b.dcv.digicert.com.`),
		ch("example.com", "_dnsauth.example.com.", dnspublish.CNAME, "*.dcv.digicert.com."),
		{Order: "1", Name: "example.com", Record: dnspublish.Record{FQDN: "example.com.", Type: dnspublish.TXT, Value: "v"}}, // no order names
	}
	for _, c := range bad {
		if err := checkChallenge(c, rules); err == nil {
			t.Errorf("%q %s accepted", c.Name, c.Record)
		}
	}
	// Sectigo's documented label shape, as a CA spec would give it.
	sectigo, _ := compileLabels([]string{"_[0-9a-f]{32}"})
	if err := checkChallenge(ch("example.com", "_0123456789abcdef0123456789abcdef.example.com.", dnspublish.CNAME, "x.y.sectigo.com."), sectigo); err != nil {
		t.Errorf("sectigo label refused: %v", err)
	}
	if err := checkChallenge(ch("example.com", "_dnsauth.example.com.", dnspublish.CNAME, "x.y.sectigo.com."), sectigo); err == nil {
		t.Errorf("_dnsauth accepted for a CA that does not document it")
	}
}
