package digicert

import (
	"encoding/json"
	"log/slog"
	"os"
	"testing"

	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/digicert/internal/api"
)

// List domains: every documented item shape — numeric and string IDs,
// is_active as bool, "1" or absent, dcv_expiration absent / object / null,
// organization.is_active "1", validations with and without dcv_status.
// The documented GET /domain item shapes (internal/api/testdata/
// list-domains-shapes.json) map to the right DCV state.
func TestListDomainsStates(t *testing.T) {
	body, err := os.ReadFile("internal/api/testdata/list-domains-shapes.json")
	if err != nil {
		t.Fatal(err)
	}
	var l api.DomainList
	if err := json.Unmarshal(body, &l); err != nil {
		t.Fatal(err)
	}
	d := l.Domains
	p := &Provider{log: slog.New(slog.DiscardHandler)}
	want := []providers.Status{providers.Pending, providers.Validated, providers.Pending, providers.Pending, providers.Pending, providers.Pending}
	for i := range d {
		if got := p.dcvState(&d[i]); got != want[i] {
			t.Errorf("dcvState(%s) = %v, want %v", d[i].Name, got, want[i])
		}
	}

}

// validations decide over the other fields; unknown statuses are pending;
// an expired validated_until is pending again.
func TestDomainDCVState(t *testing.T) {
	p := &Provider{log: slog.New(slog.DiscardHandler)}
	for _, tc := range []struct {
		name string
		d    api.Domain
		want providers.Status
	}{
		{"org pending, dcv complete", api.Domain{Validations: []api.DomainValidation{{Type: "ov", Status: "pending", DCVStatus: "complete"}}}, providers.Validated},
		{"one of two pending", api.Domain{Validations: []api.DomainValidation{{Type: "ov", DCVStatus: "complete"}, {Type: "ev", DCVStatus: "pending"}}}, providers.Pending},
		{"unknown status", api.Domain{Validations: []api.DomainValidation{{Type: "ov", DCVStatus: "weird"}}}, providers.Pending},
		{"expired", api.Domain{Validations: []api.DomainValidation{{Type: "ov", DCVStatus: "complete", ValidatedUntil: "2001-01-01T00:00:00+00:00"}}}, providers.Pending},
		{"flag only", api.Domain{IsPendingValidation: true}, providers.Pending},
		{"info validated", api.Domain{DCVApprovalDatetime: "2025-01-01T00:00:00+00:00", DCVExpirationDatetime: "2099-01-01T00:00:00+00:00"}, providers.Validated},
		{"deprecated status", api.Domain{Status: "active"}, providers.Validated},
		{"nothing", api.Domain{}, providers.Pending},
	} {
		if got := p.dcvState(&tc.d); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	if !tokenExpired("2001-01-01T00:00:00+00:00") || tokenExpired("") || tokenExpired("2099-01-01T00:00:00+00:00") {
		t.Error("tokenExpired")
	}
	if id, ok := domainID(DomainOrder("42")); !ok || id != "42" {
		t.Error("domainID")
	}
	if _, ok := domainID("42"); ok {
		t.Error("order taken for a domain")
	}
}
