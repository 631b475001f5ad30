package certinext_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/internal/testenv"
	sim "github.com/dcvd/dcvd/sandbox/certinext"
	"github.com/dcvd/dcvd/sandbox/simkit"
)

type harness struct {
	t    *testing.T
	sim  *sim.Server
	url  string
	bind *testenv.BIND
	tok  string
}

func start(t *testing.T, o sim.Options) *harness {
	t.Helper()
	b := testenv.StartBIND(t, testenv.BINDOptions{Zones: []testenv.BINDZone{{Name: "example.com"}, {Name: "example.net"}}})
	o.DNSServers = []string{b.Addr}
	s := sim.New(o)
	srv := httptest.NewServer(s)
	t.Cleanup(srv.Close)
	h := &harness{t: t, sim: s, url: srv.URL, bind: b}
	var tr map[string]any
	if st := h.form(url.Values{"grant_type": {"client_credentials"}, "client_id": {sim.DefaultAccount}, "client_secret": {sim.DefaultSecret}}, &tr); st != 200 {
		t.Fatalf("mint: %d %v", st, tr)
	}
	h.tok = tr["access_token"].(string)
	return h
}

func (h *harness) form(v url.Values, out any) int {
	h.t.Helper()
	resp, err := http.PostForm(h.url+"/oauth/token", v)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	json.NewDecoder(resp.Body).Decode(out)
	return resp.StatusCode
}

// do calls the API and decodes the JSON answer into out (any body).
func (h *harness) do(method, path string, in, out any) int {
	h.t.Helper()
	var body io.Reader
	if in != nil {
		b, _ := json.Marshal(in)
		body = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.url+sim.Prefix+path, body)
	req.Header.Set("Authorization", "Bearer "+h.tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	if out != nil && len(raw) > 0 {
		if err := json.Unmarshal(raw, out); err != nil {
			h.t.Fatalf("%s %s: %d %q: %v", method, path, resp.StatusCode, raw, err)
		}
	}
	return resp.StatusCode
}

func (h *harness) publish(zone, owner, value string) {
	h.t.Helper()
	m := new(dns.Msg)
	m.SetUpdate(dns.Fqdn(zone))
	rr, err := dns.NewRR(fmt.Sprintf("%s 60 IN TXT %q", dns.Fqdn(owner), value))
	if err != nil {
		h.t.Fatal(err)
	}
	m.Insert([]dns.RR{rr})
	m.SetTsig(h.bind.Key.Name, h.bind.Key.Algorithm, 300, time.Now().Unix())
	c := &dns.Client{TsigSecret: map[string]string{h.bind.Key.Name: h.bind.Key.Secret}}
	if r, _, err := c.Exchange(m, h.bind.Addr); err != nil || r.Rcode != dns.RcodeSuccess {
		h.t.Fatalf("update: %v %v", err, r)
	}
}

func TestOAuth(t *testing.T) {
	h := start(t, sim.Options{AccessTTL: time.Hour})
	var e map[string]any
	if st := h.form(url.Values{"grant_type": {"client_credentials"}, "client_id": {sim.DefaultAccount}, "client_secret": {"wrong"}}, &e); st != 401 || e["error"] != "invalid_client" {
		t.Fatalf("wrong secret: %d %v", st, e)
	}
	var tr map[string]any
	h.form(url.Values{"grant_type": {"client_credentials"}, "client_id": {sim.DefaultAccount}, "client_secret": {sim.DefaultSecret}}, &tr)
	rt := tr["refresh_token"].(string)
	var tr2 map[string]any
	if st := h.form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, &tr2); st != 200 || tr2["refresh_token"] == rt {
		t.Fatalf("refresh: %d %v", st, tr2)
	}
	// Rotated: the old refresh token is refused.
	if st := h.form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {rt}}, &e); st != 400 || e["error"] != "invalid_grant" {
		t.Fatalf("reused refresh token: %d %v", st, e)
	}
	var me map[string]string
	if st := h.do("GET", "/auth/me", nil, &me); st != 200 || me["accountNumber"] != sim.DefaultAccount {
		t.Fatalf("me: %d %v", st, me)
	}
	h.sim.ExpireTokens()
	if st := h.do("GET", "/auth/me", nil, &e); st != 401 || e["status"] != float64(401) {
		t.Fatalf("after expiry: %d %v", st, e)
	}
	h.sim.RefuseRefresh()
	if st := h.form(url.Values{"grant_type": {"refresh_token"}, "refresh_token": {tr2["refresh_token"].(string)}}, &e); st != 400 {
		t.Fatalf("refused refresh: %d %v", st, e)
	}
}

func TestDomainDCV(t *testing.T) {
	h := start(t, sim.Options{DNSServers: nil})
	var d map[string]any
	if st := h.do("POST", "/domains", map[string]string{"name": "shop.example.com"}, &d); st != 201 || d["dcvStatus"] != "PENDING" {
		t.Fatalf("add: %d %v", st, d)
	}
	id := d["domainId"].(string)
	var dup map[string]any
	if st := h.do("POST", "/domains", map[string]string{"name": "shop.example.com"}, &dup); st != 409 || dup["existingDomainId"] != id {
		t.Fatalf("duplicate: %d %v", st, dup)
	}
	// The same Idempotency-Key repeats the first create's answer.
	for i := range 2 {
		req, _ := http.NewRequest("POST", h.url+sim.Prefix+"/domains", strings.NewReader(`{"name":"idem.example.com"}`))
		req.Header.Set("Authorization", "Bearer "+h.tok)
		req.Header.Set("Idempotency-Key", "6f1c8a52-2a4e-4c55-9d67-0d6b1a4b2f10")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		json.NewDecoder(resp.Body).Decode(&got)
		resp.Body.Close()
		if d, _ := h.sim.Domain("idem.example.com"); resp.StatusCode != 201 || got["domainId"] != d.ID {
			t.Fatalf("idempotent create %d: %d %v", i, resp.StatusCode, got)
		}
	}
	var dcv map[string]any
	h.do("GET", "/domains/"+id+"/dcv", nil, &dcv)
	token := dcv["token"].(string)
	if dcv["host"] != sim.DefaultLabel || token == "" {
		t.Fatalf("dcv: %v", dcv)
	}
	var again map[string]any
	if h.do("GET", "/domains/"+id+"/dcv", nil, &again); again["token"] != token {
		t.Fatalf("token changed on second read: %v", again)
	}
	// Not published: 422 with diagnostics, attempt recorded.
	var fail map[string]any
	if st := h.do("POST", "/domains/"+id+"/dcv/verify", nil, &fail); st != 422 || fail["overallStatus"] != "FAILED" {
		t.Fatalf("verify before publish: %d %v", st, fail)
	}
	diag := fail["diagnostics"].(map[string]any)
	exp := diag["expected"].(map[string]any)
	if diag["failureClass"] != "RECORD_NOT_FOUND" || exp["domainName"] != "_emudhra-challenge.shop.example.com" || exp["recordValue"] != token {
		t.Fatalf("diagnostics: %v", diag)
	}
	// The wrong owner (apex) does not count.
	h.publish("example.com", "shop.example.com", token)
	if st := h.do("POST", "/domains/"+id+"/dcv/verify", nil, &fail); st != 422 {
		t.Fatalf("verify at apex: %d", st)
	}
	h.publish("example.com", "_emudhra-challenge.shop.example.com", token)
	var ok map[string]any
	if st := h.do("POST", "/domains/"+id+"/dcv/verify", nil, &ok); st != 200 || ok["status"] != "VERIFIED" {
		t.Fatalf("verify: %d %v", st, ok)
	}
	var hist map[string]any
	h.do("GET", "/domains/"+id+"/dcv/attempts", nil, &hist)
	if hist["totalElements"] != float64(3) {
		t.Fatalf("history: %v", hist)
	}
	var last map[string]any
	if h.do("GET", "/domains/"+id+"/dcv/attempts/last", nil, &last); last["status"] != "VERIFIED" {
		t.Fatalf("last: %v", last)
	}
	// PATCH mints a fresh token even for the same method.
	id2 := h.sim.AddDomain(sim.DomainSpec{Name: "mail.example.com", Method: "email"})
	var m map[string]any
	h.do("PATCH", "/domains/"+id2+"/dcv/method", map[string]string{"dcvMethod": "dns-txt"}, &m)
	first := m["token"]
	h.do("PATCH", "/domains/"+id2+"/dcv/method", map[string]string{"dcvMethod": "dns-txt"}, &m)
	if first == nil || m["token"] == first {
		t.Fatalf("PATCH did not mint a new token: %v then %v", first, m["token"])
	}
	if st := h.do("POST", "/domains/"+id2+"/deactivate", nil, &m); st != 200 || m["status"] != "INACTIVE" {
		t.Fatalf("deactivate: %d %v", st, m)
	}
}

// Unsorted offset paging skips and repeats rows; sorted paging does not.
func TestDomainPaging(t *testing.T) {
	h := start(t, sim.Options{})
	for i := range 30 {
		h.sim.AddDomain(sim.DomainSpec{Name: fmt.Sprintf("d%02d.example.com", i)})
	}
	collect := func(q string) map[string]int {
		seen := map[string]int{}
		for off := 0; off < 30; off += 7 {
			var p struct {
				Content []map[string]any `json:"content"`
			}
			h.do("GET", fmt.Sprintf("/domains?offset=%d&limit=7%s", off, q), nil, &p)
			for _, d := range p.Content {
				seen[d["domainName"].(string)]++
			}
		}
		return seen
	}
	if s := collect("&sortBy=domainName&sortDir=asc"); len(s) != 30 {
		t.Fatalf("sorted paging saw %d distinct domains", len(s))
	}
	if s := collect(""); len(s) == 30 {
		t.Fatalf("unsorted paging saw every domain exactly: the simulator should be unstable")
	}
	if st := h.do("GET", "/domains?dcvStatus=EXPIRED", nil, nil); st != 400 {
		t.Fatalf("dcvStatus=EXPIRED: %d", st)
	}
	h2 := start(t, sim.Options{BareLists: true})
	h2.sim.AddDomain(sim.DomainSpec{Name: "a.example.com"})
	var arr []map[string]any
	if st := h2.do("GET", "/domains?sortBy=domainName", nil, &arr); st != 200 || len(arr) != 1 {
		t.Fatalf("bare list: %d %v", st, arr)
	}
}

func TestOrderDCV(t *testing.T) {
	for _, shape := range []sim.OrderShape{sim.OrderFlat, sim.OrderChallenges, sim.OrderList} {
		t.Run(fmt.Sprint(shape), func(t *testing.T) {
			h := start(t, sim.Options{OrderShape: shape})
			h.sim.AddDomain(sim.DomainSpec{Name: "example.net", Verified: true})
			id := h.sim.AddOrder(sim.OrderSpec{Domain: "example.com", AdditionalDomains: []string{"*.example.com", "www.example.net"}})
			var o map[string]any
			h.do("GET", "/ssl-certificates/"+id, nil, &o)
			doms := o["verifications"].(map[string]any)["domain"].(map[string]any)["domains"].([]any)
			if len(doms) != 3 || doms[2].(map[string]any)["dcvStatus"] != "VERIFIED" || doms[0].(map[string]any)["dcvStatus"] != "PENDING" {
				t.Fatalf("order: %v", doms)
			}
			var raw json.RawMessage
			h.do("GET", "/ssl-certificates/"+id+"/dcv?domain=example.com", nil, &raw)
			tok := h.sim.OrderToken(id, "example.com")
			if !strings.Contains(string(raw), tok) {
				t.Fatalf("dcv body %s lacks token %s", raw, tok)
			}
			var fail map[string]any
			if st := h.do("POST", "/ssl-certificates/"+id+"/dcv/verify", map[string]string{"domain": "example.com", "method": "dns-txt"}, &fail); st != 422 || fail["overallStatus"] != "FAILED" {
				t.Fatalf("verify before publish: %d %v", st, fail)
			}
			h.publish("example.com", "_emudhra-challenge.example.com", tok)
			var ok map[string]any
			if st := h.do("POST", "/ssl-certificates/"+id+"/dcv/verify", map[string]string{"domain": "example.com", "method": "dns-txt"}, &ok); st != 200 || ok["overallStatus"] != "VERIFIED" {
				t.Fatalf("verify: %d %v", st, ok)
			}
			if st, _ := h.sim.Order(id); st.Status != "issued" {
				t.Fatalf("order status %q", st.Status)
			}
		})
	}
}

func TestFaultsAndLimits(t *testing.T) {
	h := start(t, sim.Options{Limits: []sim.Limit{{N: 3, Window: time.Hour}}})
	h.sim.Inject("GET", "/auth/me", simkit.RateLimit, 1)
	req, _ := http.NewRequest("GET", h.url+sim.Prefix+"/auth/me", nil)
	req.Header.Set("Authorization", "Bearer "+h.tok)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "1" || resp.Header.Get("Content-Type") != "application/problem+json" {
		t.Fatalf("fault: %d %v", resp.StatusCode, resp.Header)
	}
	// A truncated body after the call took effect: the domain exists.
	h.sim.Inject("POST", "/domains", simkit.Truncated, 1)
	var d map[string]any
	req, _ = http.NewRequest("POST", h.url+sim.Prefix+"/domains", strings.NewReader(`{"name":"cut.example.com"}`))
	req.Header.Set("Authorization", "Bearer "+h.tok)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.NewDecoder(resp.Body).Decode(&d); err == nil {
		t.Fatalf("truncated body decoded: %v", d)
	}
	resp.Body.Close()
	if _, ok := h.sim.Domain("cut.example.com"); !ok {
		t.Fatal("truncated add did not take effect")
	}
	// Limit: 3 per hour; the add above was the first accepted call.
	h.do("GET", "/auth/me", nil, nil)
	h.do("GET", "/auth/me", nil, nil)
	if st := h.do("GET", "/auth/me", nil, nil); st != 429 || h.sim.Denied(sim.DefaultAccount) != 1 {
		t.Fatalf("limit: %d denied %d", st, h.sim.Denied(sim.DefaultAccount))
	}
}
