package scheduler

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
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
	e, s, st, eng := caaWorld(t, []testenv.BINDZone{
		{Name: zones[0], Records: []string{`@ IN TXT "v=spf1 -all"`, `@ IN CAA 0 issue "letsencrypt.org"`}},
		{Name: zones[1], Records: []string{`@ IN TXT "v=spf1 -all"`, `@ IN CAA 0 issue "digicert.com"`}},
	})
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

// caaWorld starts BIND with zones, the DigiCert simulator checking DNS
// there, and an engine whose DigiCert account has DigiCert's CAA issuer
// domains.
func caaWorld(t *testing.T, zones []testenv.BINDZone) (*env, *sim.Server, store.Store, *Engine) {
	t.Helper()
	b := testenv.StartBIND(t, testenv.BINDOptions{Zones: zones})
	s := sim.New(sim.Options{NoLimits: true, DNSServers: []string{b.Addr}, Keys: []string{"good-key"}})
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	names := make([]string, len(zones))
	for i, z := range zones {
		names[i] = z.Name
	}
	e := &env{envSpec: envSpec{BindAddr: b.Addr, KeyName: b.Key.Name, KeySecret: b.Key.Secret, Zones: names,
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
	return e, s, st, eng
}

// Each certificate name a record validates is checked as the CA will
// check it (RFC 8659 section 4.3): "*.name" by issuewild, name by issue.
// On a zone whose CAA allows DigiCert by issue but forbids every CA by
// issuewild, the apex + wildcard order fails with the issuewild reason,
// its record removed and check-dcv never called for it, while the same
// zone's plain order validates in the same run. On a zone that keeps issue
// for another CA and gives wildcards to DigiCert by issuewild, it is the
// other way round: the wildcard-only order validates (its base name is
// not on the certificate, so issue does not apply to it), the plain one
// fails with the issue reason.
func TestCAAIssuewild(t *testing.T) {
	zones := []string{"wild-deny.example.com", "wild-only.example.com"}
	e, s, st, eng := caaWorld(t, []testenv.BINDZone{
		{Name: zones[0], Records: []string{`@ IN TXT "v=spf1 -all"`, `@ IN CAA 0 issue "digicert.com"`, `@ IN CAA 0 issuewild ";"`}},
		{Name: zones[1], Records: []string{`@ IN TXT "v=spf1 -all"`, `@ IN CAA 0 issue "letsencrypt.org"`, `@ IN CAA 0 issuewild "digicert.com"`}},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	wild := s.AddOrder(sim.OrderSpec{CommonName: zones[0], DNSNames: []string{"*." + zones[0]}})
	plain := s.AddOrder(sim.OrderSpec{CommonName: zones[0]})
	wildOnly := s.AddOrder(sim.OrderSpec{CommonName: "*." + zones[1]})
	plainLE := s.AddOrder(sim.OrderSpec{CommonName: zones[1]})
	sum, err := eng.RunOnce(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		strconv.Itoa(wild):    "CAA at wild-deny.example.com (issuewild, for the wildcard) forbids every CA (issuewild \";\")",
		strconv.Itoa(plainLE): "CAA at wild-only.example.com allows only letsencrypt.org",
	}
	got := map[string]string{}
	for _, f := range sum.Failed {
		got[f.Order] = f.Reason
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("failed orders (order: reason)\n got %q\nwant %q\nsummary %s", got, want, sum)
	}
	for _, id := range []int{wild, plainLE} {
		if o, _ := s.Order(id); o.Checks != 0 || o.Status == "issued" {
			t.Fatalf("CAA-forbidden order %d: %d check-dcv calls, status %s; want none, not issued", id, o.Checks, o.Status)
		}
	}
	wantIssued(t, s, []int{plain, wildOnly})
	rows, _ := st.List(ctx, store.Filter{})
	if len(rows) != 4 {
		t.Fatalf("%d rows, want 4", len(rows))
	}
	wantCAA := map[string][]string{
		strconv.Itoa(wild):     {zones[0], "*." + zones[0]},
		strconv.Itoa(plain):    {zones[0]},
		strconv.Itoa(wildOnly): {"*." + zones[1]},
		strconv.Itoa(plainLE):  {zones[1]},
	}
	for _, c := range rows {
		if c.DNS != store.DNSRemoved {
			t.Errorf("row %d (order %s): dns=%s, want removed", c.ID, c.Order, c.DNS)
		}
		if !slices.Equal(c.CAANames, wantCAA[c.Order]) {
			t.Errorf("row %d (order %s): CAA names %q, want %q", c.ID, c.Order, c.CAANames, wantCAA[c.Order])
		}
	}
	for _, rr := range e.dcvRecords(t) {
		if !strings.Contains(rr, "\tCAA\t") {
			t.Errorf("record left behind: %s", rr)
		}
	}
}
