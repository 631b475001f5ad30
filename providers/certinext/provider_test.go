package certinext_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/certinext"
	sim "github.com/dcvd/dcvd/sandbox/certinext"
)

// Order DCV end to end against the simulator, which looks records up in
// BIND: a single name, apex + wildcard (one challenge), a multi-SAN order,
// and a name covered by a verified account domain (nothing to do).
func TestOrders(t *testing.T) {
	t.Parallel()
	for _, shape := range []sim.OrderShape{sim.OrderFlat, sim.OrderChallenges, sim.OrderList} {
		t.Run([]string{"flat", "challenges", "list"}[shape], func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, []string{"example.com", "example.net", "example.org"}, sim.Options{OrderShape: shape})
			e.sim.AddDomain(sim.DomainSpec{Name: "example.org", Verified: true})
			single := e.sim.AddOrder(sim.OrderSpec{Domain: "shop.example.com"})
			wild := e.sim.AddOrder(sim.OrderSpec{Domain: "example.net", AdditionalDomains: []string{"*.example.net"}})
			multi := e.sim.AddOrder(sim.OrderSpec{Domain: "a.example.com", AdditionalDomains: []string{"b.example.com", "www.example.org"}})
			covered := e.sim.AddOrder(sim.OrderSpec{Domain: "api.example.org"})
			e.sim.AddOrder(sim.OrderSpec{Domain: "old.example.com", Status: "issued"})
			p := e.provider(t, nil)

			chs, err := p.Discover(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(chs) != 4 {
				t.Fatalf("discovered %d challenges, want 4: %+v", len(chs), chs)
			}
			c := byOrder(chs, single)
			if len(c) != 1 || c[0].Name != "shop.example.com" || c[0].Record.FQDN != "_emudhra-challenge.shop.example.com." ||
				c[0].Record.Value != e.sim.OrderToken(single, "shop.example.com") || c[0].Expires.IsZero() && shape != sim.OrderList {
				t.Fatalf("single: %+v", c)
			}
			if !slices.Equal(c[0].CAANames, []string{"shop.example.com"}) {
				t.Fatalf("single name's CAA names: %+v", c)
			}
			if c := byOrder(chs, wild); len(c) != 1 || c[0].Name != "example.net" ||
				!slices.Equal(c[0].CAANames, []string{"example.net", "*.example.net"}) {
				t.Fatalf("apex+wildcard: %+v", c)
			}
			if c := byOrder(chs, multi); len(c) != 2 || c[0].Name != "a.example.com" || c[1].Name != "b.example.com" ||
				!slices.Equal(c[0].OrderNames, []string{"a.example.com", "b.example.com", "www.example.org"}) {
				t.Fatalf("multi-SAN (www.example.org is covered by the account domain): %+v", c)
			}
			if c := byOrder(chs, covered); len(c) != 0 {
				t.Fatalf("covered order: %+v", c)
			}
			// Before publishing: NotVisible with CERTInext's diagnostics.
			outs, err := p.Submit(ctx, single, byOrder(chs, single))
			if err != nil {
				t.Fatal(err)
			}
			if outs[0].Status != providers.NotVisible || !strings.Contains(outs[0].Reason, "RECORD_NOT_FOUND") ||
				!strings.Contains(outs[0].Reason, "_emudhra-challenge.shop.example.com") {
				t.Fatalf("before publish: %+v", outs)
			}
			e.publish(t, chs...)
			orders, by := groups(chs)
			for _, o := range orders {
				outs, err := p.Submit(ctx, o, by[o])
				if err != nil {
					t.Fatal(err)
				}
				for _, out := range outs {
					if out.Status != providers.Validated {
						t.Fatalf("order %s after publish: %+v", o, outs)
					}
				}
				if st, _ := e.sim.Order(o); st.Status != "issued" {
					t.Errorf("order %s status %q", o, st.Status)
				}
				if outs, err := p.Poll(ctx, o, by[o]); err != nil || outs[0].Status != providers.Validated {
					t.Errorf("poll %s: %+v %v", o, outs, err)
				}
			}
			if chs, err := p.Discover(ctx); err != nil || len(chs) != 0 {
				t.Errorf("second discovery: %+v %v", chs, err)
			}
		})
	}
}

// A cancelled order fails; a name the CA does not know fails.
func TestOrderFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, []string{"example.com"}, sim.Options{})
	id := e.sim.AddOrder(sim.OrderSpec{Domain: "x.example.com"})
	p := e.provider(t, nil)
	chs, err := p.Discover(ctx)
	if err != nil || len(chs) != 1 {
		t.Fatalf("%+v %v", chs, err)
	}
	e.sim.CancelOrder(id)
	outs, err := p.Poll(ctx, id, chs)
	if err != nil || outs[0].Status != providers.Failed || outs[0].Reason != "order cancelled" {
		t.Fatalf("cancelled: %+v %v", outs, err)
	}
	outs, err = p.Submit(ctx, id, chs)
	if err != nil || outs[0].Status != providers.Failed {
		t.Fatalf("submit cancelled: %+v %v", outs, err)
	}
	if _, err = p.Submit(ctx, "999", chs); err == nil || !strings.Contains(err.Error(), "POST /ssl-certificates/999/dcv/verify: 404") {
		t.Fatalf("submit unknown order: %v", err)
	}
	outs, err = p.Poll(ctx, "999", chs)
	if err != nil || outs[0].Status != providers.Failed || !strings.Contains(outs[0].Reason, "not found") {
		t.Fatalf("poll unknown order: %+v %v", outs, err)
	}
}

// Domain pre-validation for each shape of GET /domains/{id}/dcv and each
// owner placement; email domains are switched, http-url, verified and
// inactive domains are left alone.
func TestPrevalidate(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		shape    sim.DomainShape
		simLabel string
		txtLabel string
		owner    string // for pending.example.com
	}{
		{"token+host", sim.DomainTokenHost, "", "", "_emudhra-challenge.pending.example.com."},
		{"txtToken+dnsHost", sim.DomainTxtTokenDNSHost, "", "_emsign-validation", "_emudhra-challenge.pending.example.com."},
		{"dnsContents", sim.DomainDNSContents, "", "", "_emudhra-challenge.pending.example.com."},
		{"no host, apex", sim.DomainNoHost, "@", "@", "pending.example.com."},
		{"no host, other label", sim.DomainNoHost, "_emsign-validation", "_emsign-validation", "_emsign-validation.pending.example.com."},
		{"host is the apex", sim.DomainTokenHost, "@", "", "pending.example.com."},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx := context.Background()
			e := newEnv(t, []string{"example.com"}, sim.Options{DomainShape: tc.shape, Label: tc.simLabel})
			pending := e.sim.AddDomain(sim.DomainSpec{Name: "pending.example.com"})
			email := e.sim.AddDomain(sim.DomainSpec{Name: "mail.example.com", Method: "email"})
			e.sim.AddDomain(sim.DomainSpec{Name: "web.example.com", Method: "http-url"})
			e.sim.AddDomain(sim.DomainSpec{Name: "done.example.com", Verified: true})
			gone := e.sim.AddDomain(sim.DomainSpec{Name: "gone.example.com"})
			p := e.provider(t, func(o *certinext.Options) { o.Prevalidate = true; o.TXTLabel = tc.txtLabel })
			e.sim.Deactivate(gone)

			chs, err := p.Discover(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if len(chs) != 2 {
				t.Fatalf("discovered %+v", chs)
			}
			d, _ := e.sim.Domain(pending)
			c := byOrder(chs, "domain:"+pending)
			if len(c) != 1 || c[0].Record.FQDN != tc.owner || c[0].Record.Value != d.Token || c[0].Ref != d.Token ||
				!slices.Equal(c[0].OrderNames, []string{"pending.example.com"}) {
				t.Fatalf("pending: %+v (token %s)", c, d.Token)
			}
			if m, _ := e.sim.Domain(email); m.Method != "dns-txt" || len(byOrder(chs, "domain:"+email)) != 1 {
				t.Fatalf("email domain not switched: %+v", m)
			}
			outs, err := p.Submit(ctx, "domain:"+pending, c)
			if err != nil || outs[0].Status != providers.NotVisible || !strings.Contains(outs[0].Reason, "RECORD_NOT_FOUND") {
				t.Fatalf("before publish: %+v %v", outs, err)
			}
			e.publish(t, chs...)
			for _, ch := range chs {
				outs, err := p.Submit(ctx, ch.Order, []providers.Challenge{ch})
				if err != nil || !slices.Equal(statuses(outs), []providers.Status{providers.Validated}) {
					t.Fatalf("%s after publish: %+v %v", ch.Name, outs, err)
				}
				if outs, err := p.Poll(ctx, ch.Order, []providers.Challenge{ch}); err != nil || outs[0].Status != providers.Validated {
					t.Fatalf("poll %s: %+v %v", ch.Name, outs, err)
				}
			}
			if d, _ := e.sim.Domain(pending); d.DCVStatus != "VERIFIED" || d.Attempts != 2 {
				t.Fatalf("domain after verify: %+v", d)
			}
			if chs, err := p.Discover(ctx); err != nil || len(chs) != 0 {
				t.Fatalf("second discovery: %+v %v", chs, err)
			}
		})
	}
}

// A txt_label the CA does not query: the verify fails and the reason says
// where CERTInext looked — its diagnostics, shown by `dcvd status`.
func TestPrevalidateWrongLabelShowsDiagnostics(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, []string{"example.com"}, sim.Options{DomainShape: sim.DomainNoHost})
	id := e.sim.AddDomain(sim.DomainSpec{Name: "pending.example.com"})
	p := e.provider(t, func(o *certinext.Options) { o.Prevalidate = true; o.TXTLabel = "_emsign-validation" })
	chs, err := p.Discover(ctx)
	if err != nil || len(chs) != 1 || chs[0].Record.FQDN != "_emsign-validation.pending.example.com." {
		t.Fatalf("%+v %v", chs, err)
	}
	e.publish(t, chs...)
	outs, err := p.Submit(ctx, chs[0].Order, chs)
	if err != nil {
		t.Fatal(err)
	}
	d, _ := e.sim.Domain(id)
	want := `expected TXT _emudhra-challenge.pending.example.com "` + d.Token + `"; 0/1 perspectives agreed`
	if outs[0].Status != providers.NotVisible || !strings.Contains(outs[0].Reason, want) || !strings.Contains(outs[0].Reason, "(RECORD_NOT_FOUND)") ||
		!strings.HasPrefix(outs[0].Reason, "POST /domains/") || strings.Contains(outs[0].Reason, "\n") {
		t.Fatalf("reason: %q\nwant it to contain %q", outs[0].Reason, want)
	}
}

// A token minted outside dcvd (a PATCH of the method) makes the published
// one useless: Poll says Failed so the next discovery publishes the new one.
func TestPollDomainTokenReplaced(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	e := newEnv(t, []string{"example.com"}, sim.Options{})
	id := e.sim.AddDomain(sim.DomainSpec{Name: "pending.example.com"})
	p := e.provider(t, func(o *certinext.Options) { o.Prevalidate = true })
	chs, err := p.Discover(ctx)
	if err != nil || len(chs) != 1 {
		t.Fatalf("%+v %v", chs, err)
	}
	if outs, err := p.Poll(ctx, chs[0].Order, chs); err != nil || outs[0].Status != providers.Pending {
		t.Fatalf("poll: %+v %v", outs, err)
	}
	e.sim.RotateToken(id)
	outs, err := p.Poll(ctx, chs[0].Order, chs)
	if err != nil || outs[0].Status != providers.Failed || !strings.Contains(outs[0].Reason, "newer DCV token") {
		t.Fatalf("poll after rotation: %+v %v", outs, err)
	}
	e.sim.Deactivate(id)
	outs, err = p.Poll(ctx, chs[0].Order, chs)
	if err != nil || outs[0].Status != providers.Failed || !strings.Contains(outs[0].Reason, "INACTIVE") {
		t.Fatalf("poll after deactivation: %+v %v", outs, err)
	}
}
