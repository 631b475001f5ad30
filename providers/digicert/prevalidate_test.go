package digicert_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/digicert"
	sim "github.com/dcvd/dcvd/sandbox/digicert"
)

func prevalidate(o *digicert.Options) { o.Prevalidate = true }

func byName(chs []providers.Challenge, name string) []providers.Challenge {
	var out []providers.Challenge
	for _, c := range chs {
		if c.Name == name {
			out = append(out, c)
		}
	}
	return out
}

const tokenRoute = "POST /domain/{id}/dcv/token"

// A pending account domain is discovered with the token DigiCert already
// holds, is NotVisible until the TXT is in BIND and Validated after; an
// email domain is switched; validated domains, domains on the other DNS
// method and names on a pending order are left out; the token is never
// re-minted across discoveries.
func TestPrevalidateEndToEnd(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, []string{"example.com", "example.org"}, sim.Options{})
	pre := e.sim.AddDomain(sim.DomainSpec{Name: "pre.example.com"})
	e.sim.AddDomain(sim.DomainSpec{Name: "done.example.com", Validated: true})
	e.sim.AddDomain(sim.DomainSpec{Name: "cn.example.com", Method: "dns-cname-token"})
	mail := e.sim.AddDomain(sim.DomainSpec{Name: "mail.example.org", Method: "email"})
	e.sim.AddDomain(sim.DomainSpec{Name: "off.example.org", Inactive: true})
	ord := e.sim.AddOrder(sim.OrderSpec{CommonName: "ord.example.com"}) // creates a pending domain too

	// Off by default: orders only.
	if chs, err := e.provider(t, "dns-txt", "good-key", nil).Discover(ctx); err != nil || len(chs) != 1 || chs[0].Order != fmt.Sprint(ord) {
		t.Fatalf("prevalidate off: %+v %v", chs, err)
	}

	p := e.provider(t, "dns-txt", "good-key", prevalidate)
	chs, err := p.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(chs) != 3 {
		t.Fatalf("discovered %d challenges, want 3 (order, pre, mail): %+v", len(chs), chs)
	}
	if c := byName(chs, "ord.example.com"); len(c) != 1 || c[0].Order != fmt.Sprint(ord) {
		t.Errorf("name on a pending order: %+v", c)
	}
	dom := func(id int) sim.DomainState { d, _ := e.sim.Domain(id); return d }
	c := byName(chs, "pre.example.com")
	if len(c) != 1 || c[0].Order != digicert.DomainOrder(fmt.Sprint(pre)) || c[0].Order != fmt.Sprintf("domain:%d", pre) ||
		c[0].Record != (dnspublish.Record{FQDN: "pre.example.com.", Type: dnspublish.TXT, Value: dom(pre).Token}) || c[0].Expires.IsZero() {
		t.Fatalf("pending domain: %+v (token %s)", c, dom(pre).Token)
	}
	if dom(mail).Method != "dns-txt-token" {
		t.Errorf("email domain method now %q", dom(mail).Method)
	}
	m := byName(chs, "mail.example.org")
	if len(m) != 1 || m[0].Record.FQDN != "mail.example.org." || m[0].Record.Value != dom(mail).Token {
		t.Fatalf("switched email domain: %+v", m)
	}
	if n := e.sim.Requests("good-key", tokenRoute); n != 0 {
		t.Errorf("%d tokens minted although DigiCert held one", n)
	}

	// Same challenges on the next pass: the published value stays valid.
	again, err := p.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 3 || byName(again, "pre.example.com")[0].Key() != c[0].Key() || byName(again, "mail.example.org")[0].Key() != m[0].Key() {
		t.Fatalf("second discovery differs: %+v", again)
	}
	if n := e.sim.Requests("good-key", tokenRoute); n != 0 {
		t.Errorf("second discovery minted %d tokens", n)
	}

	for _, cs := range [][]providers.Challenge{c, m} {
		outs, err := p.Submit(ctx, cs[0].Order, cs)
		if err != nil {
			t.Fatal(err)
		}
		if outs[0].Status != providers.NotVisible || !strings.Contains(outs[0].Reason, "invalid_dns_txt") {
			t.Fatalf("%s before publish: %+v", cs[0].Name, outs)
		}
		if outs, err := p.Poll(ctx, cs[0].Order, cs); err != nil || outs[0].Status != providers.Pending {
			t.Fatalf("%s poll before publish: %+v %v", cs[0].Name, outs, err)
		}
	}
	e.publish(t, "example.com", c[0].Record)
	e.publish(t, "example.org", m[0].Record)
	for _, tc := range []struct {
		cs []providers.Challenge
		id int
	}{{c, pre}, {m, mail}} {
		outs, err := p.Submit(ctx, tc.cs[0].Order, tc.cs)
		if err != nil || outs[0].Status != providers.Validated {
			t.Fatalf("%s after publish: %+v %v", tc.cs[0].Name, outs, err)
		}
		if !dom(tc.id).Validated {
			t.Errorf("%s not validated in the simulator", tc.cs[0].Name)
		}
		if outs, err := p.Poll(ctx, tc.cs[0].Order, tc.cs); err != nil || outs[0].Status != providers.Validated {
			t.Errorf("%s poll: %+v %v", tc.cs[0].Name, outs, err)
		}
	}
	chs, err = p.Discover(ctx)
	if err != nil || len(chs) != 1 || chs[0].Order != fmt.Sprint(ord) {
		t.Errorf("after validation: %+v %v", chs, err)
	}
}

// CNAME domains over several pages of GET /domain, both record forms.
func TestPrevalidateCNAMEPaging(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, []string{"example.net"}, sim.Options{NoLimits: true})
	var ids []int
	for i := 0; i < 7; i++ {
		ids = append(ids, e.sim.AddDomain(sim.DomainSpec{Name: fmt.Sprintf("h%d.example.net", i), Method: "dns-cname-token"}))
	}
	e.sim.AddDomain(sim.DomainSpec{Name: "t.example.net"}) // TXT: not this account's method
	off := false
	p := e.provider(t, "dns-cname", "good-key", func(o *digicert.Options) {
		o.Prevalidate, o.PageSize, o.SwitchEmailOrders = true, 3, &off
	})
	chs, err := p.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(chs) != 7 {
		t.Fatalf("discovered %d, want 7: %+v", len(chs), chs)
	}
	if n := e.sim.Requests("good-key", "GET /domain"); n != 3 {
		t.Errorf("%d list-domain requests, want 3 pages", n)
	}
	for i, id := range ids {
		d, _ := e.sim.Domain(id)
		c := byName(chs, d.Name)
		want := dnspublish.Record{FQDN: "_dnsauth." + d.Name + ".", Type: dnspublish.CNAME, Value: d.Token + ".dcv.digicert.com."}
		if len(c) != 1 || c[0].Record != want {
			t.Fatalf("domain %d: %+v, want %+v", i, c, want)
		}
	}
	c := byName(chs, "h0.example.net")
	e.publish(t, "example.net", c[0].Record)
	if outs, err := p.Submit(ctx, c[0].Order, c); err != nil || outs[0].Status != providers.Validated {
		t.Fatalf("cname submit: %+v %v", outs, err)
	}

	legacy := e.provider(t, "dns-cname", "good-key", func(o *digicert.Options) { o.Prevalidate, o.CNAMEForm = true, "legacy" })
	chs, err = legacy.Discover(ctx)
	if err != nil || len(chs) != 6 {
		t.Fatalf("legacy discovery: %d %v", len(chs), err)
	}
	d, _ := e.sim.Domain(ids[1])
	c = byName(chs, d.Name)
	if len(c) != 1 || c[0].Record.FQDN != d.Token+"."+d.Name+"." || c[0].Record.Value != "dcv.digicert.com." {
		t.Fatalf("legacy cname: %+v", c)
	}
	e.publish(t, "example.net", c[0].Record)
	if outs, err := legacy.Submit(ctx, c[0].Order, c); err != nil || outs[0].Status != providers.Validated {
		t.Fatalf("legacy submit: %+v %v", outs, err)
	}
}

// A new token is minted only when the current one expired; a token
// replaced outside dcvd fails the old challenge; the domain filter and
// switch_email_orders = false are honoured.
func TestPrevalidateTokenLifecycleAndFilters(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, []string{"example.com"}, sim.Options{NoLimits: true})
	a := e.sim.AddDomain(sim.DomainSpec{Name: "a.example.com"})
	mail := e.sim.AddDomain(sim.DomainSpec{Name: "mail.example.com", Method: "email"})
	e.sim.AddDomain(sim.DomainSpec{Name: "x.example.org"})

	off := false
	p, err := digicert.Open(ctx, providers.Base{Name: "f", Method: "dns-txt", Domains: []string{"example.com"}},
		&digicert.Options{BaseURL: e.url, APIKey: "good-key", Prevalidate: true, SwitchEmailOrders: &off})
	if err != nil {
		t.Fatal(err)
	}
	chs, err := p.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(chs) != 1 || chs[0].Name != "a.example.com" {
		t.Fatalf("filtered discovery: %+v", chs)
	}
	if d, _ := e.sim.Domain(mail); d.Method != "email" || e.sim.Requests("good-key", "PUT /domain/{id}/dcv/method") != 0 {
		t.Errorf("email domain touched with switch_email_orders off: %+v", d)
	}
	if e.sim.Requests("good-key", "GET /domain") != 1 {
		t.Errorf("email domains listed with switching off")
	}

	// Expired: minted once, then reused.
	old, _ := e.sim.Domain(a)
	e.sim.ExpireDomainToken(a)
	chs, err = p.Discover(ctx)
	if err != nil || len(chs) != 1 {
		t.Fatalf("after expiry: %+v %v", chs, err)
	}
	cur, _ := e.sim.Domain(a)
	if cur.Token == old.Token || chs[0].Record.Value != cur.Token || e.sim.Requests("good-key", tokenRoute) != 1 {
		t.Fatalf("expired token not replaced: old %s now %s record %s", old.Token, cur.Token, chs[0].Record.Value)
	}
	if chs2, _ := p.Discover(ctx); len(chs2) != 1 || chs2[0].Key() != chs[0].Key() || e.sim.Requests("good-key", tokenRoute) != 1 {
		t.Errorf("fresh token re-minted: %+v", chs2)
	}

	// Someone mints a new token in CertCentral: our record can never pass.
	if _, err := p.Client().NewDomainToken(ctx, fmt.Sprint(a)); err != nil {
		t.Fatal(err)
	}
	outs, err := p.Submit(ctx, chs[0].Order, chs)
	if err != nil || outs[0].Status != providers.Failed || !strings.Contains(outs[0].Reason, "newer token") {
		t.Fatalf("replaced token: %+v %v", outs, err)
	}
	// An unknown domain fails instead of retrying for ever.
	gone := []providers.Challenge{{Order: digicert.DomainOrder("999999"), Name: "gone.example.com"}}
	if outs, err := p.Submit(ctx, gone[0].Order, gone); err != nil || outs[0].Status != providers.Failed {
		t.Errorf("unknown domain: %+v %v", outs, err)
	}
}
