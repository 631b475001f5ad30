package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	sandbox "github.com/dcvd/dcvd/sandbox/digicert"
)

// TestAuditTrail runs one `dcvd run` at debug level over real BIND and the
// simulator, then checks that `dcvd audit` shows every write of it (add with
// serial, verify with each server's answer, the CA trigger, the removal),
// and that no secret (the CA API key, the TSIG secret) appears in the audit
// trail, the logs or `status --json`.
func TestAuditTrail(t *testing.T) {
	w := newWorld(t, []string{"audit.test"}, nil)
	apex := w.sim.AddOrder(sandbox.OrderSpec{CommonName: "audit.test", DNSNames: []string{"*.audit.test"}})
	host := w.sim.AddOrder(sandbox.OrderSpec{CommonName: "www.audit.test"})
	const apiKey = "test-key"
	cfg := w.config(t, apiKey, "")
	writeFile(cfg, strings.Replace(readFile(t, cfg), `log_level = "warn"`, `log_level = "debug"`, 1))
	tsig, err := os.ReadFile(filepath.Join(w.dir, "tsig.secret"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := deadlineCtx(t, time.Minute)
	run := runDcvd(t, ctx, nil, "run", "--config", cfg, "--timeout", "40s")
	if run.code != 0 {
		t.Fatalf("run exit %d\n%s\n%s", run.code, run.stdout, run.stderr)
	}
	a := runDcvd(t, ctx, nil, "audit", "--config", cfg, "--json")
	if a.code != 0 {
		t.Fatalf("audit exit %d: %s", a.code, a.stderr)
	}
	if testing.Verbose() {
		t.Log(runDcvd(t, ctx, nil, "audit", "--config", cfg).stdout)
	}
	var rows []auditRow
	if err := json.Unmarshal([]byte(a.stdout), &rows); err != nil {
		t.Fatalf("audit --json: %v\n%s", err, a.stdout)
	}
	for _, id := range []int{apex, host} {
		o, _ := w.sim.Order(id)
		seen := map[string]auditRow{}
		for _, r := range rows {
			if r.Order == strconv.Itoa(id) && r.Value == o.RandomValue {
				if _, dup := seen[r.Kind]; !dup || r.Result == "ok" || r.Result == "visible" {
					seen[r.Kind] = r
				}
				if r.Actor != "run" {
					t.Errorf("order %d: %s entry actor %q, want run", id, r.Kind, r.Actor)
				}
			}
		}
		add, ok := seen["dns-add"]
		if !ok || add.Result != "ok" || add.Backend != "bind" || add.Zone != "audit.test." || add.Serial == 0 || add.Type != "TXT" || add.Challenge == 0 {
			t.Errorf("order %d: dns-add entry %+v (present %v)", id, add, ok)
		}
		v, ok := seen["verify"]
		if !ok || v.Result != "visible" || len(v.Evidence) == 0 {
			t.Errorf("order %d: verify entry %+v (present %v)", id, v, ok)
		} else {
			for _, ev := range v.Evidence {
				if ev.Rcode != "NOERROR" || ev.RTT <= 0 || (len(ev.Answer) == 0 && ev.Serial == 0) || ev.Addr == "" {
					t.Errorf("order %d: verify evidence %+v lacks rcode, RTT, answer (or serial) or address", id, ev)
				}
			}
		}
		if s, ok := seen["ca-submit"]; !ok || s.Account != "dc" {
			t.Errorf("order %d: ca-submit entry %+v (present %v)", id, s, ok)
		}
		if r, ok := seen["dns-remove"]; !ok || r.Result != "ok" {
			t.Errorf("order %d: dns-remove entry %+v (present %v)", id, r, ok)
		}
	}
	text := runDcvd(t, ctx, nil, "audit", "--config", cfg, "--name", "www.audit.test")
	if text.code != 0 || !strings.Contains(text.stdout, "dns-add") || strings.Contains(text.stdout, " audit.test ") {
		t.Errorf("audit --name output:\n%s", text.stdout)
	}
	status := runDcvd(t, ctx, nil, "status", "--config", cfg, "--all", "--json")
	for what, out := range map[string]string{"audit": a.stdout + text.stdout, "run log": run.stdout + run.stderr, "status --json": status.stdout} {
		for _, secret := range []string{apiKey, strings.TrimSpace(string(tsig))} {
			if strings.Contains(out, secret) {
				t.Errorf("%s contains a secret %q", what, secret)
			}
		}
	}
}

// TestAuditHook: `dcvd hook add` / `remove` are audited as actor "hook": the
// add, the propagation check with each server's answer, the removal.
func TestAuditHook(t *testing.T) {
	w := newWorld(t, []string{"hook.test"}, nil)
	cfg := w.config(t, "test-key", "")
	ctx := deadlineCtx(t, time.Minute)
	for _, args := range [][]string{
		{"hook", "add", "_acme-challenge.hook.test", "audited-value-1"},
		{"hook", "remove", "_acme-challenge.hook.test", "audited-value-1"},
	} {
		if r := runDcvd(t, ctx, nil, append([]string{"--config", cfg}, args...)...); r.code != 0 {
			t.Fatalf("%v: exit %d: %s", args, r.code, r.stderr)
		}
	}
	a := runDcvd(t, ctx, nil, "audit", "--config", cfg, "--json", "--name", "_acme-challenge.hook.test")
	var rows []auditRow
	if err := json.Unmarshal([]byte(a.stdout), &rows); err != nil {
		t.Fatalf("audit: %v\n%s", err, a.stdout)
	}
	var kinds []string
	for _, r := range rows {
		if r.Actor != "hook" || r.Value != "audited-value-1" || r.Backend != "bind" {
			t.Errorf("entry %+v: want actor hook, the value, backend bind", r)
		}
		if r.Kind == "verify" && (r.Result != "visible" || len(r.Evidence) == 0 || r.Evidence[0].Rcode != "NOERROR") {
			t.Errorf("verify entry without evidence: %+v", r)
		}
		kinds = append(kinds, r.Kind)
	}
	if strings.Join(kinds, " ") != "dns-add verify dns-remove" {
		t.Errorf("hook audit kinds %v, want dns-add verify dns-remove", kinds)
	}
}
