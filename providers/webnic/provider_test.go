package webnic_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/config"
	"github.com/dcvd/dcvd/internal/testenv"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/webnic"
	sim "github.com/dcvd/dcvd/sandbox/webnic"
)

// env is the simulator (checking DNS at BIND when zones are given).
type env struct {
	bind *testenv.BIND
	sim  *sim.Server
	url  string
}

func newEnv(t *testing.T, zones []string, o sim.Options) *env {
	t.Helper()
	e := &env{}
	if len(zones) > 0 {
		var bz []testenv.BINDZone
		for _, z := range zones {
			bz = append(bz, testenv.BINDZone{Name: z})
		}
		e.bind = testenv.StartBIND(t, testenv.BINDOptions{Zones: bz})
		o.DNSServers = []string{e.bind.Addr}
	}
	e.sim = sim.New(o)
	srv := httptest.NewServer(e.sim)
	t.Cleanup(srv.Close)
	e.url = srv.URL
	return e
}

func (e *env) provider(t *testing.T, base providers.Base, extra func(*webnic.Options)) *webnic.Provider {
	t.Helper()
	o := &webnic.Options{Username: sim.DefaultUser, Password: sim.DefaultPassword, Retries: 2,
		RetryMin: config.Duration(time.Millisecond), RetryMax: config.Duration(5 * time.Millisecond),
		PollMin: config.Duration(time.Hour), PollMax: config.Duration(time.Hour)}
	if extra != nil {
		extra(o)
	}
	if base.Name == "" {
		base.Name = "test"
	}
	base.BaseURL = e.url
	p, err := webnic.Open(context.Background(), base, o)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// publish adds records to BIND with a TSIG-signed RFC 2136 update.
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

func ofOrder(chs []providers.Challenge, id int) []providers.Challenge {
	var out []providers.Challenge
	for _, c := range chs {
		if c.Order == strconv.Itoa(id) {
			out = append(out, c)
		}
	}
	return out
}

func statusesOf(outs []providers.Outcome) []providers.Status {
	var s []providers.Status
	for _, o := range outs {
		s = append(s, o.Status)
	}
	return s
}

// The whole loop against the simulator, which looks records up in BIND.
func TestEndToEnd(t *testing.T) {
	ctx := context.Background()
	zones := []string{"example.com", "example.net", "example.org"}
	e := newEnv(t, zones, sim.Options{})
	wild := e.sim.AddOrder(sim.OrderSpec{CommonName: "example.com", SANs: []string{"*.example.com", "www.example.com"}})
	cname := e.sim.AddOrder(sim.OrderSpec{CommonName: "shop.example.org", RecordType: "CNAME", UniqueValue: "aHXEOOEh"})
	email := e.sim.AddOrder(sim.OrderSpec{CommonName: "mail.example.net", AuthType: "email", OrderStatus: "IN_PROCESS"})
	file := e.sim.AddOrder(sim.OrderSpec{CommonName: "files.example.net", AuthType: "file"})
	var done []int
	for _, st := range []string{"COMPLETED", "CANCELLED", "REJECTED", "EXPIRED", "REFUNDED"} {
		done = append(done, e.sim.AddOrder(sim.OrderSpec{CommonName: strings.ToLower(st) + ".example.com", AuthType: "email", OrderStatus: st}))
	}
	revoked := e.sim.AddOrder(sim.OrderSpec{CommonName: "revoked.example.com", OrderStatus: "PENDING", CertStatus: "REVOKED"})
	done = append(done, revoked)

	p := e.provider(t, providers.Base{}, nil)
	chs, err := p.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ord := func(id int) sim.OrderState { s, _ := e.sim.Order(id); return s }
	// Apex + wildcard share one record; www has its own.
	o := ord(wild)
	c := ofOrder(chs, wild)
	names := []string{"example.com", "www.example.com"}
	want := []providers.Challenge{
		{Order: strconv.Itoa(wild), Name: "example.com", Record: dnspublish.Record{FQDN: strings.ToLower(o.Names[0].Host) + ".", Type: dnspublish.TXT, Value: o.Names[0].Value}, OrderNames: names, CAANames: []string{"example.com", "*.example.com"}},
		{Order: strconv.Itoa(wild), Name: "www.example.com", Record: dnspublish.Record{FQDN: strings.ToLower(o.Names[2].Host) + ".", Type: dnspublish.TXT, Value: o.Names[2].Value}, OrderNames: names, CAANames: []string{"www.example.com"}},
	}
	if !reflect.DeepEqual(c, want) {
		t.Fatalf("apex+wildcard+www:\n got %+v\nwant %+v", c, want)
	}
	// CNAME: the value becomes a fully qualified target, uniqueValue kept.
	o = ord(cname)
	c = ofOrder(chs, cname)
	if len(c) != 1 || c[0].Record.Type != dnspublish.CNAME || c[0].Record.Value != o.Names[0].Value+"." || !strings.Contains(c[0].Record.Value, ".aHXEOOEh.sectigo.com") {
		t.Fatalf("cname: %+v", c)
	}
	// Email and file orders were switched to DNS, without the guide email.
	for _, id := range []int{email, file} {
		o := ord(id)
		if o.AuthType != "dns" || o.EmailsSent != 0 || o.Writes != 1 {
			t.Errorf("order %d after discovery: %+v", id, o)
		}
		if c := ofOrder(chs, id); len(c) != 1 || c[0].Record.Value != o.Names[0].Value {
			t.Errorf("switched order %d: %+v", id, c)
		}
	}
	if len(chs) != 5 {
		t.Fatalf("%d challenges, want 5: %+v", len(chs), chs)
	}
	for _, id := range done {
		if c := ofOrder(chs, id); len(c) != 0 {
			t.Errorf("finished order %d discovered: %+v", id, c)
		}
	}

	// Before the records exist: pending, with WebNIC's status.
	byOrder := map[string][]providers.Challenge{}
	for _, c := range chs {
		byOrder[c.Order] = append(byOrder[c.Order], c)
	}
	for id, cs := range byOrder {
		outs, err := p.Submit(ctx, id, cs)
		if err != nil {
			t.Fatal(err)
		}
		if outs[0].Status != providers.Pending || !strings.Contains(outs[0].Reason, "orderStatus") {
			t.Fatalf("order %s before publish: %+v", id, outs)
		}
	}
	zoneOf := func(fqdn string) string {
		for _, z := range zones {
			if strings.HasSuffix(fqdn, "."+z+".") {
				return z
			}
		}
		t.Fatalf("no zone for %s", fqdn)
		return ""
	}
	for _, ch := range chs {
		e.publish(t, zoneOf(ch.Record.FQDN), ch.Record)
	}
	for id, cs := range byOrder {
		outs, err := p.Submit(ctx, id, cs)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range outs {
			if o.Status != providers.Validated {
				t.Fatalf("order %s after publish: %+v", id, outs)
			}
		}
	}
	for _, id := range []int{wild, cname, email, file} {
		if st := ord(id).OrderStatus; st != "COMPLETED" {
			t.Errorf("order %d: %s", id, st)
		}
	}
	if fw := e.sim.FinishedWrites(); len(fw) != 0 {
		t.Errorf("finished orders written to: %v", fw)
	}
	for _, id := range done {
		if o := ord(id); o.Writes != 0 {
			t.Errorf("finished order %d written: %+v", id, o)
		}
	}
	if chs, err := p.Discover(ctx); err != nil || len(chs) != 0 {
		t.Errorf("second discovery: %d challenges, %v", len(chs), err)
	}
	// A poll of a finished order, and of a cancelled one.
	if outs, err := p.Poll(ctx, strconv.Itoa(wild), byOrder[strconv.Itoa(wild)]); err != nil || outs[0].Status != providers.Validated {
		t.Errorf("poll of an issued order: %+v %v", outs, err)
	}
	e.sim.SetStatus(cname, "CANCELLED", "CANCELLED")
	if outs, err := p.Poll(ctx, strconv.Itoa(cname), byOrder[strconv.Itoa(cname)]); err != nil || outs[0].Status != providers.Failed || !strings.Contains(outs[0].Reason, "CANCELLED") {
		t.Errorf("poll of a cancelled order: %+v %v", outs, err)
	}
	if n := e.sim.Requests(sim.RouteToken); n != 1 {
		t.Errorf("%d tokens minted, want 1 (cached)", n)
	}
}

// switch_email_orders = false leaves email orders alone; domains filters.
func TestSwitchOffAndDomains(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil, sim.Options{})
	email := e.sim.AddOrder(sim.OrderSpec{CommonName: "mail.example.net", AuthType: "email"})
	other := e.sim.AddOrder(sim.OrderSpec{CommonName: "other.example.org"})
	mine := e.sim.AddOrder(sim.OrderSpec{CommonName: "a.example.com", SANs: []string{"b.example.org"}})
	off := false
	p := e.provider(t, providers.Base{Domains: []string{"example.com", "example.net"}}, func(o *webnic.Options) { o.SwitchEmailOrders = &off })
	chs, err := p.Discover(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := e.sim.Order(email); o.AuthType != "email" || o.Writes != 0 {
		t.Errorf("email order touched: %+v", o)
	}
	if c := ofOrder(chs, other); len(c) != 0 {
		t.Errorf("order outside domains: %+v", c)
	}
	if c := ofOrder(chs, mine); len(c) != 1 || c[0].Name != "a.example.com" {
		t.Errorf("order half inside domains: %+v", c)
	}
}

// Every page of every pending status is read.
func TestPaging(t *testing.T) {
	e := newEnv(t, nil, sim.Options{StringIDs: true})
	for i := 0; i < 230; i++ {
		st := "PENDING"
		if i%3 == 0 {
			st = "IN_PROCESS"
		}
		e.sim.AddOrder(sim.OrderSpec{CommonName: fmt.Sprintf("h%d.example.com", i), OrderStatus: st})
	}
	p := e.provider(t, providers.Base{}, func(o *webnic.Options) { o.PageSize = 50 })
	chs, err := p.Discover(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(chs) != 230 {
		t.Fatalf("%d challenges, want 230", len(chs))
	}
	// 154 PENDING → 4 pages, 77 IN_PROCESS → 2 pages, 3 empty statuses.
	if n := e.sim.Requests(sim.RouteSearch); n != 4+2+3 {
		t.Errorf("%d searches", n)
	}
}

// Poll paces WebNIC calls per order: between two checks it answers from
// what WebNIC said last.
func TestPollPacing(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil, sim.Options{})
	id := e.sim.AddOrder(sim.OrderSpec{CommonName: "slow.example.com"})
	p := e.provider(t, providers.Base{}, func(o *webnic.Options) {
		o.PollMin, o.PollMax = config.Duration(200*time.Millisecond), config.Duration(400*time.Millisecond)
	})
	chs, err := p.Discover(ctx)
	if err != nil || len(chs) != 1 {
		t.Fatal(chs, err)
	}
	order := strconv.Itoa(id)
	if outs, err := p.Submit(ctx, order, chs); err != nil || outs[0].Status != providers.Pending {
		t.Fatal(outs, err)
	}
	outs, err := p.Poll(ctx, order, chs)
	if err != nil || outs[0].Status != providers.Pending || !strings.Contains(outs[0].Reason, "next check") {
		t.Fatalf("paced poll: %+v %v", outs, err)
	}
	if n := e.sim.Requests(sim.RouteDCVStatus); n != 1 {
		t.Fatalf("%d status checks, want 1 (the poll waits)", n)
	}
	deadline := time.Now().Add(5 * time.Second)
	for e.sim.Requests(sim.RouteDCVStatus) < 2 && time.Now().Before(deadline) {
		if _, err := p.Poll(ctx, order, chs); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := e.sim.Requests(sim.RouteDCVStatus); n != 2 {
		t.Fatalf("%d status checks after the pause, want 2", n)
	}
}
