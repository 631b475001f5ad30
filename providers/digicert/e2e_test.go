package digicert_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/apiclient"
	"github.com/dcvd/dcvd/internal/testenv"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/digicert"
	"github.com/dcvd/dcvd/providers/digicert/internal/api"
	sim "github.com/dcvd/dcvd/sandbox/digicert"
)

// env is BIND + the simulator checking DNS against it.
type env struct {
	bind *testenv.BIND
	sim  *sim.Server
	url  string
}

func newEnv(t *testing.T, zones []string, o sim.Options) *env {
	t.Helper()
	var bz []testenv.BINDZone
	for _, z := range zones {
		bz = append(bz, testenv.BINDZone{Name: z})
	}
	b := testenv.StartBIND(t, testenv.BINDOptions{Zones: bz})
	o.DNSServers = []string{b.Addr}
	if o.Keys == nil {
		o.Keys = []string{"good-key"}
	}
	s := sim.New(o)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	return &env{bind: b, sim: s, url: srv.URL + sim.Prefix}
}

// publish writes records into BIND with a TSIG-signed RFC 2136 UPDATE (the
// rfc2136 publisher is tested on its own; this keeps the test independent).
func (e *env) publish(t *testing.T, zone string, recs ...dnspublish.Record) {
	t.Helper()
	m := new(dns.Msg)
	m.SetUpdate(dns.Fqdn(zone))
	for _, r := range recs {
		r, err := r.Normalize()
		if err != nil {
			t.Fatal(err)
		}
		m.Insert([]dns.RR{r.RR()})
	}
	m.SetTsig(e.bind.Key.Name, e.bind.Key.Algorithm, 300, time.Now().Unix())
	c := &dns.Client{TsigSecret: map[string]string{e.bind.Key.Name: e.bind.Key.Secret}, Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, e.bind.Addr)
	if err != nil || r.Rcode != dns.RcodeSuccess {
		t.Fatalf("update %s: %v %v", zone, err, r)
	}
}

func (e *env) provider(t *testing.T, method, key string, extra func(*digicert.Options)) *digicert.Provider {
	t.Helper()
	o := &digicert.Options{BaseURL: e.url, APIKey: key, BackoffMin: "1ms", BackoffMax: "5ms",
		RateLimits: []digicert.LimitOption{{N: 100000, Window: "1s"}}}
	if extra != nil {
		extra(o)
	}
	p, err := digicert.Open(context.Background(), providers.Base{Name: "test", Method: method}, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func byOrder(chs []providers.Challenge, order int) []providers.Challenge {
	var out []providers.Challenge
	for _, c := range chs {
		if c.Order == fmt.Sprint(order) {
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

// The whole DCV loop against the simulator, which looks records up in BIND:
// apex TXT, apex + wildcard (one record), CNAME (_dnsauth and legacy form),
// an email order switched to DNS, and a name already approved.
func TestEndToEnd(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, []string{"example.com", "example.net", "example.org", "example.info"}, sim.Options{})
	txt := e.sim.AddOrder(sim.OrderSpec{CommonName: "example.com"})
	wild := e.sim.AddOrder(sim.OrderSpec{CommonName: "example.net", DNSNames: []string{"*.example.net", "www.example.net"}})
	cname := e.sim.AddOrder(sim.OrderSpec{CommonName: "example.org", Method: "dns-cname-token"})
	email := e.sim.AddOrder(sim.OrderSpec{CommonName: "shop.example.info", Method: "email"})
	half := e.sim.AddOrder(sim.OrderSpec{CommonName: "a.example.info", DNSNames: []string{"b.example.info"}, Approved: []string{"a.example.info"}})
	e.sim.AddOrder(sim.OrderSpec{CommonName: "old.example.com", Status: "issued"})

	p := e.provider(t, "dns-txt", "good-key", nil)
	chs, err := p.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(chs) != 5 {
		t.Fatalf("discovered %d challenges, want 5: %+v", len(chs), chs)
	}
	ord := func(id int) sim.OrderState { s, _ := e.sim.Order(id); return s }

	// Apex TXT.
	c := byOrder(chs, txt)
	if len(c) != 1 || c[0].Name != "example.com" || c[0].Record.FQDN != "example.com." || c[0].Record.Type != dnspublish.TXT || c[0].Record.Value != ord(txt).RandomValue {
		t.Fatalf("apex txt: %+v", c)
	}
	if c[0].Expires.Before(time.Now().Add(29*24*time.Hour)) || c[0].Ref == "" || !slices.Equal(c[0].CAANames, []string{"example.com"}) {
		t.Errorf("expires %v ref %q CAA names %q", c[0].Expires, c[0].Ref, c[0].CAANames)
	}
	// Apex + wildcard + www collapse to one record at the apex.
	// The record serves *.example.net and www too: CAA is checked for each
	// (issuewild for the wildcard).
	if c := byOrder(chs, wild); len(c) != 1 || c[0].Record.FQDN != "example.net." ||
		!slices.Equal(c[0].CAANames, []string{"example.net", "*.example.net", "www.example.net"}) {
		t.Fatalf("apex+wildcard: %+v", c)
	}
	// CNAME, _dnsauth form.
	c = byOrder(chs, cname)
	if len(c) != 1 || c[0].Record.FQDN != "_dnsauth.example.org." || c[0].Record.Type != dnspublish.CNAME || c[0].Record.Value != ord(cname).RandomValue+".dcv.digicert.com." {
		t.Fatalf("cname: %+v", c)
	}
	// Email order switched to the configured method.
	if ord(email).Method != "dns-txt-token" {
		t.Errorf("email order method now %q", ord(email).Method)
	}
	if c := byOrder(chs, email); len(c) != 1 || c[0].Record.FQDN != "shop.example.info." || c[0].Record.Value != ord(email).RandomValue {
		t.Fatalf("switched email order: %+v", c)
	}
	// Only the name not yet approved.
	if c := byOrder(chs, half); len(c) != 1 || c[0].Name != "b.example.info" {
		t.Fatalf("half-approved order: %+v", c)
	}

	// Before the records exist: NotVisible with DigiCert's words.
	for _, id := range []int{txt, wild, cname, email, half} {
		cs := byOrder(chs, id)
		outs, err := p.Submit(ctx, cs[0].Order, cs)
		if err != nil {
			t.Fatal(err)
		}
		if outs[0].Status != providers.NotVisible || !strings.Contains(outs[0].Reason, "invalid_dns_txt") {
			t.Fatalf("order %d before publish: %+v", id, outs)
		}
	}
	// Publish, then check: validated and the order issued.
	zoneOf := func(fqdn string) string {
		for _, z := range []string{"example.com", "example.net", "example.org", "example.info"} {
			if strings.HasSuffix(fqdn, z+".") {
				return z
			}
		}
		t.Fatalf("no zone for %s", fqdn)
		return ""
	}
	for _, ch := range chs {
		e.publish(t, zoneOf(ch.Record.FQDN), ch.Record)
	}
	for _, id := range []int{txt, wild, cname, email, half} {
		cs := byOrder(chs, id)
		outs, err := p.Submit(ctx, cs[0].Order, cs)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(statuses(outs), []providers.Status{providers.Validated}) {
			t.Fatalf("order %d after publish: %+v", id, outs)
		}
		if st := ord(id).Status; st != "issued" {
			t.Errorf("order %d status %q, want issued", id, st)
		}
		if outs, err := p.Poll(ctx, cs[0].Order, cs); err != nil || outs[0].Status != providers.Validated {
			t.Errorf("poll %d: %+v %v", id, outs, err)
		}
	}
	// Nothing left to do.
	if chs, err := p.Discover(ctx); err != nil || len(chs) != 0 {
		t.Errorf("second discovery: %d challenges, %v", len(chs), err)
	}
}

// Legacy CNAME form, the _dnsauth TXT fallback, the email switch to CNAME,
// switching turned off, and the domain filter.
func TestRecordFormsAndFilters(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, []string{"example.com"}, sim.Options{})
	legacy := e.sim.AddOrder(sim.OrderSpec{CommonName: "legacy.example.com", Method: "dns-cname-token"})
	mail := e.sim.AddOrder(sim.OrderSpec{CommonName: "mail.example.com", Method: "email"})
	e.sim.AddOrder(sim.OrderSpec{CommonName: "other.example.org"})

	off := false
	p := e.provider(t, "dns-cname", "good-key", func(o *digicert.Options) { o.SwitchEmailOrders = &off; o.CNAMEForm = "legacy" })
	chs, err := p.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(byOrder(chs, mail)) != 0 {
		t.Errorf("email order discovered with switching off")
	}
	st, _ := e.sim.Order(legacy)
	c := byOrder(chs, legacy)
	if len(c) != 1 || c[0].Record.FQDN != st.RandomValue+".legacy.example.com." || c[0].Record.Value != "dcv.digicert.com." {
		t.Fatalf("legacy cname: %+v", c)
	}
	e.publish(t, "example.com", c[0].Record)
	if outs, err := p.Submit(ctx, c[0].Order, c); err != nil || outs[0].Status != providers.Validated {
		t.Fatalf("legacy cname submit: %+v %v", outs, err)
	}

	// Domain filter + email switched to TXT at _dnsauth.
	p2, err := digicert.Open(ctx, providers.Base{Name: "f", Method: "dns-txt", Domains: []string{"example.com"}},
		&digicert.Options{BaseURL: e.url, APIKey: "good-key", TXTName: "dnsauth"})
	if err != nil {
		t.Fatal(err)
	}
	chs, err = p2.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, ch := range chs {
		if !strings.HasSuffix(ch.Name, "example.com") {
			t.Errorf("domain filter let %s through", ch.Name)
		}
	}
	c = byOrder(chs, mail)
	if len(c) != 1 || c[0].Record.FQDN != "_dnsauth.mail.example.com." || c[0].Record.Type != dnspublish.TXT {
		t.Fatalf("dnsauth txt: %+v", c)
	}
	e.publish(t, "example.com", c[0].Record)
	if outs, err := p2.Submit(ctx, c[0].Order, c); err != nil || outs[0].Status != providers.Validated {
		t.Fatalf("dnsauth txt submit: %+v %v", outs, err)
	}
}

// Discovery pages through more than one page of pending orders.
func TestDiscoveryPaging(t *testing.T) {
	e := newEnv(t, []string{"example.com"}, sim.Options{NoLimits: true})
	for i := 0; i < 230; i++ {
		e.sim.AddOrder(sim.OrderSpec{CommonName: fmt.Sprintf("h%d.example.com", i)})
	}
	e.sim.AddOrder(sim.OrderSpec{CommonName: "done.example.com", Status: "issued"})
	p := e.provider(t, "dns-txt", "good-key", nil)
	chs, err := p.Discover(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(chs) != 230 {
		t.Fatalf("discovered %d, want 230", len(chs))
	}
	if n := e.sim.Requests("good-key", "GET /order/certificate"); n != 3 {
		t.Errorf("list requests = %d, want 3 pages of 100", n)
	}
}

// Order statuses that end DCV give Failed with the status as reason.
func TestFailedOrders(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, []string{"example.com"}, sim.Options{})
	id := e.sim.AddOrder(sim.OrderSpec{CommonName: "x.example.com"})
	p := e.provider(t, "dns-txt", "good-key", nil)
	chs, err := p.Discover(ctx)
	if err != nil || len(chs) != 1 {
		t.Fatal(chs, err)
	}
	for _, st := range []string{"canceled", "rejected", "revoked", "expired"} {
		e.sim.SetOrderStatus(id, st)
		for _, f := range []func(context.Context, string, []providers.Challenge) ([]providers.Outcome, error){p.Poll, p.Submit} {
			outs, err := f(ctx, chs[0].Order, chs)
			if err != nil || outs[0].Status != providers.Failed || outs[0].Reason != "order "+st {
				t.Errorf("%s: %+v %v", st, outs, err)
			}
		}
	}
	// An unknown order: Poll says Failed, Submit returns the 404 verbatim.
	ghost := []providers.Challenge{{Order: "999999", Name: "x.example.com"}}
	if outs, err := p.Poll(ctx, "999999", ghost); err != nil || outs[0].Status != providers.Failed || !strings.Contains(outs[0].Reason, "404 not_found|order") {
		t.Errorf("poll unknown: %+v %v", outs, err)
	}
	if _, err := p.Submit(ctx, "999999", ghost); err == nil || !strings.Contains(err.Error(), `PUT /order/certificate/999999/check-dcv: 404 not_found|order: "Order not found."`) {
		t.Errorf("submit unknown: %v", err)
	}
	// check-dcv on an email order: Failed, wrong method.
	mail := e.sim.AddOrder(sim.OrderSpec{CommonName: "m.example.com", Method: "email"})
	outs, err := p.Submit(ctx, fmt.Sprint(mail), []providers.Challenge{{Order: fmt.Sprint(mail), Name: "m.example.com"}})
	if err != nil || outs[0].Status != providers.Failed || !strings.Contains(outs[0].Reason, "invalid_dns_method") {
		t.Errorf("email order submit: %+v %v", outs, err)
	}
}

// 401, 403, 429, 500 and malformed JSON end to end, each one line naming
// the request, without the key.
func TestAPIErrors(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, []string{"example.com"}, sim.Options{Keys: []string{"good-key"}, ViewOnlyKeys: []string{"view-key"}})
	id := e.sim.AddOrder(sim.OrderSpec{CommonName: "x.example.com"})
	ch := []providers.Challenge{{Order: fmt.Sprint(id), Name: "x.example.com"}}
	check := func(name string, err error, want string) {
		t.Helper()
		if err == nil {
			t.Errorf("%s: no error", name)
			return
		}
		if !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "-key") || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s:\n got  %v\n want %s", name, err, want)
		}
	}
	_, err := e.provider(t, "dns-txt", "wrong-key", nil).Discover(ctx)
	check("401", err, `digicert: GET /order/certificate: 401 access_denied|invalid_api_key: "The API key provided is not valid."`)

	_, err = e.provider(t, "dns-txt", "view-key", nil).Submit(ctx, ch[0].Order, ch)
	check("403", err, fmt.Sprintf(`digicert: PUT /order/certificate/%d/check-dcv: 403 access_denied|missing_permission:`, id))
	_, err = e.provider(t, "dns-txt", "view-key", nil).Discover(ctx)
	check("403 discover", err, "403 access_denied|missing_permission")

	p := e.provider(t, "dns-txt", "good-key", func(o *digicert.Options) { r := 0; o.BackoffRetries = &r })
	e.sim.Inject("", "/order/certificate", sim.FaultRateLimit, 1)
	_, err = p.Discover(ctx)
	check("429", err, `digicert: GET /order/certificate: 429 request_limit_exceeded: "Service unavailable, please limit request volume."`)
	// With retries, the same 429s are absorbed.
	e.sim.Inject("", "/order/certificate", sim.FaultRateLimit, 2)
	if chs, err := e.provider(t, "dns-txt", "good-key", nil).Discover(ctx); err != nil || len(chs) != 1 {
		t.Errorf("429 with retries: %v %v", chs, err)
	}

	e.sim.Inject("PUT", "/order/certificate/{id}/check-dcv", sim.FaultServerError, 1)
	_, err = p.Submit(ctx, ch[0].Order, ch)
	check("500", err, fmt.Sprintf(`digicert: PUT /order/certificate/%d/check-dcv: 500 internal_error: "An internal error occurred."`, id))
	e.sim.Inject("PUT", "/order/certificate/{id}/check-dcv", sim.FaultServerErrorEmpty, 1)
	_, err = p.Submit(ctx, ch[0].Order, ch)
	check("500 empty", err, "check-dcv: 500 Internal Server Error (no error in body)")
	// A truncated page is read again (apiclient retries a GET); only one
	// that stays malformed through every retry fails.
	two := 2
	pr := e.provider(t, "dns-txt", "good-key", func(o *digicert.Options) { o.BackoffRetries = &two })
	e.sim.Inject("GET", "/order/certificate", sim.FaultMalformedJSON, 1)
	if chs, err := pr.Discover(ctx); err != nil || len(chs) != 1 {
		t.Errorf("one malformed page: %v %v", chs, err)
	}
	e.sim.Inject("GET", "/order/certificate", sim.FaultMalformedJSON, 3)
	_, err = pr.Discover(ctx)
	check("malformed", err, `digicert: GET /order/certificate: 200 malformed JSON response`)
	e.sim.Inject("GET", "*", sim.FaultMalformedError, 1)
	_, err = p.Poll(ctx, ch[0].Order, ch)
	check("502 html", err, `502 malformed JSON error body: "<html>`)
}

// Under concurrent load the client's limiter keeps it under both windows:
// the client is configured with the simulator's own windows (10/100ms and
// 30/600ms, as an account is with DigiCert's), the simulator must never
// answer 429, and its request log proves the maximum in any window.
func TestRateLimiterStaysUnderBothWindows(t *testing.T) {
	short := digicert.LimitOption{N: 10, Window: "100ms"}
	long := digicert.LimitOption{N: 30, Window: "600ms"}
	e := newEnv(t, []string{"example.com"}, sim.Options{NoLimits: false,
		Limits: []sim.Limit{{N: 10, Window: 100 * time.Millisecond}, {N: 30, Window: 600 * time.Millisecond}}})
	id := e.sim.AddOrder(sim.OrderSpec{CommonName: "x.example.com"})
	p := e.provider(t, "dns-txt", "good-key", func(o *digicert.Options) {
		o.RateLimits = []digicert.LimitOption{short, long}
		r := 0
		o.BackoffRetries = &r
	})
	ch := []providers.Challenge{{Order: fmt.Sprint(id), Name: "x.example.com"}}
	var wg sync.WaitGroup
	errs := make(chan error, 80)
	for i := 0; i < 80; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := p.Poll(context.Background(), ch[0].Order, ch); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := e.sim.Rejected("good-key"); n != 0 {
		t.Errorf("simulator rejected %d requests", n)
	}
	if m := e.sim.MaxInWindow("good-key", 100*time.Millisecond); m > 10 {
		t.Errorf("%d requests within 100ms (limit 10)", m)
	}
	if m := e.sim.MaxInWindow("good-key", 600*time.Millisecond); m > 30 {
		t.Errorf("%d requests within 600ms (limit 30)", m)
	}
	if n := e.sim.Requests("good-key", "GET /order/certificate/{id}/validation"); n != 80 {
		t.Errorf("validation requests = %d, want 80", n)
	}
}

// Domain-level prevalidation through the exported client: switch the method,
// publish the token, validate.
func TestDomainPrevalidation(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, []string{"example.com"}, sim.Options{})
	e.sim.AddOrder(sim.OrderSpec{CommonName: "pre.example.com", Method: "email"})
	did := fmt.Sprint(e.sim.DomainByName("pre.example.com"))
	c := api.New(api.Config{BaseURL: e.url, Key: "good-key"})

	res, err := c.SetDomainDCVMethod(ctx, did, "email")
	if err != nil || res.String() != "no change (DigiCert returned no token or emails)" {
		t.Fatalf("same method: %q %v", res, err)
	}
	res, err = c.SetDomainDCVMethod(ctx, did, "dns-txt-token")
	if err != nil || res.DCVToken == nil || res.DCVToken.Token == "" {
		t.Fatalf("switch: %+v %v", res, err)
	}
	if _, err := c.ValidateDomainToken(ctx, did); !apiclient.HasCode(err, "invalid_dns_txt") {
		t.Fatalf("validate before publishing: %v", err)
	}
	e.publish(t, "example.com", dnspublish.Record{FQDN: "pre.example.com.", Type: dnspublish.TXT, Value: string(res.DCVToken.Token)})
	chk, err := c.ValidateDomainToken(ctx, did)
	if err != nil || chk.Status != "active" {
		t.Fatalf("validate: %+v %v", chk, err)
	}
	d, err := c.DomainInfo(ctx, did)
	if err != nil || d.Name != "pre.example.com" || d.DCVToken == nil || d.DCVToken.Token != res.DCVToken.Token || d.IsPendingValidation {
		t.Fatalf("info: %+v %v", d, err)
	}
	tok, err := c.NewDomainToken(ctx, did)
	if err != nil || tok.Token == "" || tok.Token == res.DCVToken.Token {
		t.Fatalf("new token: %+v %v", tok, err)
	}
	res, err = c.SetDomainDCVMethod(ctx, did, "email")
	if err != nil || !strings.Contains(res.String(), "validation emails admin@pre.example.com") {
		t.Fatalf("email: %q %v", res, err)
	}
	id := e.sim.AddOrder(sim.OrderSpec{CommonName: "pre.example.com", Method: "email"})
	if err := c.ResendEmails(ctx, fmt.Sprint(id), map[string]string{"pre.example.com": "admin@pre.example.com"}); err != nil {
		t.Fatalf("resend: %v", err)
	}
	if me, err := c.Me(ctx); err != nil || me.Username == "" {
		t.Fatalf("me: %+v %v", me, err)
	}
}

// check-dcv that finds one name of an order and not the other approves the
// first and leaves the second pending: that name is NotVisible (DigiCert
// looked and did not find it), so the engine asks again, rather than
// Pending, which it would only poll (a poll never makes DigiCert look). A
// poll still reads it as pending; the next check, once the record is
// there, validates it and issues the order.
func TestCheckLeavesNamePending(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, []string{"example.com", "example.net"}, sim.Options{})
	id := e.sim.AddOrder(sim.OrderSpec{CommonName: "a.example.com", DNSNames: []string{"b.example.net"}})
	p := e.provider(t, "dns-txt", "good-key", nil)
	chs, err := p.Discover(ctx)
	if err != nil || len(chs) != 2 {
		t.Fatalf("discover: %+v %v", chs, err)
	}
	slices.SortFunc(chs, func(a, b providers.Challenge) int { return strings.Compare(a.Name, b.Name) })
	e.publish(t, "example.com", chs[0].Record)
	outs, err := p.Submit(ctx, chs[0].Order, chs)
	if err != nil || outs[0].Status != providers.Validated || outs[1].Status != providers.NotVisible || !strings.Contains(outs[1].Reason, "did not find") {
		t.Fatalf("check with b.example.net unpublished: %+v %v; want validated, not-visible", outs, err)
	}
	if outs, err := p.Poll(ctx, chs[0].Order, chs); err != nil || !slices.Equal(statuses(outs), []providers.Status{providers.Validated, providers.Pending}) {
		t.Fatalf("poll: %+v %v; want validated, pending", outs, err)
	}
	e.publish(t, "example.net", chs[1].Record)
	outs, err = p.Submit(ctx, chs[0].Order, chs)
	if err != nil || !slices.Equal(statuses(outs), []providers.Status{providers.Validated, providers.Validated}) {
		t.Fatalf("check after publishing b.example.net: %+v %v", outs, err)
	}
	if o, _ := e.sim.Order(id); o.Status != "issued" {
		t.Errorf("order status %q, want issued", o.Status)
	}
}
