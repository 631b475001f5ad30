package webnic

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/sandbox/simkit"
)

// client is a test caller holding a token.
type client struct {
	t     *testing.T
	s     *Server
	token string
	addr  string // RemoteAddr
}

func newClient(t *testing.T, s *Server) *client {
	c := &client{t: t, s: s, addr: "127.0.0.1:40000"}
	st, b := c.do("POST", "/reseller/v2/api-user/token", fmt.Sprintf(`{"username":%q,"password":%q}`, DefaultUser, DefaultPassword))
	if st != 200 || b["code"] != "1000" {
		t.Fatalf("token: %d %v", st, b)
	}
	data := b["data"].(map[string]any)
	if data["expires_in"] != float64(s.opts.TokenLifetime/time.Second) {
		t.Errorf("expires_in %v", data["expires_in"])
	}
	c.token = data["access_token"].(string)
	return c
}

// do sends one request and returns the status and decoded body.
func (c *client) do(method, path, body string) (int, map[string]any) {
	c.t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, path, rd)
	r.RemoteAddr = c.addr
	if c.token != "" {
		r.Header.Set("Authorization", "Bearer "+c.token)
	}
	w := httptest.NewRecorder()
	c.s.ServeHTTP(w, r)
	var out map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		out = map[string]any{"raw": w.Body.String()}
	}
	if ra := w.Header().Get("Retry-After"); ra != "" {
		out["Retry-After"] = ra
	}
	return w.Code, out
}

func subCode(b map[string]any) string {
	e, _ := b["error"].(map[string]any)
	s, _ := e["subCode"].(string)
	return s
}

func TestTokenAndAccess(t *testing.T) {
	s := New(Options{AllowedIPs: []string{"127.0.0.9"}})
	if s.opts.TokenLifetime != time.Hour {
		t.Errorf("default lifetime %s", s.opts.TokenLifetime)
	}
	c := &client{t: t, s: s, addr: "127.0.0.1:1"}
	if st, b := c.do("POST", "/reseller/v2/api-user/token", `{"username":"nobody","password":"x"}`); st != 500 || subCode(b) != "RES5001" || b["code"] != "5000" {
		t.Errorf("wrong username: %d %v", st, b)
	}
	if st, b := c.do("POST", "/reseller/v2/api-user/token", fmt.Sprintf(`{"username":%q,"password":"wrong"}`, DefaultUser)); st != 401 || subCode(b) != "RES4012" {
		t.Errorf("wrong password: %d %v", st, b)
	}
	if st, b := c.do("POST", "/reseller/v2/api-user/token", `{"username":`); st != 400 || subCode(b) != "SSL4002" {
		t.Errorf("malformed body: %d %v", st, b)
	}
	if st, b := c.do("POST", "/reseller/v2/api-user/token", `{}`); st != 400 || b["fieldErrors"] == nil {
		t.Errorf("missing fields: %d %v", st, b)
	}
	// The token call is not IP-gated; the next call is.
	c = newClient(t, s)
	if st, b := c.do("POST", "/ssl/v2/orders/search", `{}`); st != 403 || subCode(b) != "RES0004" {
		t.Errorf("not allow-listed: %d %v", st, b)
	}
	c.addr = "127.0.0.9:5"
	if st, b := c.do("POST", "/ssl/v2/orders/search", `{}`); st != 200 || b["code"] != "1000" {
		t.Errorf("allow-listed: %d %v", st, b)
	}
	// No token, an unknown one, an expired one.
	tok := c.token
	c.token = ""
	if st, _ := c.do("POST", "/ssl/v2/orders/search", `{}`); st != 401 {
		t.Errorf("no token: %d", st)
	}
	c.token = "forged"
	if st, _ := c.do("POST", "/ssl/v2/orders/search", `{}`); st != 401 {
		t.Errorf("forged token: %d", st)
	}
	c.token = tok
	s.ExpireTokens()
	if st, _ := c.do("POST", "/ssl/v2/orders/search", `{}`); st != 401 {
		t.Errorf("expired token: %d", st)
	}
	if st, b := c.do("GET", "/ssl/v2/nothing", ""); st != 404 || b["error"] != "Not Found" {
		t.Errorf("unknown path: %d %v", st, b)
	}
}

func TestTokenLifetime(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := New(Options{Now: func() time.Time { return now }, TokenLifetime: time.Minute})
	c := newClient(t, s)
	if st, _ := c.do("POST", "/ssl/v2/orders/search", `{}`); st != 200 {
		t.Fatalf("fresh token: %d", st)
	}
	now = now.Add(time.Minute)
	if st, b := c.do("POST", "/ssl/v2/orders/search", `{}`); st != 401 || subCode(b) != "RES4011" {
		t.Errorf("after lifetime: %d %v", st, b)
	}
}

func TestSearchPagingAndFilters(t *testing.T) {
	s := New(Options{StringIDs: true})
	for i := 0; i < 7; i++ {
		s.AddOrder(OrderSpec{CommonName: fmt.Sprintf("h%d.example.com", i)})
	}
	s.AddOrder(OrderSpec{CommonName: "done.example.com", OrderStatus: "COMPLETED"})
	s.AddOrder(OrderSpec{CommonName: "ip.example.com", OrderStatus: "IN_PROCESS"})
	c := newClient(t, s)
	st, b := c.do("POST", "/ssl/v2/orders/search", `{"filters":[{"field":"orderStatus","operator":"EQUAL","value":"PENDING"}],"pagination":{"page":2,"pageSize":3}}`)
	data := b["data"].(map[string]any)
	items := data["items"].([]any)
	if st != 200 || data["totalItems"] != float64(7) || data["totalPages"] != float64(3) || len(items) != 3 {
		t.Fatalf("page 2: %d %v", st, b)
	}
	first := items[0].(map[string]any)
	if first["commonName"] != "h3.example.com" || first["orderId"] != "880004" || first["certStatus"] != "INITIAL" {
		t.Errorf("item: %v", first)
	}
	_, b = c.do("POST", "/ssl/v2/orders/search", `{"filters":[{"field":"orderStatus","operator":"IN","value":["COMPLETED","IN_PROCESS"]}],"pagination":{"page":1,"pageSize":100}}`)
	if n := b["data"].(map[string]any)["totalItems"]; n != float64(2) {
		t.Errorf("IN filter: %v", b)
	}
	_, b = c.do("POST", "/ssl/v2/orders/search", `{"filters":[{"field":"commonName","operator":"LIKE","value":"DONE"}]}`)
	if n := b["data"].(map[string]any)["totalItems"]; n != float64(1) {
		t.Errorf("LIKE filter: %v", b)
	}
	if st, b := c.do("POST", "/ssl/v2/orders/search", `{"pagination":{"page":1,"pageSize":101}}`); st != 400 || b["fieldErrors"] == nil {
		t.Errorf("page size over max: %d %v", st, b)
	}
	if st, _ := c.do("POST", "/ssl/v2/orders/search", `{"filters":[{"field":"color","operator":"EQUAL","value":"x"}]}`); st != 400 {
		t.Errorf("unknown field: %d", st)
	}
}

func TestAuthInfoShapesAndSwitch(t *testing.T) {
	s := New(Options{})
	id := s.AddOrder(OrderSpec{CommonName: "example.com", SANs: []string{"*.example.com", "www.example.com"}, AuthType: "email", UniqueValue: "u1"})
	single := s.AddOrder(OrderSpec{CommonName: "one.example.net", RecordType: "CNAME"})
	c := newClient(t, s)
	_, b := c.do("GET", fmt.Sprintf("/ssl/v2/orders/%d/auth/info", id), "")
	cn := b["data"].(map[string]any)["commonName"].(map[string]any)
	if cn["authType"] != "email" || cn["value"] != "admin@example.com" {
		t.Fatalf("email challenge: %v", b)
	}
	st, b := c.do("PUT", fmt.Sprintf("/ssl/v2/orders/%d/auth", id), `{"authType":"dns","sendAuthGuideEmail":false}`)
	if st != 200 {
		t.Fatalf("switch: %d %v", st, b)
	}
	o, _ := s.Order(id)
	data := b["data"].(map[string]any)
	cn = data["commonName"].(map[string]any)
	san := data["san"].([]any)
	md5 := strings.TrimPrefix(strings.Split(o.Names[0].Host, ".")[0], "_")
	if cn["authType"] != "dns" || cn["recordType"] != "TXT" || cn["host"] != "_"+md5+".example.com" || len(md5) != 32 {
		t.Errorf("dns challenge: %v", cn)
	}
	val := cn["value"].(string)
	parts := strings.Split(val, ".")
	if len(parts) != 5 || len(parts[0]) != 32 || len(parts[1]) != 32 || parts[2] != "u1" || !strings.HasSuffix(val, ".sectigo.com") {
		t.Errorf("value %q", val)
	}
	if w := san[0].(map[string]any); w["name"] != "*.example.com" || w["host"] != "_"+md5+".example.com" || w["value"] != val {
		t.Errorf("wildcard san: %v", w)
	}
	if w := san[1].(map[string]any); w["host"] != "_"+md5+".www.example.com" {
		t.Errorf("www san: %v", w)
	}
	if st, b := c.do("PUT", fmt.Sprintf("/ssl/v2/orders/%d/auth", id), `{"authType":"file"}`); st != 400 || subCode(b) != "SSL2400" {
		t.Errorf("file on wildcard: %d %v", st, b)
	}
	_, b = c.do("GET", fmt.Sprintf("/ssl/v2/orders/%d/auth/info", single), "")
	data = b["data"].(map[string]any)
	if _, has := data["san"]; has || data["commonName"].(map[string]any)["recordType"] != "CNAME" {
		t.Errorf("single-name CNAME order: %v", data)
	}
	if st, b := c.do("GET", "/ssl/v2/orders/4242/auth/info", ""); st != 400 || !strings.Contains(fmt.Sprint(b["error"]), "not found") {
		t.Errorf("unknown order: %d %v", st, b)
	}
	_, b = c.do("GET", fmt.Sprintf("/ssl/v2/orders/info?orderId=%d", id), "")
	if d := b["data"].(map[string]any); fmt.Sprint(d["sanfield"]) != "[*.example.com www.example.com]" || d["authType"] != "dns" {
		t.Errorf("order info: %v", d)
	}
}

func TestFinishedOrdersRefuseWrites(t *testing.T) {
	s := New(Options{})
	id := s.AddOrder(OrderSpec{CommonName: "done.example.com", OrderStatus: "COMPLETED"})
	c := newClient(t, s)
	if st, _ := c.do("PUT", fmt.Sprintf("/ssl/v2/orders/%d/auth", id), `{"authType":"dns"}`); st != 400 {
		t.Errorf("write to finished order: %d", st)
	}
	if st, b := c.do("GET", fmt.Sprintf("/ssl/v2/orders/%d/dcv-status", id), ""); st != 200 || b["data"].(map[string]any)["certStatus"] != "ACTIVE" {
		t.Errorf("dcv-status of finished order: %d %v", st, b)
	}
	if fw := s.FinishedWrites(); fw[id] != 1 {
		t.Errorf("finished writes %v", fw)
	}
}

func TestApproverEmails(t *testing.T) {
	s := New(Options{})
	id := s.AddOrder(OrderSpec{CommonName: "shop.example.com", AuthType: "email"})
	c := newClient(t, s)
	_, b := c.do("GET", "/ssl/v2/domainValidations/approver-list?commonName=*.shop.example.com", "")
	list := fmt.Sprint(b["data"])
	if !strings.Contains(list, "admin@shop.example.com") || !strings.Contains(list, "webmaster@example.com") {
		t.Errorf("approver list: %v", b)
	}
	if st, _ := c.do("PUT", fmt.Sprintf("/ssl/v2/orders/%d/approver-email", id), `{"approverEmail":"root@evil.test"}`); st != 400 {
		t.Errorf("foreign approver: %d", st)
	}
	if st, b := c.do("PUT", fmt.Sprintf("/ssl/v2/orders/%d/approver-email", id), `{"approverEmail":"hostmaster@example.com"}`); st != 200 {
		t.Errorf("update approver: %d %v", st, b)
	}
	if st, b := c.do("POST", fmt.Sprintf("/ssl/v2/orders/%d/approver-email/send", id), ""); st != 200 || b["data"] != nil {
		t.Errorf("send: %d %v", st, b)
	}
	if o, _ := s.Order(id); o.Approver != "hostmaster@example.com" || o.EmailsSent != 1 || o.Writes != 2 {
		t.Errorf("order after email calls: %+v", o)
	}
	if err := s.ApproveEmail(id); err != nil {
		t.Fatal(err)
	}
	if o, _ := s.Order(id); o.OrderStatus != "COMPLETED" {
		t.Errorf("approved by email: %+v", o)
	}
}

func TestFaults(t *testing.T) {
	s := New(Options{})
	id := s.AddOrder(OrderSpec{CommonName: "example.com", AuthType: "email"})
	c := newClient(t, s)
	s.Inject("POST", "/ssl/v2/orders/search", simkit.RateLimit, 1)
	if st, b := c.do("POST", "/ssl/v2/orders/search", `{}`); st != 429 || b["Retry-After"] != "1" {
		t.Errorf("429: %d %v", st, b)
	}
	s.Inject("", "*", simkit.ServerError, 1)
	if st, b := c.do("POST", "/ssl/v2/orders/search", `{}`); st != 500 || subCode(b) != "DOM5000" {
		t.Errorf("500: %d %v", st, b)
	}
	s.Inject("", "*", simkit.BadGateway, 1)
	if st, b := c.do("POST", "/ssl/v2/orders/search", `{}`); st != 502 || b["raw"] == nil {
		t.Errorf("502: %d %v", st, b)
	}
	// Truncated after the switch took effect.
	s.Inject("PUT", "/ssl/v2/orders/{id}/auth", simkit.Truncated, 1)
	if st, b := c.do("PUT", fmt.Sprintf("/ssl/v2/orders/%d/auth", id), `{"authType":"dns"}`); st != 200 || b["raw"] == nil {
		t.Errorf("truncated: %d %v", st, b)
	}
	if o, _ := s.Order(id); o.AuthType != "dns" {
		t.Errorf("switch did not take effect: %+v", o)
	}
	s.Inject("GET", fmt.Sprintf("/ssl/v2/orders/%d/auth/info", id), simkit.Malformed, 1)
	if st, b := c.do("GET", fmt.Sprintf("/ssl/v2/orders/%d/auth/info", id), ""); st != 200 || !strings.Contains(fmt.Sprint(b["raw"]), "<html>") {
		t.Errorf("malformed: %d %v", st, b)
	}
	s.Inject("", "*", FaultTokenExpired, 1)
	if st, _ := c.do("POST", "/ssl/v2/orders/search", `{}`); st != 401 {
		t.Errorf("token expired: %d", st)
	}
	if st, _ := c.do("POST", "/ssl/v2/orders/search", `{}`); st != 401 {
		t.Errorf("token stays revoked: %d", st)
	}
	c = newClient(t, s)
	s.Inject("GET", "/ssl/v2/orders/{id}/auth/info", FaultVanish, 1)
	if st, _ := c.do("GET", fmt.Sprintf("/ssl/v2/orders/%d/auth/info", id), ""); st != 400 {
		t.Errorf("vanished: %d", st)
	}
	if _, ok := s.Order(id); ok {
		t.Error("order still there")
	}
	if n := s.Requests(RouteAuthInfo); n != 2 {
		t.Errorf("auth info requests %d", n)
	}
}

func TestRateLimit(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	s := New(Options{Limits: []Limit{{N: 2, Window: 10 * time.Second}}, Now: func() time.Time { return now }})
	c := newClient(t, s)
	for i := 0; i < 2; i++ {
		if st, _ := c.do("POST", "/ssl/v2/orders/search", `{}`); st != 200 {
			t.Fatalf("call %d: %d", i, st)
		}
	}
	now = now.Add(3 * time.Second)
	if st, b := c.do("POST", "/ssl/v2/orders/search", `{}`); st != http.StatusTooManyRequests || b["Retry-After"] != "7" {
		t.Errorf("over limit: %d %v", st, b)
	}
	now = now.Add(7 * time.Second)
	if st, _ := c.do("POST", "/ssl/v2/orders/search", `{}`); st != 200 {
		t.Errorf("after the window: %d", st)
	}
}

func TestLoadOrders(t *testing.T) {
	dir := t.TempDir()
	good := dir + "/o.toml"
	writeFile(t, good, "[[order]]\ncommon_name = \"a.example\"\nrecord_type = \"cname\"\n[[order]]\ncommon_name = \"b.example\"\norder_status = \"COMPLETED\"\n")
	specs, err := LoadOrders(good)
	if err != nil || len(specs) != 2 {
		t.Fatalf("%v %v", specs, err)
	}
	bad := dir + "/bad.toml"
	writeFile(t, bad, "[[order]]\ncommon_name = \"a.example\"\ncolour = 1\n")
	if _, err := LoadOrders(bad); err == nil || !strings.Contains(err.Error(), "colour") {
		t.Errorf("unknown key: %v", err)
	}
	js := dir + "/o.json"
	writeFile(t, js, `{"order":[{"common_name":"c.example","auth_type":"carrier-pigeon"}]}`)
	if _, err := LoadOrders(js); err == nil || !strings.Contains(err.Error(), "auth_type") {
		t.Errorf("bad auth type: %v", err)
	}
}

// `dcvd sandbox webnic` serves the seeded simulator and prints how to
// reach it; `dcvd demo`'s hook seeds DemoOrders.
func TestSandboxCommandAndDemo(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, dir+"/o.toml", "[[order]]\ncommon_name = \"a.example\"\n")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := Command()
	out := &syncBuffer{}
	cmd.SetOut(out)
	cmd.SetErr(io.Discard)
	cmd.SetArgs([]string{"--listen", "127.0.0.1:0", "--orders", dir + "/o.toml", "--username", "api-dry", "--password", "pw"})
	done := make(chan error, 1)
	go func() { done <- cmd.ExecuteContext(ctx) }()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(out.String(), "base_url") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if s := out.String(); !strings.Contains(s, `username = "api-dry"`) || !strings.Contains(s, "http://127.0.0.1:") {
		t.Fatalf("banner: %q", s)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	d, err := Demo(context.Background(), providers.DemoEnv{DNS: "127.0.0.1:1", Account: "wn"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(d.Config, `name = "wn"`) || len(d.Orders) != len(DemoOrders) || d.Zones[0] != DemoZone {
		t.Errorf("demo: %+v", d)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
