package webnic

import (
	"fmt"
	"os"
	"slices"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/internal/testenv"
)

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// update adds (or, with del, removes) one record in BIND by a TSIG-signed
// RFC 2136 update.
func update(t *testing.T, b *testenv.BIND, zone, rr string, del bool) {
	t.Helper()
	r, err := dns.NewRR(rr)
	if err != nil {
		t.Fatal(err)
	}
	m := new(dns.Msg).SetUpdate(dns.Fqdn(zone))
	if del {
		m.Remove([]dns.RR{r})
	} else {
		m.Insert([]dns.RR{r})
	}
	m.SetTsig(b.Key.Name, b.Key.Algorithm, 300, time.Now().Unix())
	c := &dns.Client{TsigSecret: map[string]string{b.Key.Name: b.Key.Secret}}
	in, _, err := c.Exchange(m, b.Addr)
	if err != nil || in.Rcode != dns.RcodeSuccess {
		t.Fatalf("update %s: %v %v", rr, err, in)
	}
}

func status(t *testing.T, c *client, id int) string {
	t.Helper()
	st, b := c.do("GET", fmt.Sprintf("/ssl/v2/orders/%d/dcv-status", id), "")
	if st != 200 {
		t.Fatalf("dcv-status %d: %d %v", id, st, b)
	}
	return b["data"].(map[string]any)["orderStatus"].(string)
}

// A name is approved only once the exact record is in DNS: TXT (exact
// value, case kept), CNAME (target, any case), the wildcard on its base
// name, and a record at a parent covering a SAN below it.
func TestApprovalNeedsTheRecordInDNS(t *testing.T) {
	b := testenv.StartBIND(t, testenv.BINDOptions{Zones: []testenv.BINDZone{{Name: "example.com"}, {Name: "example.net"}}})
	s := New(Options{DNSServers: []string{b.Addr}})
	txt := s.AddOrder(OrderSpec{CommonName: "example.com", SANs: []string{"*.example.com"}})
	cname := s.AddOrder(OrderSpec{CommonName: "www.example.net", RecordType: "CNAME"})
	parent := s.AddOrder(OrderSpec{CommonName: "example.net", SANs: []string{"deep.sub.example.net"}, RecordType: "CNAME"})
	c := newClient(t, s)

	for _, id := range []int{txt, cname, parent} {
		if got := status(t, c, id); got != "PENDING" {
			t.Fatalf("order %d before any record: %s", id, got)
		}
	}
	o, _ := s.Order(txt)
	host, val := o.Names[0].Host, o.Names[0].Value
	if o.Names[1].Host != host {
		t.Fatalf("wildcard host %s, want %s", o.Names[1].Host, host)
	}
	// A near miss (wrong case inside the TXT value) does not count.
	lower := []byte(val)
	for i := range lower {
		if lower[i] >= 'A' && lower[i] <= 'F' {
			lower[i] += 'a' - 'A'
		}
	}
	update(t, b, "example.com", fmt.Sprintf("%s 60 IN TXT %q", host, string(lower)), false)
	if got := status(t, c, txt); got != "PENDING" {
		t.Fatalf("near miss approved: %s", got)
	}
	update(t, b, "example.com", fmt.Sprintf("%s 60 IN TXT %q", host, val), false)
	if got := status(t, c, txt); got != "COMPLETED" {
		t.Fatalf("txt order after publish: %s", got)
	}

	o, _ = s.Order(cname)
	update(t, b, "example.net", fmt.Sprintf("%s 60 IN CNAME %s.", o.Names[0].Host, o.Names[0].Value), false)
	if got := status(t, c, cname); got != "COMPLETED" {
		t.Fatalf("cname order: %s", got)
	}

	// One CNAME at the apex covers deep.sub.example.net (Sectigo climbs).
	o, _ = s.Order(parent)
	update(t, b, "example.net", fmt.Sprintf("%s 60 IN CNAME %s.", o.Names[0].Host, o.Names[0].Value), false)
	if got := status(t, c, parent); got != "COMPLETED" {
		t.Fatalf("parent-covered order: %s", got)
	}
}

func TestCandidates(t *testing.T) {
	got := candidates("_AB.deep.sub.example.net")
	want := []string{"_AB.deep.sub.example.net", "_AB.sub.example.net", "_AB.example.net"}
	if !slices.Equal(got, want) {
		t.Errorf("candidates %v, want %v", got, want)
	}
	if got := candidates("_AB.example.com"); !slices.Equal(got, []string{"_AB.example.com"}) {
		t.Errorf("apex: %v", got)
	}
}
