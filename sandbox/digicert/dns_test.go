package digicert

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/internal/testenv"
)

// update adds zone-file lines to BIND with a TSIG-signed RFC 2136 UPDATE.
func update(t *testing.T, b *testenv.BIND, zone string, lines ...string) {
	t.Helper()
	m := new(dns.Msg)
	m.SetUpdate(dns.Fqdn(zone))
	for _, l := range lines {
		rr, err := dns.NewRR(l)
		if err != nil {
			t.Fatal(err)
		}
		m.Insert([]dns.RR{rr})
	}
	m.SetTsig(b.Key.Name, b.Key.Algorithm, 300, time.Now().Unix())
	c := &dns.Client{TsigSecret: map[string]string{b.Key.Name: b.Key.Secret}, Timeout: 2 * time.Second}
	r, _, err := c.Exchange(m, b.Addr)
	if err != nil || r.Rcode != dns.RcodeSuccess {
		t.Fatalf("update %s: %v %v", zone, err, r)
	}
}

// check-dcv approves a name only once the record is in DNS; the TXT may sit
// behind a CNAME into another zone (a delegated validation zone).
func TestCheckDCVLooksUpDNS(t *testing.T) {
	b := testenv.StartBIND(t, testenv.BINDOptions{Zones: []testenv.BINDZone{{Name: "example.com"}, {Name: "dcv.example.net"}}})
	s := New(Options{Keys: []string{"k"}, DNSServers: []string{b.Addr}})
	id := s.AddOrder(OrderSpec{CommonName: "example.com", DNSNames: []string{"sub.example.org"}, RandomValue: "rv123"})
	p := fmt.Sprintf("/order/certificate/%d/check-dcv", id)
	if st, body := call(t, s, "k", "PUT", p, ""); st != 400 || errCode(body) != "invalid_dns_txt" {
		t.Fatalf("before: %d %v", st, body)
	}
	// A wrong value does not count.
	update(t, b, "example.com", `example.com. 60 IN TXT "v=spf1 -all"`, `example.com. 60 IN TXT "wrong"`)
	if st, _ := call(t, s, "k", "PUT", p, ""); st != 400 {
		t.Fatalf("wrong value accepted: %d", st)
	}
	update(t, b, "example.com", `example.com. 60 IN TXT "rv123"`)
	st, body := call(t, s, "k", "PUT", p, "")
	if st != 200 || body["order_status"] != "pending" || len(body["dns_name_validations"].([]any)) != 2 {
		t.Fatalf("partial: %d %v", st, body)
	}
	o, _ := s.Order(id)
	if o.Names[0].Status != "approved" || o.Names[1].Status != "pending" {
		t.Fatalf("names %+v", o.Names)
	}
	// sub.example.org: _dnsauth TXT via CNAME into dcv.example.net.
	b2 := testenv.StartBIND(t, testenv.BINDOptions{Zones: []testenv.BINDZone{{Name: "example.org"}}})
	s.dns.servers = append(s.dns.servers, b2.Addr)
	update(t, b2, "example.org", `_dnsauth.sub.example.org. 60 IN CNAME sub.dcv.example.net.`)
	update(t, b, "dcv.example.net", `sub.dcv.example.net. 60 IN TXT "rv123"`)
	st, body = call(t, s, "k", "PUT", p, "")
	if st != 200 || body["order_status"] != "issued" || body["dcv_status"] != "valid" {
		t.Fatalf("after: %d %v", st, body)
	}
	if st, body := call(t, s, "k", "PUT", p, ""); st != 400 || errCode(body) != "invalid_order_status" {
		t.Errorf("check on issued order: %d %v", st, body)
	}
	// Five checks: two that found nothing, two that approved a name each
	// (each the next attempt), and one of an order already validated.
	checks := s.DCVChecks()
	if len(checks) != 5 {
		t.Fatalf("%d checks recorded: %+v", len(checks), checks)
	}
	for i, c := range checks {
		if c.Order != id || c.Seq != i+1 || (c.Duplicate != "") != (i == 4) {
			t.Errorf("check %d: %+v", i+1, c)
		}
	}
	if got := fmt.Sprint(checks[2].Approved, checks[3].Approved); got != "[example.com] [sub.example.org]" {
		t.Errorf("approved by checks 3 and 4: %s", got)
	}
	if d := s.DuplicateDCVChecks(); len(d) != 1 || d[0].Seq != 5 || !strings.Contains(d[0].Duplicate, "check-dcv 4") {
		t.Errorf("duplicates %+v", d)
	}
}

func TestCNAMEForms(t *testing.T) {
	b := testenv.StartBIND(t, testenv.BINDOptions{Zones: []testenv.BINDZone{{Name: "example.com"}}})
	s := New(Options{Keys: []string{"k"}, DNSServers: []string{b.Addr}, Legacy: true})
	a := s.AddOrder(OrderSpec{CommonName: "a.example.com", Method: "dns-cname-token", RandomValue: "aaa"})
	l := s.AddOrder(OrderSpec{CommonName: "l.example.com", Method: "dns-cname-token", RandomValue: "_lll"})
	update(t, b, "example.com", `_dnsauth.a.example.com. 60 IN CNAME aaa.dcv.digicert.com.`, `_lll.l.example.com. 60 IN CNAME dcv.digicert.com.`)
	for _, id := range []int{a, l} {
		st, body := call(t, s, "k", "PUT", fmt.Sprintf("/order/certificate/%d/check-dcv", id), "")
		if st != 200 || body["order_status"] != "issued" {
			t.Errorf("order %d: %d %v", id, st, body)
		}
		if _, ok := body["dns_name_validations"]; ok {
			t.Errorf("legacy shape carries dns_name_validations")
		}
	}
	// A TXT does not satisfy a CNAME order, and NoDNSAuthTXT turns the
	// _dnsauth TXT fallback off.
	s2 := New(Options{Keys: []string{"k"}, DNSServers: []string{b.Addr}, NoDNSAuthTXT: true})
	x := s2.AddOrder(OrderSpec{CommonName: "x.example.com", RandomValue: "xxx"})
	y := s2.AddOrder(OrderSpec{CommonName: "y.example.com", Method: "dns-cname-token", RandomValue: "yyy"})
	update(t, b, "example.com", `_dnsauth.x.example.com. 60 IN TXT "xxx"`, `y.example.com. 60 IN TXT "yyy"`)
	for _, id := range []int{x, y} {
		if st, _ := call(t, s2, "k", "PUT", fmt.Sprintf("/order/certificate/%d/check-dcv", id), ""); st != 400 {
			t.Errorf("order %d approved: %d", id, st)
		}
	}
}

// Domain prevalidation: method change returns a token, validate-token looks
// it up, a new token invalidates the old one.
func TestDomainDCV(t *testing.T) {
	b := testenv.StartBIND(t, testenv.BINDOptions{Zones: []testenv.BINDZone{{Name: "example.com"}}})
	s := New(Options{Keys: []string{"k"}, DNSServers: []string{b.Addr}})
	s.AddOrder(OrderSpec{CommonName: "d.example.com", Method: "email"})
	did := s.DomainByName("d.example.com")
	p := fmt.Sprintf("/domain/%d", did)
	if st, body := call(t, s, "k", "POST", p+"/dcv/token", ""); st != 400 || errCode(body) != "invalid_dcv_method" {
		t.Errorf("token on email domain: %d %v", st, body)
	}
	if st, body := call(t, s, "k", "PUT", p+"/dcv/method", `{"dcv_method":"email"}`); st != 200 || len(body) != 0 {
		t.Errorf("same method: %d %v", st, body)
	}
	st, body := call(t, s, "k", "PUT", p+"/dcv/method", `{"dcv_method":"dns-txt-token"}`)
	tok, _ := body["dcv_token"].(map[string]any)
	if st != 200 || tok["token"] == nil || tok["status"] != "pending" {
		t.Fatalf("switch: %d %v", st, body)
	}
	old := tok["token"].(string)
	st, body = call(t, s, "k", "POST", p+"/dcv/token", "")
	fresh, _ := body["token"].(string)
	if st != 200 || fresh == "" || fresh == old {
		t.Fatalf("new token: %d %v", st, body)
	}
	update(t, b, "example.com", fmt.Sprintf(`d.example.com. 60 IN TXT %q`, old))
	if st, body := call(t, s, "k", "PUT", p+"/dcv/validate-token", ""); st != 400 || errCode(body) != "invalid_dns_txt" {
		t.Errorf("old token accepted: %d %v", st, body)
	}
	update(t, b, "example.com", fmt.Sprintf(`d.example.com. 60 IN TXT %q`, fresh))
	if st, body := call(t, s, "k", "PUT", p+"/dcv/validate-token", ""); st != 200 || body["status"] != "active" {
		t.Errorf("validate: %d %v", st, body)
	}
	st, body = call(t, s, "k", "GET", p+"?include_dcv=true&include_validation=true", "")
	if st != 200 || body["dcv_token"].(map[string]any)["token"] != fresh || body["is_pending_validation"] != false || len(body["validations"].([]any)) != 2 {
		t.Errorf("info: %d %v", st, body)
	}
	st, body = call(t, s, "k", "PUT", p+"/dcv/method", `{"dcv_method":"dns-cname-token"}`)
	if tok, _ := body["dcv_token"].(map[string]any); st != 200 || tok["verification_value"] != "dcv.digicert.com" {
		t.Errorf("cname switch: %d %v", st, body)
	}
	if st, body := call(t, s, "k", "PUT", p+"/dcv/method", `{"dcv_method":"email"}`); st != 200 || body["validation_emails"] == nil {
		t.Errorf("email switch: %d %v", st, body)
	}
	if st, _ := call(t, s, "k", "PUT", p+"/dcv/emails", `{"email_array":["admin@d.example.com"]}`); st != 204 {
		t.Errorf("emails: %d", st)
	}
	if st, body := call(t, s, "k", "GET", "/domain/1", ""); st != 404 || errCode(body) != "not_found|domain" {
		t.Errorf("unknown domain: %d %v", st, body)
	}
}
