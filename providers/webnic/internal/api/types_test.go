package api

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/dcvd/dcvd/internal/apiclient"
)

// data decodes a fixture's envelope, checks it says success, and decodes
// its data into out.
func data(t *testing.T, file string, out any) *Envelope {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	var env Envelope
	if err := json.Unmarshal(b, &env); err != nil {
		t.Fatalf("%s: envelope: %v", file, err)
	}
	if out != nil {
		if !env.OK() {
			t.Fatalf("%s: code %q is not success", file, env.Code)
		}
		if err := json.Unmarshal(env.Data, out); err != nil {
			t.Fatalf("%s: data: %v", file, err)
		}
	}
	return &env
}

func codes(t *testing.T, file string, status int) []apiclient.Code {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", file))
	if err != nil {
		t.Fatal(err)
	}
	cs, err := DecodeError(status, b)
	if err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	return cs
}

const (
	md5Host = "_0A1B2C3D4E5F60718293A4B5C6D7E8F9."
	shaVal  = "11112222333344445555666677778888.9999AAAABBBBCCCCDDDDEEEEFFFF0000.sectigo.com"
)

// Every fixture in testdata is one response shape the spec lists (or a
// defensive alias of one); each has a case here, and a fixture without a
// case fails the test.
func TestFixtures(t *testing.T) {
	cases := map[string]func(t *testing.T, file string){
		"token.json": func(t *testing.T, f string) {
			var tok Token
			data(t, f, &tok)
			if tok.AccessToken == "" || tok.ExpiresIn != 3600 {
				t.Errorf("%+v", tok)
			}
		},
		"token_camel_string.json": func(t *testing.T, f string) {
			var tok Token
			data(t, f, &tok)
			if tok.AccessToken == "" || tok.ExpiresIn != 3600 {
				t.Errorf("%+v", tok)
			}
		},
		"error_res5001_username.json": func(t *testing.T, f string) {
			if cs := codes(t, f, 500); len(cs) != 1 || cs[0].Code != "RES5001" || cs[0].Message != "Invalid username" {
				t.Errorf("%+v", cs)
			}
		},
		"error_res0004_ip.json": func(t *testing.T, f string) {
			if cs := codes(t, f, 403); len(cs) != 1 || cs[0].Code != "RES0004" {
				t.Errorf("%+v", cs)
			}
		},
		"error_dom0004_ip.json": func(t *testing.T, f string) {
			if cs := codes(t, f, 403); len(cs) != 1 || cs[0].Code != "DOM0004" || !strings.Contains(cs[0].Message, "ip address") {
				t.Errorf("%+v", cs)
			}
		},
		"error_field_errors_arrays.json": func(t *testing.T, f string) {
			cs := codes(t, f, 400)
			want := []apiclient.Code{{Code: "DOM4000", Message: "Invalid fields"}, {Code: "authType", Message: "must be one of email, dns, file"}, {Code: "orderId", Message: "must not be null"}}
			if !slices.Equal(cs, want) {
				t.Errorf("%+v", cs)
			}
		},
		"error_field_errors_objects.json": func(t *testing.T, f string) {
			cs := codes(t, f, 400)
			want := []apiclient.Code{{Code: "authType", Message: "must be one of email, dns, file"}, {Code: "orderId", Message: "must not be null"}}
			if !slices.Equal(cs, want) {
				t.Errorf("%+v", cs)
			}
		},
		"error_numeric_code.json": func(t *testing.T, f string) {
			if cs := codes(t, f, 400); len(cs) != 1 || cs[0].Code != "2400" || cs[0].Message != "Order 42 not found" {
				t.Errorf("%+v", cs)
			}
		},
		"error_no_suberror.json": func(t *testing.T, f string) {
			if cs := codes(t, f, 400); len(cs) != 1 || cs[0].Code != "2400" || cs[0].Message != "Business rule failed" {
				t.Errorf("%+v", cs)
			}
		},
		"error_spring_404.json": func(t *testing.T, f string) {
			if cs := codes(t, f, 404); len(cs) != 1 || cs[0].Code != "Not Found" || !strings.Contains(cs[0].Message, "No static resource") {
				t.Errorf("%+v", cs)
			}
		},
		"error_proxy_502.html": func(t *testing.T, f string) {
			b, _ := os.ReadFile(filepath.Join("testdata", f))
			if _, err := DecodeError(502, b); err == nil || !strings.Contains(err.Error(), "502 Bad Gateway") {
				t.Errorf("html body: %v", err)
			}
		},
		"success_no_data.json": func(t *testing.T, f string) {
			if env := data(t, f, nil); !env.OK() || len(env.Data) != 0 {
				t.Errorf("%+v", env)
			}
		},
		"partial_3000.json": func(t *testing.T, f string) {
			var st DCVStatus
			if env := data(t, f, &st); env.Code != CodePartial || st.OrderID != "880001" {
				t.Errorf("%+v %+v", env, st)
			}
		},
		"search.json": func(t *testing.T, f string) {
			var p SearchPage
			data(t, f, &p)
			if p.TotalPages != 3 || p.TotalItems != 5 || len(p.Items) != 2 || p.Items[0].OrderID != "880001" ||
				p.Items[1].CertStatus != "PENDING_REISSUE" || p.Items[1].Term != "12" {
				t.Errorf("%+v", p)
			}
		},
		"search_string_ids.json": func(t *testing.T, f string) {
			var p SearchPage
			data(t, f, &p)
			if len(p.Items) != 1 || p.Items[0].OrderID != "880003" {
				t.Errorf("%+v", p)
			}
		},
		"search_dates.json": func(t *testing.T, f string) {
			// Every date form ParseDate reads ([INF]: no doc gives one).
			var p SearchPage
			data(t, f, &p)
			at := time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)
			want := []time.Time{at, at.Add(-8 * time.Hour), at, time.Date(2026, 11, 30, 0, 0, 0, 0, time.UTC), at, {}}
			if len(p.Items) != len(want) {
				t.Fatalf("%+v", p)
			}
			for i, it := range p.Items {
				if got := ParseDate(it.Created); !got.Equal(want[i]) {
					t.Errorf("%s: dtcreate %q = %v, want %v", it.CommonName, it.Created, got, want[i])
				}
			}
		},
		"search_empty.json": func(t *testing.T, f string) {
			var p SearchPage
			data(t, f, &p)
			if len(p.Items) != 0 || p.TotalPages != 0 {
				t.Errorf("%+v", p)
			}
		},
		"auth_dns_example.json": func(t *testing.T, f string) {
			var a AuthData
			data(t, f, &a)
			all := a.All()
			if len(all) != 1 || all[0] != (Challenge{Name: "webnic.sbs", AuthType: "dns", RecordType: "TXT",
				Host: "_536ED5B35F7FA69CDE0B37AEB34E7AE4.webnic.sbs", Value: "3D92C98F742FCC543972198FBA2D1C30.81DB2D3DD0157089AD06A73359B7F31E.sectigo.com"}) {
				t.Errorf("%+v", all)
			}
		},
		"auth_dns_multi_san.json": func(t *testing.T, f string) {
			var a AuthData
			data(t, f, &a)
			all := a.All()
			if len(all) != 3 || all[1].Name != "*.example.com" || all[1].Host != md5Host+"example.com" || all[2].Host != md5Host+"www.example.com" || all[2].Value != shaVal {
				t.Errorf("%+v", all)
			}
		},
		"auth_san_null.json":  oneChallenge,
		"auth_san_empty.json": oneChallenge,
		"auth_san_object.json": func(t *testing.T, f string) {
			var a AuthData
			data(t, f, &a)
			if all := a.All(); len(all) != 2 || all[1].Name != "b.example.com" {
				t.Errorf("%+v", all)
			}
		},
		"auth_cname_unique.json": func(t *testing.T, f string) {
			var a AuthData
			data(t, f, &a)
			c := a.All()[0]
			if c.RecordType != "CNAME" || !strings.HasSuffix(c.Value, ".aHXEOOEh.sectigo.com") {
				t.Errorf("%+v", c)
			}
		},
		"auth_email.json": func(t *testing.T, f string) {
			var a AuthData
			data(t, f, &a)
			all := a.All()
			if len(all) != 2 || all[0].AuthType != "email" || all[0].Value != "admin@example.net" || all[0].Host != "" {
				t.Errorf("%+v", all)
			}
		},
		"auth_file.json": func(t *testing.T, f string) {
			var a AuthData
			data(t, f, &a)
			c := a.All()[0]
			if c.AuthType != "file" || !strings.HasPrefix(c.Path, "/.well-known/pki-validation/") || !strings.HasSuffix(c.FileName, ".txt") || !strings.HasSuffix(c.Value, "\nsectigo.com") {
				t.Errorf("%+v", c)
			}
		},
		"auth_hostbill_aliases.json": func(t *testing.T, f string) {
			var a AuthData
			data(t, f, &a)
			c := a.All()[0]
			if c.AuthType != "dns" || c.RecordType != "TXT" || c.Host != md5Host+"alias.example.com" || c.Value != shaVal {
				t.Errorf("%+v", c)
			}
		},
		"auth_no_authtype.json": func(t *testing.T, f string) {
			var a AuthData
			data(t, f, &a)
			c := a.All()[0]
			if c.AuthType != "" || c.Host != md5Host+"bare.example.com" || c.Value != shaVal {
				t.Errorf("%+v", c)
			}
		},
		"dcv_status.json": func(t *testing.T, f string) {
			var st DCVStatus
			data(t, f, &st)
			if st != (DCVStatus{OrderID: "880001", OrderStatus: "COMPLETED", CertStatus: "ACTIVE"}) {
				t.Errorf("%+v", st)
			}
		},
		"order_info.json": func(t *testing.T, f string) {
			var oi OrderInfo
			data(t, f, &oi)
			if oi.OrderID != "880001" || !slices.Equal(oi.SANs, []string{"*.example.com", "www.example.com"}) || oi.AuthType != "dns" {
				t.Errorf("%+v", oi)
			}
		},
		"order_info_sanfield_string.json": func(t *testing.T, f string) {
			var oi OrderInfo
			data(t, f, &oi)
			if !slices.Equal(oi.SANs, []string{"*.example.com", "www.example.com"}) || oi.AuthType != "email" {
				t.Errorf("%+v", oi)
			}
		},
		"approvers_strings.json": func(t *testing.T, f string) {
			var a Approvers
			data(t, f, &a)
			if len(a) != 5 || a[0] != (Approver{Email: "admin@example.com"}) {
				t.Errorf("%+v", a)
			}
		},
		"approvers_objects.json": func(t *testing.T, f string) {
			var a Approvers
			data(t, f, &a)
			if len(a) != 2 || a[1].Email != "hostmaster@example.com" {
				t.Errorf("%+v", a)
			}
		},
		"approvers_per_domain.json": func(t *testing.T, f string) {
			var a Approvers
			data(t, f, &a)
			want := Approvers{{"shop.example.com", "admin@shop.example.com"}, {"example.com", "admin@example.com"}, {"example.com", "webmaster@example.com"}}
			if !slices.Equal(a, want) {
				t.Errorf("%+v", a)
			}
		},
		"approvers_domain_map.json": func(t *testing.T, f string) {
			var a Approvers
			data(t, f, &a)
			if len(a) != 2 || a[0].Domain != "example.com" || a[1].Email != "postmaster@example.com" {
				t.Errorf("%+v", a)
			}
		},
		"approvers_wrapped.json": func(t *testing.T, f string) {
			var a Approvers
			data(t, f, &a)
			if len(a) != 1 || a[0].Email != "admin@example.com" {
				t.Errorf("%+v", a)
			}
		},
	}
	files, err := os.ReadDir("testdata")
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, f := range files {
		seen[f.Name()] = true
		check, ok := cases[f.Name()]
		if !ok {
			t.Errorf("fixture %s has no decoding case", f.Name())
			continue
		}
		t.Run(f.Name(), func(t *testing.T) { check(t, f.Name()) })
	}
	for name := range cases {
		if !seen[name] {
			t.Errorf("case %s has no fixture", name)
		}
	}
}

func oneChallenge(t *testing.T, f string) {
	var a AuthData
	data(t, f, &a)
	if all := a.All(); len(all) != 1 || all[0].Host != md5Host+"one.example.com" {
		t.Errorf("%+v", all)
	}
}

func TestScalarsRefuseGarbage(t *testing.T) {
	var tx Text
	if err := json.Unmarshal([]byte(`{"a":1}`), &tx); err == nil {
		t.Error("object as Text accepted")
	}
	var n Int
	if err := json.Unmarshal([]byte(`"soon"`), &n); err == nil {
		t.Error("word as Int accepted")
	}
	var a Approvers
	if err := json.Unmarshal([]byte(`42`), &a); err == nil {
		t.Error("number as approver list accepted")
	}
	var l List[string]
	if err := json.Unmarshal([]byte(`"x"`), &l); err != nil || fmt.Sprint(l) != "[x]" {
		t.Errorf("single value list: %v %v", l, err)
	}
}
