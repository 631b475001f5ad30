package main

import (
	"fmt"
	"strings"
	"testing"
	"time"

	sandbox "github.com/dcvd/dcvd/sandbox/digicert"
)

// TestCACommands drives a CA's own commands (`dcvd digicert ...`, added by
// providers.Spec.Commands) through the binary: the account is picked from
// the config, the call reaches the simulator, and bad input or a missing or
// ambiguous account exits 2 with a one-line reason.
func TestCACommands(t *testing.T) {
	w := newWorld(t, []string{"cli.test"}, nil)
	ord := w.sim.AddOrder(sandbox.OrderSpec{CommonName: "www.cli.test", Method: "email"})
	dom := w.sim.AddDomain(sandbox.DomainSpec{Name: "cli.test", Method: "email"})
	cfg := w.config(t, "test-key", "")
	ctx := deadlineCtx(t, time.Minute)

	r := runDcvd(t, ctx, nil, "digicert", "resend-emails", "--config", cfg, fmt.Sprint(ord))
	if r.code != 0 || !strings.Contains(r.stdout, "DCV emails sent") {
		t.Fatalf("resend-emails: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if n := w.sim.Requests("test-key", "PUT /order/certificate/{id}/resend-emails"); n != 1 {
		t.Errorf("resend-emails reached the simulator %d times, want 1", n)
	}
	r = runDcvd(t, ctx, nil, "digicert", "dcv-method", "--config", cfg, "--account", "dc", fmt.Sprint(dom), "dns-txt-token")
	if d, _ := w.sim.Domain(dom); r.code != 0 || d.Method != "dns-txt-token" || !strings.Contains(r.stdout, d.Token) {
		t.Fatalf("dcv-method: exit %d, domain %+v\n%s%s", r.code, d, r.stdout, r.stderr)
	}

	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"resend-emails", "--email", "nope", fmt.Sprint(ord)}, 2, `--email "nope": want domain=address`},
		{[]string{"resend-emails"}, 2, "accepts 1 arg"},
		{[]string{"resend-emails", "--account", "other", fmt.Sprint(ord)}, 2, `no digicert account named "other" (have dc)`},
		{[]string{"resend-emails", "999"}, 1, "404"},
	} {
		r := runDcvd(t, ctx, nil, append(append([]string{"digicert"}, tc.args...), "--config", cfg)...)
		if r.code != tc.code || !strings.Contains(r.stderr, tc.want) || strings.Count(strings.TrimSpace(r.stderr), "\n") != 0 {
			t.Errorf("digicert %v: exit %d, stderr %q; want exit %d and %q on one line", tc.args, r.code, r.stderr, tc.code, tc.want)
		}
	}
}
