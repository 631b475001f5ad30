package api

import (
	"context"
	"encoding/json"
	"github.com/dcvd/dcvd/internal/backoff"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// fixture serves one canned response per "METHOD /path" and records the
// last request.
type fixture struct {
	status int
	body   string
	last   *http.Request
	body0  string
}

func serve(t *testing.T, routes map[string]fixture) (*Client, map[string]*fixture) {
	t.Helper()
	seen := map[string]*fixture{}
	for k, v := range routes {
		v := v
		seen[k] = &v
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := seen[r.Method+" "+r.URL.Path]
		if f == nil {
			w.WriteHeader(http.StatusNotFound)
			w.Write([]byte(`{"errors":[{"code":"not_found|route","message":"no fixture"}]}`))
			return
		}
		f.last = r
		b := new(strings.Builder)
		if r.Body != nil {
			buf := make([]byte, 4096)
			n, _ := r.Body.Read(buf)
			b.Write(buf[:n])
		}
		f.body0 = b.String()
		w.WriteHeader(f.status)
		w.Write([]byte(f.body))
	}))
	t.Cleanup(srv.Close)
	return New(Config{BaseURL: srv.URL, Key: "secret-key-123", Backoff: backoff.Policy{Min: time.Millisecond, Max: 4 * time.Millisecond}, Retries: 3}), seen
}

func TestIDShapes(t *testing.T) {
	for in, want := range map[string]ID{`123`: "123", `"123"`: "123", `null`: "", `" 42 "`: "42", `1234567890123`: "1234567890123"} {
		var id ID
		if err := json.Unmarshal([]byte(in), &id); err != nil || id != want {
			t.Errorf("ID %s = %q, %v; want %q", in, id, err, want)
		}
	}
	var id ID
	if err := json.Unmarshal([]byte(`{}`), &id); err == nil {
		t.Errorf("ID {}: want an error")
	}
	if ID("77").Int() != 77 {
		t.Errorf("Int")
	}
}

func TestFlexStringShapes(t *testing.T) {
	for in, want := range map[string]FlexString{`"abc"`: "abc", `123`: "123", `true`: "true", `null`: ""} {
		var f FlexString
		if err := json.Unmarshal([]byte(in), &f); err != nil || f != want {
			t.Errorf("FlexString %s = %q, %v; want %q", in, f, err, want)
		}
	}
}

// Order validation: IDs as strings (documented) and as numbers.
func TestOrderValidationIDShapes(t *testing.T) {
	for _, body := range []string{
		`{"order_id":"112211","order_status":"pending","order_dcv_method":"dns-txt-token","dns_name_validations":[{"domain_id":"1234","name_scope":"example.com","status":"pending","dns_names":["example.com"]}]}`,
		`{"order_id":112211,"order_status":"pending","order_dcv_method":"dns-txt-token","dns_name_validations":[{"domain_id":1234,"name_scope":"example.com","status":"pending","dns_names":["example.com"]}]}`,
	} {
		c, _ := serve(t, map[string]fixture{"GET /order/certificate/112211/validation": {200, body, nil, ""}})
		v, err := c.OrderValidation(context.Background(), "112211")
		if err != nil {
			t.Fatal(err)
		}
		if v.OrderID != "112211" || v.DNSNameValidations[0].DomainID != "1234" {
			t.Errorf("ids: %q %q", v.OrderID, v.DNSNameValidations[0].DomainID)
		}
	}
}

// Order DCV method change: token method → value; email → empty 200 or 204.
func TestSetOrderDCVMethodShapes(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		status int
		body   string
		want   string
	}{
		{200, `{"dcv_random_value":"abc123","expiration_date":"2030-01-02T03:04:05+00:00"}`, "abc123"},
		{200, ``, ""},
		{200, `{}`, ""},
		{204, ``, ""},
	}
	for _, tc := range cases {
		c, seen := serve(t, map[string]fixture{"PUT /order/certificate/9/dcv-method": {tc.status, tc.body, nil, ""}})
		rv, err := c.SetOrderDCVMethod(ctx, "9", "dns-txt-token")
		if err != nil {
			t.Fatalf("%d %q: %v", tc.status, tc.body, err)
		}
		got := ""
		if rv != nil {
			got = rv.DCVRandomValue
			if rv.Expires() != time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC) {
				t.Errorf("expires %v", rv.Expires())
			}
		}
		if got != tc.want {
			t.Errorf("%d %q: value %q, want %q", tc.status, tc.body, got, tc.want)
		}
		f := seen["PUT /order/certificate/9/dcv-method"]
		if f.body0 != `{"dcv_method":"dns-txt-token"}` || f.last.Header.Get("Content-Type") != "application/json" {
			t.Errorf("request body %q content-type %q", f.body0, f.last.Header.Get("Content-Type"))
		}
	}
}

// check-dcv: current shape with per-name list, legacy without it, empty.
func TestCheckDCVShapes(t *testing.T) {
	ctx := context.Background()
	c, _ := serve(t, map[string]fixture{"PUT /order/certificate/1/check-dcv": {200,
		`{"order_status":"pending","certificate_id":249043544,"dcv_status":"valid","dns_name_validations":[{"dns_name":"example.com","status":"approved"}]}`, nil, ""}})
	r, err := c.CheckDCV(ctx, "1")
	if err != nil || r.CertificateID != "249043544" || len(r.DNSNameValidations) != 1 || r.DNSNameValidations[0].Status != "approved" {
		t.Fatalf("current: %+v %v", r, err)
	}
	c, _ = serve(t, map[string]fixture{"PUT /order/certificate/1/check-dcv": {200, `{"order_status":"issued","certificate_id":"5","dcv_status":"valid"}`, nil, ""}})
	if r, err = c.CheckDCV(ctx, "1"); err != nil || r.OrderStatus != "issued" || r.CertificateID != "5" {
		t.Fatalf("legacy: %+v %v", r, err)
	}
	c, _ = serve(t, map[string]fixture{"PUT /order/certificate/1/check-dcv": {204, ``, nil, ""}})
	if r, err = c.CheckDCV(ctx, "1"); err != nil || r.OrderStatus != "" {
		t.Fatalf("empty: %+v %v", r, err)
	}
}

// Domain DCV method change: {} (same method / legacy email), validation
// emails, TXT token, CNAME token with verification value, http token.
func TestSetDomainDCVMethodShapes(t *testing.T) {
	ctx := context.Background()
	cases := []struct {
		body string
		want []string
	}{
		{`{}`, []string{"no change"}},
		{``, []string{"no change"}},
		{`{"validation_emails":{"name_scope":"example.com","base_emails":["admin@example.com","webmaster@example.com"]}}`,
			[]string{"validation emails admin@example.com, webmaster@example.com"}},
		{`{"dcv_token":{"token":"tok123","status":"pending","expiration_date":"2030-01-01T00:00:00+00:00"}}`,
			[]string{"token tok123", "status pending", "expires 2030-01-01T00:00:00+00:00"}},
		{`{"dcv_token":{"token":"tok456","status":"pending","expiration_date":"2030-01-01T00:00:00+00:00","verification_value":"dcv.digicert.com"}}`,
			[]string{"token tok456", "verification value dcv.digicert.com"}},
		{`{"dcv_token":{"token":98765,"status":"pending","http_token_url":"http://example.com/.well-known/pki-validation/fileauth.txt"}}`,
			[]string{"token 98765", "url http://example.com/.well-known"}},
	}
	for _, tc := range cases {
		c, _ := serve(t, map[string]fixture{"PUT /domain/77/dcv/method": {200, tc.body, nil, ""}})
		res, err := c.SetDomainDCVMethod(ctx, "77", "dns-txt-token")
		if err != nil {
			t.Fatalf("%q: %v", tc.body, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(res.String(), w) {
				t.Errorf("%q: String() = %q, missing %q", tc.body, res.String(), w)
			}
		}
	}
}

// Domain token and validate-token: token as string or number, current and
// legacy check shapes, 204.
func TestDomainTokenShapes(t *testing.T) {
	ctx := context.Background()
	for body, want := range map[string]string{
		`{"token":"fdy6m0wy5lq063sz4h0r6qmdt722gyfc","expiration_date":"2020-08-22T20:21:10+00:00"}`: "fdy6m0wy5lq063sz4h0r6qmdt722gyfc",
		`{"token":123456,"expiration_date":"2020-08-22T20:21:10+00:00"}`:                             "123456",
	} {
		c, _ := serve(t, map[string]fixture{"POST /domain/5/dcv/token": {200, body, nil, ""}})
		tok, err := c.NewDomainToken(ctx, "5")
		if err != nil || string(tok.Token) != want {
			t.Errorf("%s: %+v %v", body, tok, err)
		}
	}
	for _, tc := range []struct {
		status      int
		body        string
		token, stat string
	}{
		{200, `{"token":"36m5kkf95gx4nwz","status":"active"}`, "36m5kkf95gx4nwz", "active"},
		{200, `{"status":"active"}`, "", "active"},
		{200, `{"status":"inactive"}`, "", "inactive"},
		{200, `{}`, "", ""},
		{204, ``, "", ""},
	} {
		c, _ := serve(t, map[string]fixture{"PUT /domain/5/dcv/validate-token": {tc.status, tc.body, nil, ""}})
		r, err := c.ValidateDomainToken(ctx, "5")
		if err != nil || string(r.Token) != tc.token || r.Status != tc.stat {
			t.Errorf("%d %s: %+v %v", tc.status, tc.body, r, err)
		}
	}
}

// Domain info: with and without dcv_token, validations, legacy YYYY-MM-DD.
func TestDomainInfoShapes(t *testing.T) {
	c, seen := serve(t, map[string]fixture{"GET /domain/5": {200, `{"id":5,"is_active":true,"name":"example.com","dcv_method":"dns-cname-token",
		"dcv_token":{"token":"abc","status":"pending","expiration_date":"2030-01-01T00:00:00+00:00","verification_value":"dcv.digicert.com"},
		"validations":[{"type":"ov","status":"active","dcv_status":"complete"},{"type":"ev","status":"pending","dcv_status":"pending"}],
		"organization":{"id":1,"is_active":"1"}}`, nil, ""}})
	d, err := c.DomainInfo(context.Background(), "5")
	if err != nil {
		t.Fatal(err)
	}
	if d.ID != "5" || d.DCVToken == nil || d.DCVToken.Token != "abc" || d.DCVToken.VerificationValue != "dcv.digicert.com" || len(d.Validations) != 2 {
		t.Errorf("%+v", d)
	}
	if q := seen["GET /domain/5"].last.URL.Query(); q.Get("include_dcv") != "true" {
		t.Errorf("query %v", q)
	}
	c, _ = serve(t, map[string]fixture{"GET /domain/6": {200, `{"id":"6","name":"example.org","dcv_method":"email"}`, nil, ""}})
	if d, err = c.DomainInfo(context.Background(), "6"); err != nil || d.DCVToken != nil || d.ID != "6" {
		t.Errorf("%+v %v", d, err)
	}
	if !ParseTime("2020-09-11").Equal(time.Date(2020, 9, 11, 0, 0, 0, 0, time.UTC)) || !ParseTime("").IsZero() {
		t.Errorf("parseTime")
	}
}

func TestResendEmailsBody(t *testing.T) {
	c, seen := serve(t, map[string]fixture{"PUT /order/certificate/3/resend-emails": {204, ``, nil, ""}})
	err := c.ResendEmails(context.Background(), "3", map[string]string{"b.example.com": "x@example.com", "a.example.com": "admin@a.example.com"})
	if err != nil {
		t.Fatal(err)
	}
	want := `{"domain_approval_emails":[{"domain":"a.example.com","email":"admin@a.example.com"},{"domain":"b.example.com","email":"x@example.com"}]}`
	if got := seen["PUT /order/certificate/3/resend-emails"].body0; got != want {
		t.Errorf("body %s, want %s", got, want)
	}
	if err := c.ResendEmails(context.Background(), "3", nil); err != nil {
		t.Fatal(err)
	}
	if got := seen["PUT /order/certificate/3/resend-emails"].body0; got != "" {
		t.Errorf("nil emails: body %q, want none", got)
	}
}
