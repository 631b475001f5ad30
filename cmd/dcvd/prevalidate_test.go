package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	sandbox "github.com/dcvd/dcvd/sandbox/digicert"
)

// TestPrevalidate: with prevalidate = true one `dcvd run` validates the
// account's pending domains (a TXT domain at a zone apex and an email domain
// switched to TXT) alongside a pending order, through the real pipeline:
// publish in BIND, wait for it, validate-token, remove. DigiCert's existing
// domain tokens are used (none minted) and nothing is left in the zones.
func TestPrevalidate(t *testing.T) {
	w := newWorld(t, []string{"pre.test", "shop.test"}, nil)
	pre := w.sim.AddDomain(sandbox.DomainSpec{Name: "pre.test"})
	mail := w.sim.AddDomain(sandbox.DomainSpec{Name: "www.shop.test", Method: "email"})
	done := w.sim.AddDomain(sandbox.DomainSpec{Name: "old.shop.test", Validated: true})
	ord := w.sim.AddOrder(sandbox.OrderSpec{CommonName: "o.shop.test"})
	cfg := w.config(t, "test-key", "")
	writeFile(cfg, strings.Replace(readFile(t, cfg), "schedule = \"@every 1h\"\n", "schedule = \"@every 1h\"\nprevalidate = true\n", 1))

	r := runDcvd(t, deadlineCtx(t, time.Minute), nil, "run", "--config", cfg, "--timeout", "30s")
	if r.code != 0 {
		t.Fatalf("run exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	tokens := map[string]bool{}
	for _, id := range []int{pre, mail} {
		d, _ := w.sim.Domain(id)
		if !d.Validated || d.Method != "dns-txt-token" {
			t.Errorf("domain %s: %+v, want validated on dns-txt-token", d.Name, d)
		}
		tokens[d.Token] = true
	}
	if o, _ := w.sim.Order(ord); o.Status != "issued" {
		t.Errorf("order %s, want issued", o.Status)
	}
	if n := w.sim.Requests("test-key", "POST /domain/{id}/dcv/token"); n != 0 {
		t.Errorf("%d domain tokens minted; DigiCert's existing ones should be reused", n)
	}
	if n := w.sim.Requests("test-key", "GET /domain/{id}"); n == 0 {
		t.Errorf("no domain info read")
	}

	st := runDcvd(t, deadlineCtx(t, time.Minute), nil, "status", "--config", cfg, "--all", "--json")
	var rows []statusRow
	if err := json.Unmarshal([]byte(st.stdout), &rows); err != nil {
		t.Fatalf("status --json: %v\n%s", err, st.stdout)
	}
	want := map[string]string{fmt.Sprintf("domain:%d", pre): "pre.test.", fmt.Sprintf("domain:%d", mail): "www.shop.test.", fmt.Sprint(ord): "o.shop.test."}
	if len(rows) != len(want) {
		t.Fatalf("status rows: %+v", rows)
	}
	for _, row := range rows {
		if want[row.Order] != row.Record || row.Type != "TXT" {
			t.Errorf("row %+v: want record %q for order %q", row, want[row.Order], row.Order)
		}
		if row.Order == fmt.Sprintf("domain:%d", done) {
			t.Errorf("validated domain discovered: %+v", row)
		}
	}

	// Nothing of ours is left in the zones.
	for _, z := range w.zones {
		rrs, err := w.bind.AXFR(context.Background(), z)
		if err != nil {
			t.Fatal(err)
		}
		for _, rr := range rrs {
			if txt, ok := rr.(*dns.TXT); ok && tokens[strings.Join(txt.Txt, "")] {
				t.Errorf("domain token left in %s: %s", z, rr)
			}
		}
	}
	if l := w.leftovers(t); len(l) > 0 {
		t.Errorf("records left: %v", l)
	}

	// A second run finds nothing new and still mints no token.
	r = runDcvd(t, deadlineCtx(t, time.Minute), nil, "run", "--config", cfg, "--timeout", "30s")
	if r.code != 0 {
		t.Fatalf("second run exit %d\nstderr:\n%s", r.code, r.stderr)
	}
	if n := w.sim.Requests("test-key", "POST /domain/{id}/dcv/token"); n != 0 {
		t.Errorf("second run minted %d tokens", n)
	}
}
