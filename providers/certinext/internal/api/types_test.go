package api

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcvd/dcvd/internal/apiclient"
)

func fixture(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func decode[T any](t *testing.T, name string) T {
	t.Helper()
	var v T
	if err := json.Unmarshal(fixture(t, name), &v); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return v
}

// Every fixture in testdata is read by a test below.
func TestEveryFixtureIsCovered(t *testing.T) {
	src, _ := os.ReadFile("types_test.go")
	ents, _ := os.ReadDir("testdata")
	for _, e := range ents {
		if !strings.Contains(string(src), `"`+e.Name()+`"`) {
			t.Errorf("fixture %s is not decoded by any test", e.Name())
		}
	}
}

func TestTokenShapes(t *testing.T) {
	tr := decode[TokenResponse](t, "token.json")
	if tr.AccessToken == "" || tr.ExpiresIn != "3600" || tr.RefreshToken != "rt-sanitised" || tr.TokenType != "Bearer" {
		t.Errorf("token.json: %+v", tr)
	}
	tr = decode[TokenResponse](t, "token-no-refresh.json")
	if tr.ExpiresIn != "3600" || tr.RefreshToken != "" {
		t.Errorf("token-no-refresh.json: %+v", tr)
	}
}

func TestErrorShapes(t *testing.T) {
	for _, tc := range []struct {
		file   string
		status int
		want   []apiclient.Code
	}{
		{"error-oauth-invalid-client.json", 401, []apiclient.Code{{Code: "invalid_client", Message: "Client authentication failed"}}},
		{"error-problem-validation.json", 400, []apiclient.Code{{Code: "Bad Request", Message: "validation failed"}, {Code: "name", Message: "must not be blank"}}},
		{"error-problem-409-existing.json", 409, []apiclient.Code{{Code: "Conflict", Message: "domain example.com already exists in this account"},
			{Code: CodeExistingDomain, Message: "Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4Zm9vYmFyYmF6cXV4"}}},
		{"error-problem-409-bare.json", 409, []apiclient.Code{{Code: "Conflict", Message: "domain example.com already exists in this account"}}},
		{"error-spring-default.json", 400, []apiclient.Code{{Code: "Bad Request", Message: "Agreement already signed (EMS-1082)"}, {Code: "EMS-1082"}}},
		{"error-text-ems.txt", 400, []apiclient.Code{{Code: "EMS-1082", Message: "Request rejected: EMS-1082 agreement details already captured"}}},
	} {
		codes, err := DecodeError(tc.status, fixture(t, tc.file))
		if err != nil {
			t.Errorf("%s: %v", tc.file, err)
			continue
		}
		if len(codes) != len(tc.want) {
			t.Errorf("%s: %+v, want %+v", tc.file, codes, tc.want)
			continue
		}
		for i := range codes {
			if codes[i] != tc.want[i] {
				t.Errorf("%s: code %d = %+v, want %+v", tc.file, i, codes[i], tc.want[i])
			}
		}
	}
	if _, err := DecodeError(502, []byte("<html>502 Bad Gateway</html>")); err == nil || !strings.Contains(err.Error(), "not JSON") {
		t.Errorf("html body: %v", err)
	}
	e := &apiclient.Error{Service: "certinext", Codes: []apiclient.Code{{Code: CodeExistingDomain, Message: "id-1"}}}
	if ExistingDomainID(e) != "id-1" {
		t.Error("ExistingDomainID")
	}
}

func TestDomainListShapes(t *testing.T) {
	p := decode[Page[Domain]](t, "domains-page.json")
	if p.Bare || len(p.Content) != 2 || p.TotalElements != 2 || p.Size != 50 {
		t.Fatalf("domains-page.json: %+v", p)
	}
	d := p.Content[1]
	if d.DomainName != "shop.example.org" || d.DCVStatus != "PENDING" || d.OrganizationID != "77" || !d.VerifiedAt.Time().IsZero() {
		t.Errorf("pending domain: %+v", d)
	}
	if v := p.Content[0]; v.ValidTill.Time().IsZero() || v.VerifiedAt.Time().IsZero() {
		t.Errorf("verified domain: %+v", v)
	}
	b := decode[Page[Domain]](t, "domains-bare.json")
	if !b.Bare || len(b.Content) != 1 || b.Content[0].DomainID == "" {
		t.Errorf("domains-bare.json: %+v", b)
	}
	n := decode[Page[Domain]](t, "domains-spring-number.json")
	if n.Page != 3 || n.TotalPages != 9 || len(n.Content) != 1 {
		t.Errorf("domains-spring-number.json: %+v", n)
	}
	v := decode[Domain](t, "domain-view.json")
	if v.Method() != MethodDNSTXT || v.Status != "ACTIVE" {
		t.Errorf("domain-view.json: %+v", v)
	}
}

func TestDomainDCVShapes(t *testing.T) {
	for _, tc := range []struct {
		file                      string
		method, value, host, expi string
	}{
		{"domain-dcv-verified.json", "dns-txt", "", "", ""},
		{"domain-dcv-token-host.json", "dns-txt", "tok-token-host", "_emudhra-challenge", "2026-06-01T00:00:00Z"},
		{"domain-dcv-txttoken-dnshost.json", "dns-txt", "tok-txttoken", "_emudhra-challenge.shop.example.org", "2026-06-01T00:00:00Z"},
		{"domain-dcv-dnscontents.json", "dns-txt", "tok-dnscontents", "", "2026-06-01T00:00:00Z"},
		{"domain-dcv-filetoken.json", "http-url", "tok-file", "", "2026-06-01T00:00:00Z"},
		{"domain-dcv-email.json", "email", "", "", ""},
	} {
		c := decode[Challenge](t, tc.file)
		if c.Method != tc.method || c.Value != tc.value || c.Host != tc.host || string(c.Expiry) != tc.expi {
			t.Errorf("%s: %+v", tc.file, c)
		}
	}
}

func TestOrderDCVShapes(t *testing.T) {
	for _, tc := range []struct {
		file    string
		domains []string
		values  []string
		hosts   []string
	}{
		{"order-dcv-flat.json", []string{""}, []string{"tok-order-flat"}, []string{""}},
		{"order-dcv-prose.json", []string{""}, []string{"tok-order-prose"}, []string{""}},
		{"order-dcv-vendor-example.json", []string{"www.example.com"}, []string{"tok-vendor-example"}, []string{""}},
		{"order-dcv-challenges.json", []string{"example.com", "www.example.com"}, []string{"tok-apex", "tok-www"},
			[]string{"_emudhra-challenge.example.com", "_emudhra-challenge.www.example.com"}},
		{"order-dcv-list.json", []string{"*.example.com"}, []string{"tok-wild"}, []string{"_emudhra-challenge"}},
	} {
		list, err := DecodeOrderChallenges(fixture(t, tc.file))
		if err != nil || len(list) != len(tc.values) {
			t.Errorf("%s: %+v %v", tc.file, list, err)
			continue
		}
		for i, c := range list {
			if c.Domain != tc.domains[i] || c.Value != tc.values[i] || c.Host != tc.hosts[i] {
				t.Errorf("%s[%d]: %+v", tc.file, i, c)
			}
		}
	}
	if c := decode[Challenge](t, "order-dcv-vendor-example.json"); c.Method != "dns-txt" {
		t.Errorf("dcvMethod alias lower-cased: %q", c.Method)
	}
	if _, err := DecodeOrderChallenges([]byte(`{"token": 5`)); err == nil {
		t.Error("truncated body decoded")
	}
}

func TestVerifyShapes(t *testing.T) {
	v := decode[VerifyResult](t, "verify-order-200.json")
	if v.Verdict() != "VERIFIED" || v.VerifiedAt.Time().IsZero() {
		t.Errorf("verify-order-200.json: %+v", v)
	}
	if (&VerifyResult{NoContent: true}).Verdict() != "VERIFIED" {
		t.Error("204 verdict")
	}
	p := decode[Problem](t, "verify-order-422.json")
	if p.OverallStatus != "FAILED" || p.Diagnostics != nil {
		t.Errorf("verify-order-422.json: %+v", p)
	}
	f := &VerifyFailed{Path: "/ssl-certificates/4411/dcv/verify", Problem: p}
	if f.Error() != `certinext: POST /ssl-certificates/4411/dcv/verify: 422 "DCV verification failed"` {
		t.Errorf("one line: %s", f.Error())
	}
	p = decode[Problem](t, "verify-domain-422.json")
	d := p.Diagnostics
	if d == nil || d.FailureClass != "RECORD_NOT_FOUND" || d.Expected.DomainName != "_emudhra-challenge.shop.example.org" || len(d.Perspectives) != 1 {
		t.Fatalf("verify-domain-422.json: %+v", p)
	}
	want := `attempt 2026-05-12T09:14:03Z FAILED (RECORD_NOT_FOUND): expected TXT _emudhra-challenge.shop.example.org "tok-txttoken"; 0/4 perspectives agreed`
	if d.Summary() != want {
		t.Errorf("summary:\n got %s\nwant %s", d.Summary(), want)
	}
	last := decode[LastAttempt](t, "attempts-last.json")
	if last.Status != "VERIFIED" || last.Diagnostics.Consensus.Agreed != "true" || last.Diagnostics.Consensus.QuorumCount != "3" ||
		last.Diagnostics.SchemaVersion != "1" || len(last.Diagnostics.NextSteps) != 1 {
		t.Errorf("attempts-last.json: %+v", last)
	}
	if s := last.Diagnostics.Summary(); !strings.Contains(s, "4/4 perspectives agreed") {
		t.Errorf("summary with boolean agreed: %s", s)
	}
	ap := decode[Page[Attempt]](t, "attempts-page.json")
	if len(ap.Content) != 2 || ap.Content[1].AttemptID != "1" || ap.Content[0].FailureClass != "RECORD_NOT_FOUND" {
		t.Errorf("attempts-page.json: %+v", ap)
	}
}

func TestOrderShapes(t *testing.T) {
	p := decode[Page[OrderSummary]](t, "orders-report-page.json")
	if len(p.Content) != 2 || p.Content[1].OrderID != "4412" || p.Content[1].RequestID != "99" || p.Content[0].Status != "pending-dcv" {
		t.Errorf("orders-report-page.json: %+v", p)
	}
	o := decode[Order](t, "order-detail.json")
	ds := o.Verifications.Domain.Domains
	if o.Status != "pending-dcv" || len(ds) != 3 || ds[0].DCVMethod != "dns-txt" || ds[1].DCVMethod != "" || ds[2].DCVStatus != "REJECTED" {
		t.Errorf("order-detail.json: %+v", o)
	}
}

// Validation dates in every form read defensively (spec §3: RFC 3339 UTC is
// CONFIRMED; the rest INFERRED): offsets and fractions, a local date-time
// taken as UTC, a bare date as its first instant, validTill absent or
// unreadable as unknown (zero: never due for revalidation). A domain whose
// dcvStatus went back to PENDING keeps its dates.
func TestDomainValidationDates(t *testing.T) {
	p := decode[Page[Domain]](t, "domains-revalidation.json")
	exp := time.Date(2026, 10, 17, 11, 0, 0, 0, time.UTC)
	want := map[string]time.Time{
		"rfc3339.example.com":      exp,
		"fraction.example.com":     exp.Add(123 * time.Millisecond),
		"local.example.com":        exp,
		"date.example.com":         time.Date(2026, 10, 17, 0, 0, 0, 0, time.UTC),
		"no-validtill.example.com": {},
		"reopened.example.com":     exp,
		"garbled.example.com":      {},
	}
	if len(p.Content) != len(want) {
		t.Fatalf("domains-revalidation.json: %d domains", len(p.Content))
	}
	for _, d := range p.Content {
		w, ok := want[d.DomainName]
		if !ok || !d.Expiry().Equal(w) || (d.Expiry().Location() != time.UTC && !w.IsZero()) {
			t.Errorf("%s: Expiry() = %v, want %v", d.DomainName, d.Expiry(), w)
		}
		if v := d.Verified(); (v.IsZero()) != (d.DomainName == "garbled.example.com") {
			t.Errorf("%s: Verified() = %v", d.DomainName, v)
		}
	}
}
