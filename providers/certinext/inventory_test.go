package certinext_test

import (
	"context"
	"testing"

	"github.com/dcvd/dcvd/providers"
	sim "github.com/dcvd/dcvd/sandbox/certinext"
)

// The inventory lists every account domain from the simulator: a verified
// one valid with validTill as its expiry, a pending one with its reason.
func TestDomainsInventory(t *testing.T) {
	e := newEnv(t, []string{"example.com"}, sim.Options{})
	e.sim.AddDomain(sim.DomainSpec{Name: "ok.example.com", Verified: true})
	e.sim.AddDomain(sim.DomainSpec{Name: "new.example.com"})
	p := e.provider(t, nil)
	list, err := p.Domains(context.Background())
	if err != nil || len(list) != 2 {
		t.Fatalf("domains = %+v, %v", list, err)
	}
	got := map[string]providers.Domain{}
	for _, d := range list {
		got[d.Name] = d
	}
	ok := got["ok.example.com"]
	if ok.Status != providers.DomainValid || ok.Expires.IsZero() || ok.Validated.IsZero() || ok.Expires.Sub(ok.Validated).Hours() != 199*24 || ok.ID == "" || ok.Reason != "" {
		t.Errorf("verified domain: %+v", ok)
	}
	if n := got["new.example.com"]; n.Status != providers.DomainPending || n.Reason == "" || !n.Expires.IsZero() {
		t.Errorf("pending domain: %+v", n)
	}
}
