package webnic_test

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/webnic"
	sim "github.com/dcvd/dcvd/sandbox/webnic"
)

// The inventory is the orders' names with the state their orders give
// them: an issued order's names are valid until dtcreate + the reuse period
// then in force, or expired once that has passed; a waiting order's names
// pending with WebNIC's statuses; a cancelled order's inactive; a name on
// several orders takes the best; names outside the account's domains are
// left out; SANs appear once discovery has read the order's info.
func TestDomainsFromOrders(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, nil, sim.Options{})
	day := 24 * time.Hour
	recent, old := time.Now().Add(-10*day).UTC().Truncate(time.Second), time.Now().Add(-500*day).UTC().Truncate(time.Second)
	multi := e.sim.AddOrder(sim.OrderSpec{CommonName: "a.example.com", SANs: []string{"*.a.example.com", "www.a.example.com"}})
	e.sim.AddOrder(sim.OrderSpec{CommonName: "done.example.com", OrderStatus: "COMPLETED", Created: recent})
	e.sim.AddOrder(sim.OrderSpec{CommonName: "done.example.com", Created: recent}) // a reissue waiting: valid wins
	e.sim.AddOrder(sim.OrderSpec{CommonName: "old.example.com", OrderStatus: "COMPLETED", Created: old})
	e.sim.AddOrder(sim.OrderSpec{CommonName: "gone.example.com", OrderStatus: "CANCELLED", CertStatus: "CANCELLED"})
	e.sim.AddOrder(sim.OrderSpec{CommonName: "other.org", OrderStatus: "COMPLETED"})
	p := e.provider(t, providers.Base{Domains: []string{"example.com"}}, nil)

	list, err := p.Domains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]providers.Domain{}
	var names []string
	for _, d := range list {
		got[d.Name] = d
		names = append(names, d.Name)
	}
	if strings.Join(names, " ") != "a.example.com done.example.com gone.example.com old.example.com" {
		t.Fatalf("names before discovery: %v", names)
	}
	if d := got["a.example.com"]; d.Status != providers.DomainPending || !strings.Contains(d.Reason, "waits on DCV (orderStatus PENDING, certStatus INITIAL)") || !d.Expires.IsZero() || d.ID != "" {
		t.Errorf("pending: %+v", d)
	}
	if d := got["done.example.com"]; d.Status != providers.DomainValid || d.Reason != "" || !d.Expires.Equal(recent.Add(webnic.ReusePeriod(recent))) || !d.Validated.IsZero() {
		t.Errorf("issued: %+v", d)
	}
	if d := got["old.example.com"]; d.Status != providers.DomainExpired || !d.Expires.Equal(old.Add(webnic.ReusePeriod(old))) || !strings.Contains(d.Reason, "reuse period") {
		t.Errorf("issued long ago: %+v", d)
	}
	if d := got["gone.example.com"]; d.Status != providers.DomainInactive || !strings.Contains(d.Reason, "CANCELLED") {
		t.Errorf("cancelled: %+v", d)
	}

	// Discovery reads the multi-name order's SANs; the next inventory lists them.
	chs, err := p.Discover(ctx)
	if err != nil || len(chs) == 0 {
		t.Fatalf("discover: %d challenges, %v", len(chs), err)
	}
	list, err = p.Domains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, d := range list {
		if d.Name == "www.a.example.com" {
			n++
			if d.Status != providers.DomainPending || !strings.Contains(d.Reason, "order "+strconv.Itoa(multi)) {
				t.Errorf("SAN: %+v", d)
			}
		}
	}
	if n != 1 || len(list) != 5 {
		t.Errorf("after discovery: %+v", list)
	}
}

// ReusePeriod follows ballot SC-081.
func TestReusePeriod(t *testing.T) {
	for _, tc := range []struct {
		at   string
		days int
	}{
		{"2025-06-01", 398}, {"2026-03-14", 398}, {"2026-03-15", 200}, {"2027-03-14", 200},
		{"2027-03-15", 100}, {"2029-03-14", 100}, {"2029-03-15", 10}, {"2031-01-01", 10},
	} {
		at, _ := time.Parse(time.DateOnly, tc.at)
		if got := webnic.ReusePeriod(at); got != time.Duration(tc.days)*24*time.Hour {
			t.Errorf("ReusePeriod(%s) = %v, want %d days", tc.at, got, tc.days)
		}
	}
}
