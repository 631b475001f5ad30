package digicert

import (
	"fmt"
	"testing"
)

func TestListDomains(t *testing.T) {
	s := New(Options{Keys: []string{"k"}, NoLimits: true})
	txt := s.AddDomain(DomainSpec{Name: "a.example.com"})
	done := s.AddDomain(DomainSpec{Name: "b.example.com", Validated: true})
	cname := s.AddDomain(DomainSpec{Name: "*.c.example.com", Method: "dns-cname-token", Token: "fixed"})
	mail := s.AddDomain(DomainSpec{Name: "d.example.org", Method: "email"})
	off := s.AddDomain(DomainSpec{Name: "e.example.org", Inactive: true})

	ids := func(body map[string]any) []int {
		var out []int
		for _, it := range body["domains"].([]any) {
			out = append(out, int(it.(map[string]any)["id"].(float64)))
		}
		return out
	}
	st, body := call(t, s, "k", "GET", "/domain", "")
	if st != 200 || fmt.Sprint(ids(body)) != fmt.Sprint([]int{txt, done, cname, mail, off}) {
		t.Fatalf("list all: %d %v", st, body)
	}
	if pg := body["page"].(map[string]any); pg["total"] != 5.0 || pg["offset"] != 0.0 {
		t.Errorf("page: %v", pg)
	}
	for _, it := range body["domains"].([]any) {
		m := it.(map[string]any)
		_, hasExp := m["dcv_expiration"]
		if hasExp != (int(m["id"].(float64)) == done) {
			t.Errorf("dcv_expiration present=%v for %v", hasExp, m["name"])
		}
		if m["validations"] != nil {
			t.Errorf("validations without include_validation: %v", m)
		}
	}
	if _, body := call(t, s, "k", "GET", "/domain?filters[dcv_method]=dns-txt-token", ""); fmt.Sprint(ids(body)) != fmt.Sprint([]int{txt, done, off}) {
		t.Errorf("txt filter: %v", ids(body))
	}
	if _, body := call(t, s, "k", "GET", "/domain?filters[status]=inactive", ""); fmt.Sprint(ids(body)) != fmt.Sprint([]int{off}) {
		t.Errorf("inactive filter: %v", ids(body))
	}
	if _, body := call(t, s, "k", "GET", "/domain?filters[search]=%25example.org", ""); fmt.Sprint(ids(body)) != fmt.Sprint([]int{mail, off}) {
		t.Errorf("search: %v", ids(body))
	}
	st, body = call(t, s, "k", "GET", "/domain?include_validation=true&offset=1&limit=2", "")
	if st != 200 || fmt.Sprint(ids(body)) != fmt.Sprint([]int{done, cname}) {
		t.Fatalf("page 2: %d %v", st, body)
	}
	if pg := body["page"].(map[string]any); pg["total"] != 5.0 || pg["offset"] != 1.0 || pg["limit"] != 2.0 {
		t.Errorf("page: %v", pg)
	}
	first := body["domains"].([]any)[0].(map[string]any)
	if v := first["validations"].([]any); len(v) != 2 || v[0].(map[string]any)["dcv_status"] != "complete" {
		t.Errorf("validations: %v", v)
	}
	second := body["domains"].([]any)[1].(map[string]any)
	if v := second["validations"].([]any); v[0].(map[string]any)["status"] != "pending" || second["name"] != "c.example.com" {
		t.Errorf("pending domain: %v", second)
	}
	if st, body := call(t, s, "k", "GET", "/domain?filters[dcv_method]=carrier-pigeon", ""); st != 400 || errCode(body) != "invalid_filter" {
		t.Errorf("bad filter: %d %v", st, body)
	}
	if st, body := call(t, s, "k", "GET", "/domain?limit=-1", ""); st != 400 || errCode(body) != "invalid_parameter" {
		t.Errorf("bad limit: %d %v", st, body)
	}
	_, body = call(t, s, "k", "GET", fmt.Sprintf("/domain/%d?include_dcv=true", cname), "")
	if tok := body["dcv_token"].(map[string]any); tok["token"] != "fixed" || tok["verification_value"] != "dcv.digicert.com" {
		t.Errorf("fixed token: %v", body)
	}
	if _, body := call(t, s, "k", "GET", fmt.Sprintf("/domain/%d", off), ""); body["is_active"] != false {
		t.Errorf("inactive info: %v", body)
	}
	if !s.ExpireDomainToken(txt) || s.ExpireDomainToken(1) {
		t.Error("ExpireDomainToken")
	}
}

func TestParseFileDomains(t *testing.T) {
	f, err := ParseFile([]byte(`
[[order]]
common_name = "example.com"

[[domain]]
name = "pre.example.org"
method = "dns-cname-token"
`), ".toml")
	if err != nil || len(f.AllOrders()) != 1 || len(f.AllDomains()) != 1 || f.AllDomains()[0].Method != "dns-cname-token" {
		t.Fatalf("toml: %v %+v", err, f)
	}
	s := New(Options{})
	f.Seed(s)
	if id := s.DomainByName("pre.example.org"); id == 0 {
		t.Error("seeded domain missing")
	} else if d, _ := s.Domain(id); d.Method != "dns-cname-token" || d.Token == "" || d.Validated {
		t.Errorf("seeded domain: %+v", d)
	}
	f, err = ParseFile([]byte(`{"domains": [{"name": "x.example.net", "validated": true}]}`), ".json")
	if err != nil || len(f.AllDomains()) != 1 || !f.AllDomains()[0].Validated {
		t.Fatalf("json: %v %+v", err, f)
	}
	if _, err := ParseFile([]byte(`{"domains": [{"name": ""}]}`), ".json"); err == nil {
		t.Error("nameless domain accepted")
	}
	if _, err := ParseFile([]byte("[[domain]]\nname = \"a.example\"\nmethod = \"fax\"\n"), ".toml"); err == nil {
		t.Error("bad method accepted")
	}
	if specs, err := ParseOrders([]byte("[[order]]\ncommon_name = \"a.example\"\n[[domain]]\nname = \"b.example\"\n"), ".toml"); err != nil || len(specs) != 1 {
		t.Errorf("ParseOrders with domains: %v %v", err, specs)
	}
}
