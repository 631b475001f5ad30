package digicert

import (
	"context"
	"log/slog"
	"testing"

	"github.com/dcvd/dcvd/providers"
)

// List domains: every documented item shape — numeric and string IDs,
// is_active as bool, "1" or absent, dcv_expiration absent / object / null,
// organization.is_active "1", validations with and without dcv_status.
func TestListDomainsShapes(t *testing.T) {
	c, seen := serve(t, map[string]fixture{"GET /domain": {200, `{"domains":[
		{"id":1,"is_active":true,"name":"never.example.com","date_created":"2024-01-01T00:00:00+00:00","dcv_method":"dns-txt-token",
		 "organization":{"id":7,"status":"active","name":"Org","display_name":"Org","is_active":"1"},
		 "validations":[{"type":"ov","name":"OV","status":"pending","dcv_status":"pending"}],
		 "container":{"id":5,"name":"C"}},
		{"id":"2","is_active":"1","name":"done.example.com","dcv_method":"dns-txt-token",
		 "dcv_approval_datetime":"2025-01-01 10:00:00",
		 "dcv_expiration":{"ov":"2099-01-01","ev":"2098-01-01","ov_status":"valid"},
		 "validations":[{"type":"ov","status":"active","dcv_status":"complete","validated_until":"2099-01-01T00:00:00+00:00"},
		                {"type":"ev","status":"active"}]},
		{"id":3,"name":"bare.example.com","dcv_method":"email","dcv_expiration":null},
		{"id":4,"is_active":false,"name":"off.example.com","dcv_expiration":"2001-01-01"},
		{"id":5,"is_active":0,"name":"old.example.com","dcv_expiration":{"ov":"2001-01-01","ev":"2001-01-01"}},
		{"id":6,"name":"empty.example.com","dcv_expiration":[]}
	],"page":{"total":6,"limit":0,"offset":0}}`, nil, ""}})
	l, err := c.ListDomains(context.Background(), DomainFilters{DCVMethod: "dns-txt-token", Status: "active", Search: "%example", IncludeValidation: true}, 0, 50)
	if err != nil {
		t.Fatal(err)
	}
	q := seen["GET /domain"].last.URL.Query()
	if q.Get("filters[dcv_method]") != "dns-txt-token" || q.Get("filters[status]") != "active" || q.Get("filters[search]") != "%example" ||
		q.Get("include_validation") != "true" || q.Get("offset") != "0" || q.Get("limit") != "50" {
		t.Errorf("query %v", q)
	}
	if len(l.Domains) != 6 || l.Page.Total != 6 {
		t.Fatalf("%+v", l)
	}
	d := l.Domains
	if d[0].ID != "1" || d[0].DCVExpiration != nil || d[0].Organization == nil || d[0].Organization.IsActive != "1" || !d[0].Active() {
		t.Errorf("never validated: %+v", d[0])
	}
	if d[1].ID != "2" || !d[1].Active() || d[1].DCVExpiration["ov"] != "2099-01-01" || d[1].DCVExpiration.Latest().Year() != 2099 {
		t.Errorf("validated: %+v", d[1])
	}
	if d[2].IsActive != nil || !d[2].Active() || d[2].DCVExpiration != nil {
		t.Errorf("bare: %+v", d[2])
	}
	if d[3].Active() || d[3].DCVExpiration["date"] != "2001-01-01" || d[4].Active() || d[5].DCVExpiration != nil {
		t.Errorf("inactive/odd: %+v %+v %+v", d[3], d[4], d[5])
	}

	p := &Provider{log: slog.New(slog.DiscardHandler)}
	want := []providers.Status{providers.Pending, providers.Validated, providers.Pending, providers.Pending, providers.Pending, providers.Pending}
	for i := range d {
		if got := p.dcvState(&d[i]); got != want[i] {
			t.Errorf("dcvState(%s) = %v, want %v", d[i].Name, got, want[i])
		}
	}

	// A malformed flag is a decode error naming the response, not a silent false.
	c, _ = serve(t, map[string]fixture{"GET /domain": {200, `{"domains":[{"id":1,"is_active":"maybe"}],"page":{"total":1}}`, nil, ""}})
	if _, err := c.ListDomains(context.Background(), DomainFilters{}, 0, 0); err == nil || StatusCode(err) != 200 {
		t.Errorf("bad flag: %v", err)
	}
}

// validations decide over the other fields; unknown statuses are pending;
// an expired validated_until is pending again.
func TestDomainDCVState(t *testing.T) {
	p := &Provider{log: slog.New(slog.DiscardHandler)}
	for _, tc := range []struct {
		name string
		d    Domain
		want providers.Status
	}{
		{"org pending, dcv complete", Domain{Validations: []DomainValidation{{Type: "ov", Status: "pending", DCVStatus: "complete"}}}, providers.Validated},
		{"one of two pending", Domain{Validations: []DomainValidation{{Type: "ov", DCVStatus: "complete"}, {Type: "ev", DCVStatus: "pending"}}}, providers.Pending},
		{"unknown status", Domain{Validations: []DomainValidation{{Type: "ov", DCVStatus: "weird"}}}, providers.Pending},
		{"expired", Domain{Validations: []DomainValidation{{Type: "ov", DCVStatus: "complete", ValidatedUntil: "2001-01-01T00:00:00+00:00"}}}, providers.Pending},
		{"flag only", Domain{IsPendingValidation: true}, providers.Pending},
		{"info validated", Domain{DCVApprovalDatetime: "2025-01-01T00:00:00+00:00", DCVExpirationDatetime: "2099-01-01T00:00:00+00:00"}, providers.Validated},
		{"deprecated status", Domain{Status: "active"}, providers.Validated},
		{"nothing", Domain{}, providers.Pending},
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
