package digicert

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

// call sends one request and returns status and decoded body (nil when empty).
func call(t *testing.T, h http.Handler, key, method, path, body string) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, Prefix+path, rd)
	if key != "" {
		r.Header.Set("X-DC-DEVKEY", key)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	var out map[string]any
	if b := w.Body.Bytes(); len(strings.TrimSpace(string(b))) > 0 {
		if err := json.Unmarshal(b, &out); err != nil {
			out = map[string]any{"raw": string(b)}
		}
	}
	return w.Code, out
}

func errCode(body map[string]any) string {
	errs, _ := body["errors"].([]any)
	if len(errs) == 0 {
		return ""
	}
	return errs[0].(map[string]any)["code"].(string)
}

func TestAuth(t *testing.T) {
	s := New(Options{Keys: []string{"rw"}, ViewOnlyKeys: []string{"ro"}})
	id := s.AddOrder(OrderSpec{CommonName: "example.com"})
	if st, b := call(t, s, "", "GET", "/order/certificate", ""); st != 401 || errCode(b) != "access_denied|invalid_api_key" {
		t.Errorf("no key: %d %v", st, b)
	}
	if st, b := call(t, s, "nope", "GET", "/user/me", ""); st != 401 {
		t.Errorf("bad key: %d %v", st, b)
	}
	if st, _ := call(t, s, "ro", "GET", "/order/certificate", ""); st != 200 {
		t.Errorf("view-only GET: %d", st)
	}
	if st, b := call(t, s, "ro", "PUT", fmt.Sprintf("/order/certificate/%d/check-dcv", id), ""); st != 403 || errCode(b) != "access_denied|missing_permission" {
		t.Errorf("view-only PUT: %d %v", st, b)
	}
	if st, b := call(t, s, "ro", "GET", "/user/me", ""); st != 200 || !strings.Contains(fmt.Sprint(b["access_roles"]), "View Only") {
		t.Errorf("user/me: %d %v", st, b)
	}
	if st, b := call(t, s, "rw", "GET", "/order/certificate/424242", ""); st != 404 || errCode(b) != "not_found|order" {
		t.Errorf("unknown order: %d %v", st, b)
	}
	if st, b := call(t, s, "rw", "GET", "/nothing/here", ""); st != 404 || errCode(b) != "not_found|route" {
		t.Errorf("unknown route: %d %v", st, b)
	}
	if st, _ := call(t, New(Options{}), DefaultKey, "GET", "/user/me", ""); st != 200 {
		t.Errorf("default key: %d", st)
	}
}

func TestListPagingAndShapes(t *testing.T) {
	s := New(Options{Keys: []string{"k"}})
	for i := 0; i < 7; i++ {
		s.AddOrder(OrderSpec{CommonName: fmt.Sprintf("h%d.example.com", i)})
	}
	s.AddOrder(OrderSpec{CommonName: "done.example.com", Status: "issued"})
	st, b := call(t, s, "k", "GET", "/order/certificate?filters%5Bstatus%5D=pending&offset=5&limit=3", "")
	if st != 200 {
		t.Fatal(st, b)
	}
	page := b["page"].(map[string]any)
	if page["total"].(float64) != 7 || page["offset"].(float64) != 5 || len(b["orders"].([]any)) != 2 {
		t.Errorf("page %v, %d orders", page, len(b["orders"].([]any)))
	}
	o := b["orders"].([]any)[0].(map[string]any)
	if _, isNum := o["id"].(float64); !isNum || o["certificate"].(map[string]any)["common_name"] != "h5.example.com" {
		t.Errorf("order %v", o)
	}
	if st, b := call(t, s, "k", "GET", "/order/certificate?offset=x", ""); st != 400 {
		t.Errorf("bad offset: %d %v", st, b)
	}
}

// Names of one order group as DigiCert's fqdn scope does; IDs are strings
// in the validation response.
func TestValidationGrouping(t *testing.T) {
	s := New(Options{Keys: []string{"k"}})
	id := s.AddOrder(OrderSpec{CommonName: "example.com", DNSNames: []string{"*.example.com", "www.example.com", "a.b.example.org", "b.example.org"}})
	st, b := call(t, s, "k", "GET", fmt.Sprintf("/order/certificate/%d/validation", id), "")
	if st != 200 {
		t.Fatal(st, b)
	}
	if _, ok := b["order_id"].(string); !ok {
		t.Errorf("order_id not a string: %T", b["order_id"])
	}
	nv := b["dns_name_validations"].([]any)
	if len(nv) != 2 {
		t.Fatalf("%d entries: %v", len(nv), nv)
	}
	e0 := nv[0].(map[string]any)
	if e0["name_scope"] != "example.com" || len(e0["dns_names"].([]any)) != 3 || e0["status"] != "pending" {
		t.Errorf("entry 0: %v", e0)
	}
	if _, ok := e0["domain_id"].(string); !ok {
		t.Errorf("domain_id not a string")
	}
	if e1 := nv[1].(map[string]any); e1["name_scope"] != "b.example.org" {
		t.Errorf("entry 1: %v", e1)
	}
}

func TestOrderMethodAndRandomValue(t *testing.T) {
	s := New(Options{Keys: []string{"k"}})
	id := s.AddOrder(OrderSpec{CommonName: "example.com", Method: "email"})
	p := fmt.Sprintf("/order/certificate/%d", id)
	if st, b := call(t, s, "k", "PUT", p+"/dcv-random-value", ""); st != 400 || errCode(b) != "invalid_dcv_method" {
		t.Errorf("random value on email order: %d %v", st, b)
	}
	if st, b := call(t, s, "k", "PUT", p+"/check-dcv", ""); st != 400 || errCode(b) != "invalid_dns_method" {
		t.Errorf("check-dcv on email order: %d %v", st, b)
	}
	if st, b := call(t, s, "k", "PUT", p+"/dcv-method", `{"dcv_method":`); st != 400 || errCode(b) != "bad_request_format" {
		t.Errorf("malformed body: %d %v", st, b)
	}
	if st, b := call(t, s, "k", "PUT", p+"/dcv-method", `{"dcv_method":"carrier-pigeon"}`); st != 400 || errCode(b) != "invalid_dcv_method" {
		t.Errorf("bad method: %d %v", st, b)
	}
	st, b := call(t, s, "k", "PUT", p+"/dcv-method", `{"dcv_method":"dns-txt-token"}`)
	rv, _ := b["dcv_random_value"].(string)
	if st != 200 || len(rv) != 32 || b["expiration_date"] == nil {
		t.Fatalf("switch: %d %v", st, b)
	}
	if st, b := call(t, s, "k", "PUT", p+"/dcv-random-value", ""); st != 200 || b["dcv_random_value"] != rv {
		t.Errorf("random value: %d %v (want %s)", st, b, rv)
	}
	if st, b := call(t, s, "k", "PUT", p+"/dcv-method", `{"dcv_method":"email"}`); st != 204 || b != nil {
		t.Errorf("switch to email: %d %v", st, b)
	}
	if st, _ := call(t, s, "k", "PUT", p+"/resend-emails", `{"domain_approval_emails":[{"domain":"example.com","email":"admin@example.com"}]}`); st != 204 {
		t.Errorf("resend: %d", st)
	}
	if st, b := call(t, s, "k", "PUT", p+"/resend-emails", `{"domain_approval_emails":[{"domain":"other.org","email":"admin@other.org"}]}`); st != 400 || errCode(b) != "invalid_domain" {
		t.Errorf("resend other domain: %d %v", st, b)
	}
	done := s.AddOrder(OrderSpec{CommonName: "x.example.com", Approved: []string{"x.example.com"}})
	if o, _ := s.Order(done); o.Status != "issued" {
		t.Errorf("all-approved order is %s", o.Status)
	}
	if st, b := call(t, s, "k", "PUT", fmt.Sprintf("/order/certificate/%d/dcv-random-value", done), ""); st != 400 {
		t.Errorf("random value on issued order: %d %v", st, b)
	}
}

// Rate limits with a fake clock: the 101st request within 5 s gets 429, the
// window drains, the long window holds independently.
func TestRateLimitWindows(t *testing.T) {
	var mu sync.Mutex
	now := time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)
	clock := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	advance := func(d time.Duration) { mu.Lock(); now = now.Add(d); mu.Unlock() }
	s := New(Options{Keys: []string{"a", "b"}, Now: clock})
	for i := 0; i < 100; i++ {
		if st, _ := call(t, s, "a", "GET", "/user/me", ""); st != 200 {
			t.Fatalf("request %d: %d", i, st)
		}
	}
	st, b := call(t, s, "a", "GET", "/user/me", "")
	if st != 429 || errCode(b) != "request_limit_exceeded" {
		t.Fatalf("101st: %d %v", st, b)
	}
	if st, _ := call(t, s, "b", "GET", "/user/me", ""); st != 200 {
		t.Errorf("limits are per key; b got %d", st)
	}
	advance(5 * time.Second)
	if st, _ := call(t, s, "a", "GET", "/user/me", ""); st != 200 {
		t.Errorf("after the short window drained: %d", st)
	}
	// Fill the long window: 1000 in 3 minutes.
	sent := 101
	for sent < 1000 {
		advance(5 * time.Second)
		for i := 0; i < 99 && sent < 1000; i++ {
			if st, _ := call(t, s, "a", "GET", "/user/me", ""); st != 200 {
				t.Fatalf("request %d: %d", sent, st)
			}
			sent++
		}
	}
	advance(5 * time.Second)
	if st, _ := call(t, s, "a", "GET", "/user/me", ""); st != 429 {
		t.Errorf("1001st within 3 minutes: %d", st)
	}
	if s.Rejected("a") != 2 {
		t.Errorf("rejected = %d", s.Rejected("a"))
	}
	advance(3 * time.Minute)
	if st, _ := call(t, s, "a", "GET", "/user/me", ""); st != 200 {
		t.Errorf("after the long window drained: %d", st)
	}
	if s.Requests("a", "GET /user/me") != 1003 {
		t.Errorf("counted %d", s.Requests("a", "GET /user/me"))
	}
}

func TestFaults(t *testing.T) {
	s := New(Options{Keys: []string{"k"}})
	id := s.AddOrder(OrderSpec{CommonName: "example.com"})
	s.Inject("GET", "/order/certificate/{id}", FaultServerError, 2)
	s.Inject("", fmt.Sprintf("/order/certificate/%d/validation", id), FaultMalformedJSON, 1)
	s.Inject("", "/user/me", FaultServerErrorEmpty, 1)
	s.Inject("", "/user/me", FaultRateLimit, 1)
	s.Inject("", "/user/me", FaultMalformedError, 1)
	p := fmt.Sprintf("/order/certificate/%d", id)
	for i := 0; i < 2; i++ {
		if st, b := call(t, s, "k", "GET", p, ""); st != 500 || errCode(b) != "internal_error" {
			t.Errorf("fault %d: %d %v", i, st, b)
		}
	}
	if st, _ := call(t, s, "k", "GET", p, ""); st != 200 {
		t.Errorf("after faults: %d", st)
	}
	if st, b := call(t, s, "k", "GET", p+"/validation", ""); st != 200 || b["raw"] == nil {
		t.Errorf("malformed: %d %v", st, b)
	}
	if st, b := call(t, s, "k", "GET", "/user/me", ""); st != 500 || b != nil {
		t.Errorf("empty 500: %d %v", st, b)
	}
	if st, b := call(t, s, "k", "GET", "/user/me", ""); st != 429 || errCode(b) != "request_limit_exceeded" {
		t.Errorf("429: %d %v", st, b)
	}
	if st, b := call(t, s, "k", "GET", "/user/me", ""); st != 502 || !strings.Contains(fmt.Sprint(b["raw"]), "<html>") {
		t.Errorf("html: %d %v", st, b)
	}
	if st, _ := call(t, s, "k", "GET", "/user/me", ""); st != 200 {
		t.Errorf("after faults: %d", st)
	}
}

func TestParseOrders(t *testing.T) {
	toml := `
[[order]]
common_name = "example.com"
dns_names = ["*.example.com"]

[[order]]
common_name = "example.org"
method = "dns-cname-token"
`
	specs, err := ParseOrders([]byte(toml), ".toml")
	if err != nil || len(specs) != 2 || specs[1].Method != "dns-cname-token" || specs[0].DNSNames[0] != "*.example.com" {
		t.Fatalf("%+v %v", specs, err)
	}
	specs, err = ParseOrders([]byte(`{"orders":[{"common_name":"a.example"}]}`), "")
	if err != nil || len(specs) != 1 {
		t.Fatalf("json object: %+v %v", specs, err)
	}
	specs, err = ParseOrders([]byte(`[{"common_name":"a.example","method":"email"},{"dns_names":["b.example"]}]`), ".json")
	if err != nil || len(specs) != 2 {
		t.Fatalf("json array: %+v %v", specs, err)
	}
	for _, bad := range []string{`[[order]]
common_nme = "x"`, `[[order]]
common_name = "x"
method = "fax"`, `{"orders":[{"cn":"x"}]}`} {
		if _, err := ParseOrders([]byte(bad), ""); err == nil {
			t.Errorf("accepted %q", bad)
		}
	}
}
