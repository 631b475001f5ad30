package certinext_test

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/config"
	"github.com/dcvd/dcvd/internal/testenv"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/certinext"
	sim "github.com/dcvd/dcvd/sandbox/certinext"
)

// env is BIND serving zones plus the simulator checking DNS against it.
type env struct {
	bind  *testenv.BIND
	sim   *sim.Server
	url   string
	zones []string
}

func newEnv(t *testing.T, zones []string, o sim.Options) *env {
	t.Helper()
	var bz []testenv.BINDZone
	for _, z := range zones {
		bz = append(bz, testenv.BINDZone{Name: z})
	}
	b := testenv.StartBIND(t, testenv.BINDOptions{Zones: bz})
	o.DNSServers = []string{b.Addr}
	s := sim.New(o)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &env{bind: b, sim: s, url: srv.URL, zones: zones}
}

// provider opens an account on the simulator with fast backoffs.
func (e *env) provider(t *testing.T, extra func(*certinext.Options)) *certinext.Provider {
	t.Helper()
	o := &certinext.Options{BaseURL: e.url, AccountNumber: sim.DefaultAccount, ClientSecret: sim.DefaultSecret,
		BackoffMin: config.Duration(time.Millisecond), BackoffMax: config.Duration(5 * time.Millisecond),
		RateLimits: []certinext.LimitOption{{N: 100000, Window: config.Duration(time.Second)}}}
	if extra != nil {
		extra(o)
	}
	p, err := certinext.Open(context.Background(), providers.Base{Name: "test"}, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func (e *env) zoneOf(t *testing.T, fqdn string) string {
	t.Helper()
	for _, z := range e.zones {
		if strings.HasSuffix(fqdn, "."+z+".") || fqdn == z+"." {
			return z
		}
	}
	t.Fatalf("no zone for %s", fqdn)
	return ""
}

// publish writes the challenges' records into BIND with a TSIG-signed
// RFC 2136 UPDATE (the rfc2136 backend has its own tests; this keeps the
// provider's independent of it).
func (e *env) publish(t *testing.T, chs ...providers.Challenge) {
	t.Helper()
	for _, ch := range chs {
		e.update(t, ch.Record, false)
	}
}

func (e *env) unpublish(t *testing.T, chs ...providers.Challenge) {
	t.Helper()
	for _, ch := range chs {
		e.update(t, ch.Record, true)
	}
}

func (e *env) update(t *testing.T, rec dnspublish.Record, remove bool) {
	t.Helper()
	r, err := rec.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	m := new(dns.Msg)
	m.SetUpdate(dns.Fqdn(e.zoneOf(t, r.FQDN)))
	if remove {
		m.Remove([]dns.RR{r.RR()})
	} else {
		m.Insert([]dns.RR{r.RR()})
	}
	m.SetTsig(e.bind.Key.Name, e.bind.Key.Algorithm, 300, time.Now().Unix())
	c := &dns.Client{TsigSecret: map[string]string{e.bind.Key.Name: e.bind.Key.Secret}, Timeout: 2 * time.Second}
	resp, _, err := c.Exchange(m, e.bind.Addr)
	if err != nil || resp.Rcode != dns.RcodeSuccess {
		t.Fatalf("update %s: %v %v", r.FQDN, err, resp)
	}
}

func byOrder(chs []providers.Challenge, order string) []providers.Challenge {
	var out []providers.Challenge
	for _, c := range chs {
		if c.Order == order {
			out = append(out, c)
		}
	}
	return out
}

func statuses(outs []providers.Outcome) []providers.Status {
	var s []providers.Status
	for _, o := range outs {
		s = append(s, o.Status)
	}
	return s
}

// groups returns the challenges by Order, in first-seen order.
func groups(chs []providers.Challenge) (orders []string, by map[string][]providers.Challenge) {
	by = map[string][]providers.Challenge{}
	for _, c := range chs {
		if _, ok := by[c.Order]; !ok {
			orders = append(orders, c.Order)
		}
		by[c.Order] = append(by[c.Order], c)
	}
	return orders, by
}
