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

// TestRevalidateAndDomains: with revalidate_before = "30d" one `dcvd run`
// renews, through the real pipeline (publish in BIND, wait, validate-token,
// remove), every domain whose validation expires within the window and
// touches none outside it; `dcvd domains` lists the inventory soonest
// expiry first with the reason for the domain that is not valid, and after
// the next run (which refreshes it) nothing expires within 30 days.
func TestRevalidateAndDomains(t *testing.T) {
	w := newWorld(t, []string{"rv.test"}, nil)
	day := 24 * time.Hour
	var soon, late []int
	for i := range 5 {
		exp := time.Now().Add(time.Duration(i+1) * day)
		soon = append(soon, w.sim.AddDomain(sandbox.DomainSpec{Name: fmt.Sprintf("s%d.rv.test", i), Validated: true, ValidatedAt: exp.Add(-sandbox.Validity)}))
		exp = time.Now().Add(time.Duration(100+i) * day)
		late = append(late, w.sim.AddDomain(sandbox.DomainSpec{Name: fmt.Sprintf("l%d.rv.test", i), Validated: true, ValidatedAt: exp.Add(-sandbox.Validity)}))
	}
	w.sim.AddDomain(sandbox.DomainSpec{Name: "mail.rv.test", Method: "email"})
	cfg := w.config(t, "test-key", "")
	writeFile(cfg, strings.Replace(readFile(t, cfg), "schedule = \"@every 1h\"\n",
		"schedule = \"@every 1h\"\nrevalidate_before = \"30d\"\nswitch_email_orders = false\n", 1))

	r := runDcvd(t, deadlineCtx(t, time.Minute), nil, "run", "--config", cfg, "--timeout", "30s")
	if r.code != 0 {
		t.Fatalf("run exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	tokens := map[string]bool{}
	for _, id := range soon {
		d, _ := w.sim.Domain(id)
		if d.Revalidations != 1 || !d.Expires.After(time.Now().Add(300*day)) {
			t.Errorf("domain %s expiring within the window: %+v, want revalidated once", d.Name, d)
		}
		tokens[d.Token] = true
	}
	for _, id := range late {
		if d, _ := w.sim.Domain(id); d.Revalidations != 0 {
			t.Errorf("domain %s outside the window revalidated: %+v", d.Name, d)
		}
	}
	rrs, err := w.bind.AXFR(context.Background(), "rv.test")
	if err != nil {
		t.Fatal(err)
	}
	for _, rr := range rrs {
		if txt, ok := rr.(*dns.TXT); ok && tokens[strings.Join(txt.Txt, "")] {
			t.Errorf("revalidation record left: %s", rr)
		}
	}

	// The inventory read at this run's discovery (before the renewals).
	d := runDcvd(t, deadlineCtx(t, time.Minute), nil, "domains", "--config", cfg, "--json")
	var rows []domainRow
	if err := json.Unmarshal([]byte(d.stdout), &rows); err != nil || len(rows) != 11 {
		t.Fatalf("domains --json (%d rows, %v):\n%s\n%s", len(rows), err, d.stdout, d.stderr)
	}
	if rows[0].Name != "mail.rv.test" || rows[0].Status != "pending" || !strings.Contains(rows[0].Reason, "email") || rows[0].Expires != nil {
		t.Errorf("never-validated domain first with its reason: %+v", rows[0])
	}
	for i := 1; i < len(rows); i++ {
		if rows[i].Status != "valid" || rows[i].Expires == nil || rows[i].DaysLeft == nil || rows[i].Account != "dc" {
			t.Errorf("row %d: %+v", i, rows[i])
		}
		if i > 1 && rows[i].Expires.Before(*rows[i-1].Expires) {
			t.Errorf("not soonest first: %s after %s", rows[i].Name, rows[i-1].Name)
		}
	}
	if rows[1].Name != "s0.rv.test" || *rows[1].DaysLeft != 0 {
		t.Errorf("soonest: %+v", rows[1])
	}
	tbl := runDcvd(t, deadlineCtx(t, time.Minute), nil, "domains", "--config", cfg, "--expiring", "30d")
	if tbl.code != 0 || !strings.Contains(tbl.stdout, "DAYS") || strings.Count(tbl.stdout, ".rv.test") != 5 || strings.Contains(tbl.stdout, "l0.rv.test") {
		t.Errorf("domains --expiring 30d (exit %d):\n%s%s", tbl.code, tbl.stdout, tbl.stderr)
	}
	t.Logf("dcvd domains --expiring 30d:\n%s", tbl.stdout)
	if bad := runDcvd(t, deadlineCtx(t, time.Minute), nil, "domains", "--config", cfg, "--expiring", "soon"); bad.code != exitConfig || !strings.Contains(bad.stderr, "--expiring") {
		t.Errorf("bad --expiring: exit %d, %s", bad.code, bad.stderr)
	}

	// The next run refreshes the inventory: nothing expires within 30 days.
	if r := runDcvd(t, deadlineCtx(t, time.Minute), nil, "run", "--config", cfg, "--timeout", "30s"); r.code != 0 {
		t.Fatalf("second run exit %d\n%s", r.code, r.stderr)
	}
	tbl = runDcvd(t, deadlineCtx(t, time.Minute), nil, "domains", "--config", cfg, "--expiring", "30d", "--json")
	if err := json.Unmarshal([]byte(tbl.stdout), &rows); err != nil || len(rows) != 0 {
		t.Errorf("after the renewals, expiring within 30d: %+v %v", rows, err)
	}
	for _, id := range soon {
		if d, _ := w.sim.Domain(id); d.Revalidations != 1 {
			t.Errorf("second run revalidated %s again: %+v", d.Name, d)
		}
	}
}
