package main

import (
	"encoding/json"
	"fmt"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcvd/dcvd/providers/webnic"
	wn "github.com/dcvd/dcvd/sandbox/webnic"
)

// TestWebNICDomains: a WebNIC account has no domain objects; after one
// `dcvd run`, `dcvd domains --account wn` lists its orders' names from the
// simulator: an issued order's name valid with its estimated expiry
// (dtcreate + the reuse period then in force), a waiting order's pending
// with WebNIC's statuses, a cancelled order's inactive.
func TestWebNICDomains(t *testing.T) {
	w := newWorld(t, []string{"wn.test"}, nil)
	sim := wn.New(wn.Options{DNSServers: []string{w.bind.Addr}})
	srv := httptest.NewServer(sim)
	t.Cleanup(srv.Close)
	placed := time.Now().Add(-20 * 24 * time.Hour).UTC().Truncate(time.Second)
	sim.AddOrder(wn.OrderSpec{CommonName: "shop.wn.test", OrderStatus: "COMPLETED", Created: placed})
	sim.AddOrder(wn.OrderSpec{CommonName: "mail.wn.test", AuthType: "email"}) // left alone: switch_email_orders = false
	sim.AddOrder(wn.OrderSpec{CommonName: "old.wn.test", OrderStatus: "CANCELLED", CertStatus: "CANCELLED"})
	pw := filepath.Join(w.dir, "webnic.secret")
	if err := os.WriteFile(pw, []byte(wn.DefaultPassword+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := w.config(t, "test-key", fmt.Sprintf(`
[[ca]]
type = "webnic"
name = "wn"
base_url = %q
username = %q
password_file = %q
switch_email_orders = false
schedule = "@every 1h"
`, srv.URL, wn.DefaultUser, pw))

	r := runDcvd(t, deadlineCtx(t, time.Minute), nil, "run", "--config", cfg, "--timeout", "30s")
	if r.code != 0 {
		t.Fatalf("run exit %d\nstdout:\n%s\nstderr:\n%s", r.code, r.stdout, r.stderr)
	}
	d := runDcvd(t, deadlineCtx(t, time.Minute), nil, "domains", "--config", cfg, "--account", "wn", "--json")
	var rows []domainRow
	if err := json.Unmarshal([]byte(d.stdout), &rows); err != nil || len(rows) != 3 {
		t.Fatalf("domains --json (%d rows, %v):\n%s\n%s", len(rows), err, d.stdout, d.stderr)
	}
	got := map[string]domainRow{}
	for _, row := range rows {
		if row.Account != "wn" || row.ID != "" || row.Validated != nil {
			t.Errorf("row %+v", row)
		}
		got[row.Name] = row
	}
	exp := placed.Add(webnic.ReusePeriod(placed))
	if s := got["shop.wn.test"]; s.Status != "valid" || s.Expires == nil || !s.Expires.Equal(exp) || s.Reason != "" {
		t.Errorf("issued order's name: %+v", s)
	}
	if m := got["mail.wn.test"]; m.Status != "pending" || !strings.Contains(m.Reason, "waits on DCV (orderStatus PENDING") || m.Expires != nil {
		t.Errorf("waiting order's name: %+v", m)
	}
	if o := got["old.wn.test"]; o.Status != "inactive" || !strings.Contains(o.Reason, "CANCELLED") {
		t.Errorf("cancelled order's name: %+v", o)
	}
	text := runDcvd(t, deadlineCtx(t, time.Minute), nil, "domains", "--config", cfg, "--account", "wn")
	if !strings.Contains(text.stdout, "shop.wn.test") || strings.Contains(text.stdout, "dc ") {
		t.Errorf("domains --account wn:\n%s", text.stdout)
	}
	t.Logf("dcvd domains --account wn:\n%s", text.stdout)
}
