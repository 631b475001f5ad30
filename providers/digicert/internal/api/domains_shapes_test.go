package api

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"sync/atomic"
	"testing"

	"github.com/dcvd/dcvd/internal/apiclient"
)

// testdata/list-domains-shapes.json holds every documented item shape of GET /domain —
// numeric and string IDs, is_active as bool, "1" or absent, dcv_expiration
// absent / object / null, organization.is_active "1", validations with and
// without dcv_status.

func TestListDomainsShapes(t *testing.T) {
	body, err := os.ReadFile("testdata/list-domains-shapes.json")
	if err != nil {
		t.Fatal(err)
	}
	c, seen := serve(t, map[string]fixture{"GET /domain": {200, string(body), nil, ""}})
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

	// A malformed flag is a decode error naming the response, not a silent false.
	c, _ = serve(t, map[string]fixture{"GET /domain": {200, `{"domains":[{"id":1,"is_active":"maybe"}],"page":{"total":1}}`, nil, ""}})
	if _, err := c.ListDomains(context.Background(), DomainFilters{}, 0, 0); err == nil || apiclient.StatusOf(err) != 200 {
		t.Errorf("bad flag: %v", err)
	}
}

// A server that ignores offset and reports an absurd total is read until a
// page brings nothing new, not until the total: the domain list is read
// twice and each domain handed over once.
func TestEachDomainStopsOnRepeatedPage(t *testing.T) {
	var reads atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reads.Add(1)
		w.Write([]byte(`{"domains":[{"id":1,"name":"a.example"},{"name":"no-id.example"}],"page":{"total":1000000000}}`))
	}))
	defer srv.Close()
	c := New(Config{BaseURL: srv.URL, Key: "k"})
	pages, got := 0, []string{}
	err := c.EachDomain(context.Background(), DomainFilters{}, 2, func(page []Domain) error {
		pages++
		for _, d := range page {
			got = append(got, d.Name)
		}
		return nil
	})
	if err != nil || pages != 1 || len(got) != 2 || reads.Load() != 2 {
		t.Fatalf("EachDomain: %v, %d pages handed over, domains %v, %d reads; want nil, 1, both once, 2 reads", err, pages, got, reads.Load())
	}
}
