package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcvd/dcvd/internal/testenv"
	"github.com/dcvd/dcvd/verify"
)

// `dcvd check` shows what a CA will see, per server: DNSSEC verdicts, the
// parent/zone delegation, and the CAA verdict (table and --json), with
// exit code 1 for bogus, stale or forbidding answers.
func TestCheckShowsWhatTheCASees(t *testing.T) {
	tp := testenv.StartTopology(t, testenv.TopologyOptions{})
	dir := t.TempDir()
	cfg := filepath.Join(dir, "dcvd.toml")
	os.WriteFile(cfg, []byte(fmt.Sprintf(`[daemon]
state_dir = %q

[propagation]
resolvers = [%q]
query_timeout = "300ms"
`, dir, tp.Resolver)), 0o600)
	ctx := deadlineCtx(t, 60*time.Second)
	check := func(args ...string) result {
		return runDcvd(t, ctx, nil, append([]string{"check", "--config", cfg, "--issuer", "digicert.com"}, args...)...)
	}

	r := check("expired.badsig.test", "--value", "e")
	if r.code != 1 || !strings.Contains(r.stdout, "bogus") || !strings.Contains(r.stdout, "RRSIG over TXT") ||
		!strings.Contains(r.stdout, "expired at") || !strings.Contains(r.stdout, "secure") {
		t.Fatalf("bogus signature: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = check("fixed.signed.test", "--value", "signed-fixed")
	if r.code != 0 || strings.Count(r.stdout, "secure  NOERROR") != 3 || !strings.Contains(r.stdout, "allowed: CAA at signed.test allows digicert.com") {
		t.Fatalf("signed zone, CAA allows: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = check("stale.example.test", "--value", "old-value", "--domain", "www.caa-deny.example.test")
	if r.code != 1 || !strings.Contains(r.stdout, "FORBIDDEN: CAA at caa-deny.example.test allows only letsencrypt.org") {
		t.Fatalf("CAA forbids: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}

	r = check("fixed.deleg.test", "--value", "deleg-fixed", "--json")
	var rep verify.Report
	if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil {
		t.Fatalf("--json: %v\n%s", err, r.stdout)
	}
	roles := map[string]string{}
	for _, s := range rep.Servers {
		roles[s.Addr] = s.Delegation + "/" + string(s.Status)
	}
	if r.code != 1 || rep.Visible || roles[testenv.TopoOther] != verify.DelegParentOnly+"/refused" ||
		roles[testenv.TopoV6] != verify.DelegZoneOnly+"/ok" || len(rep.ParentNS) != 2 || len(rep.ZoneNS) != 2 ||
		len(rep.CAA) != 1 || !rep.CAA[0].Allowed || rep.CAA[0].Name != "fixed.deleg.test" {
		t.Fatalf("--json delegation: exit %d, roles %v\n%s", r.code, roles, r.stdout)
	}
}
