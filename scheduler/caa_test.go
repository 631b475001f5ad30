package scheduler

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcvd/dcvd/internal/testenv"
	"github.com/dcvd/dcvd/providers/digicert"
	sim "github.com/dcvd/dcvd/sandbox/digicert"
	"github.com/dcvd/dcvd/store"
)

const checkDCV = "PUT /order/certificate/{id}/check-dcv"

// An order for a name whose CAA allows only another CA fails with the CAA
// reason before DigiCert is ever asked to check (the simulator counts
// check-dcv calls), and its record is removed; an order for a name whose CAA
// allows digicert.com goes through.
func TestCAAForbidsCA(t *testing.T) {
	zones := []string{"caa-deny.example.com", "caa-ok.example.com"}
	b := testenv.StartBIND(t, testenv.BINDOptions{Zones: []testenv.BINDZone{
		{Name: zones[0], Records: []string{`@ IN TXT "v=spf1 -all"`, `@ IN CAA 0 issue "letsencrypt.org"`}},
		{Name: zones[1], Records: []string{`@ IN TXT "v=spf1 -all"`, `@ IN CAA 0 issue "digicert.com"`}},
	}})
	s := sim.New(sim.Options{NoLimits: true, DNSServers: []string{b.Addr}, Keys: []string{"good-key"}})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	e := &env{envSpec: envSpec{BindAddr: b.Addr, KeyName: b.Key.Name, KeySecret: b.Key.Secret, Zones: zones,
		SimURL: srv.URL + sim.Prefix, DB: filepath.Join(t.TempDir(), "state.db")}, bind: b, sim: s}

	st, router, chk := e.parts(t)
	cfg := Config{Store: st, Router: router, Checker: chk, Logger: testLogger(t),
		RetryMin: 20 * time.Millisecond, RetryMax: 200 * time.Millisecond,
		PollMin: 20 * time.Millisecond, PollMax: 200 * time.Millisecond, Linger: 2 * time.Second,
		Accounts: []Account{{Provider: e.provider(t, "dns-txt"),
			IssuerDomains: digicert.Spec().IssuerDomains}}}
	eng, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	deny := s.AddOrder(sim.OrderSpec{CommonName: zones[0]})
	sum, err := eng.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Failed) != 1 || sum.Failed[0].State != store.Failed ||
		!strings.Contains(sum.Failed[0].Reason, "CAA at caa-deny.example.com allows only letsencrypt.org") {
		t.Fatalf("want one row failed with the CAA reason; summary %s, failed %+v", sum, sum.Failed)
	}
	if n := s.Requests("good-key", checkDCV); n != 0 {
		t.Fatalf("check-dcv called %d times for a CAA-forbidden order", n)
	}
	if o, _ := s.Order(deny); o.Status == "issued" {
		t.Fatalf("order %d issued", deny)
	}
	for _, rr := range e.dcvRecords(t) {
		if !strings.Contains(rr, "\tCAA\t") { // the zones' own CAA records stay
			t.Errorf("record left after the CAA failure: %s", rr)
		}
	}
	rows, _ := st.List(ctx, store.Filter{})
	for _, c := range rows {
		if c.DNS != store.DNSRemoved {
			t.Errorf("row %d: dns=%s, want removed", c.ID, c.DNS)
		}
	}

	ok := s.AddOrder(sim.OrderSpec{CommonName: zones[1]})
	if _, err := eng.RunOnce(ctx); err != nil {
		t.Fatal(err)
	}
	if s.Requests("good-key", checkDCV) == 0 {
		t.Fatal("the CAA-allowed order was never submitted")
	}
	wantIssued(t, s, []int{ok})
}
