package api

import (
	"context"
	"strings"
	"testing"
)

func TestRequestHeaders(t *testing.T) {
	c, seen := serve(t, map[string]fixture{"GET /user/me": {200, `{"id":1,"username":"u","access_roles":[{"id":1,"name":"Administrator"}]}`, nil, ""}})
	u, err := c.Me(context.Background())
	if err != nil || u.AccessRoles[0].Name != "Administrator" {
		t.Fatalf("%+v %v", u, err)
	}
	h := seen["GET /user/me"].last.Header
	if h.Get("X-DC-DEVKEY") != "secret-key-123" {
		t.Errorf("X-DC-DEVKEY = %q", h.Get("X-DC-DEVKEY"))
	}
	if !strings.HasPrefix(h.Get("User-Agent"), "dcvd/") {
		t.Errorf("User-Agent = %q", h.Get("User-Agent"))
	}
}

func TestListOrdersQuery(t *testing.T) {
	c, seen := serve(t, map[string]fixture{"GET /order/certificate": {200, `{"orders":[{"id":1,"status":"pending","certificate":{"common_name":"a.example"}}],"page":{"total":1,"limit":50,"offset":0}}`, nil, ""}})
	l, err := c.ListOrders(context.Background(), "pending", 0, 50)
	if err != nil || len(l.Orders) != 1 || l.Orders[0].ID != "1" {
		t.Fatalf("%+v %v", l, err)
	}
	q := seen["GET /order/certificate"].last.URL
	if q.Query().Get("filters[status]") != "pending" || q.Query().Get("limit") != "50" || !strings.Contains(q.RawQuery, "filters%5Bstatus%5D=pending") {
		t.Errorf("query %s", q.RawQuery)
	}
}
