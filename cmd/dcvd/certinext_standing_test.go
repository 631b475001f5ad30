package main

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/internal/testenv"
	cnx "github.com/dcvd/dcvd/sandbox/certinext"
)

// TestCERTInextRevalidate: revalidate_before = "30d" on a CERTInext account
// (prevalidate off). One `dcvd run` renews, through the real pipeline (a
// fresh token by PATCH of the DCV method, publish in BIND, wait for the
// primary and the secondary, POST .../dcv/verify, remove), every domain
// whose validTill falls within the window and touches none outside it; no
// record is left; the next run's inventory has nothing expiring within 30
// days and renews nothing again.
func TestCERTInextRevalidate(t *testing.T) {
	w := newCNXWorld(t, []string{"rv.test"}, cnx.Options{})
	day := 24 * time.Hour
	var soon, late []string
	for i := range 4 {
		soon = append(soon, w.sim.AddDomain(cnx.DomainSpec{Name: fmt.Sprintf("s%d.rv.test", i),
			VerifiedAt: time.Now().Add(time.Duration(i+1)*day - cnx.DefaultValidity)}))
		late = append(late, w.sim.AddDomain(cnx.DomainSpec{Name: fmt.Sprintf("l%d.rv.test", i),
			VerifiedAt: time.Now().Add(time.Duration(100+i)*day - cnx.DefaultValidity)}))
	}
	cfg := w.config(t, cnx.DefaultSecret, `[{n = 1000, window = "1s"}]`)
	writeFile(cfg, strings.Replace(readFile(t, cfg), "prevalidate = true\n", "prevalidate = false\nrevalidate_before = \"30d\"\n", 1))

	r := runDcvd(t, deadlineCtx(t, time.Minute), nil, "run", "--config", cfg, "--timeout", "30s")
	if r.code != 0 {
		t.Fatalf("run exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	for _, id := range soon {
		if d, _ := w.sim.Domain(id); d.Revalidations != 1 || d.Revalidating || !d.ValidTill.After(time.Now().Add(150*day)) {
			t.Errorf("domain %s expiring within the window: %+v, want revalidated once", d.Name, d)
		}
	}
	for _, id := range late {
		if d, _ := w.sim.Domain(id); d.Revalidations != 0 || d.Revalidating || d.Token != "" || d.Attempts != 0 {
			t.Errorf("domain %s outside the window touched: %+v", d.Name, d)
		}
	}
	// No record left on the primary, nor (once it has transferred the
	// removals) on the secondary.
	deadline := time.Now().Add(15 * time.Second)
	for _, addr := range []string{w.primary.Addr, w.secondary.Addr} {
		for {
			rrs, err := testenv.AXFR(context.Background(), addr, "rv.test", nil)
			if err != nil {
				t.Fatal(err)
			}
			var left []string
			for _, rr := range rrs {
				if rr.Header().Rrtype == dns.TypeTXT {
					left = append(left, rr.String())
				}
			}
			if len(left) == 0 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: records left: %q", addr, left)
			}
			time.Sleep(50 * time.Millisecond)
		}
	}

	// The next run refreshes the inventory: nothing expires within 30 days,
	// and nothing is renewed again.
	if r := runDcvd(t, deadlineCtx(t, time.Minute), nil, "run", "--config", cfg, "--timeout", "30s"); r.code != 0 {
		t.Fatalf("second run exit %d\n%s", r.code, r.stderr)
	}
	d := runDcvd(t, deadlineCtx(t, time.Minute), nil, "domains", "--config", cfg, "--account", "cnx", "--json")
	var rows []domainRow
	if err := json.Unmarshal([]byte(d.stdout), &rows); err != nil || len(rows) != 8 {
		t.Fatalf("domains --json (%d rows, %v):\n%s\n%s", len(rows), err, d.stdout, d.stderr)
	}
	for _, row := range rows {
		if row.Status != "valid" || row.Expires == nil || row.Expires.Before(time.Now().Add(30*day)) || row.Validated == nil {
			t.Errorf("after the renewals: %+v", row)
		}
	}
	for _, id := range soon {
		if d, _ := w.sim.Domain(id); d.Revalidations != 1 {
			t.Errorf("second run revalidated %s again: %+v", d.Name, d)
		}
	}
}
