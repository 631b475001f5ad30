package digicert

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/digicert/internal/api"
)

func TestOptions(t *testing.T) {
	ctx := context.Background()
	keyFile := filepath.Join(t.TempDir(), "key")
	os.WriteFile(keyFile, []byte("file-key\n"), 0o600)

	p, err := Open(ctx, providers.Base{Name: "eu"}, &Options{Region: "eu", APIKeyFile: keyFile})
	if err != nil || p.Client().BaseURL() != api.BaseURLEU || p.set.key.File != keyFile || p.set.method != MethodTXT {
		t.Fatalf("eu: %v", err)
	}
	p, err = Open(ctx, providers.Base{Name: "us", Method: "dns-cname"}, &Options{APIKey: "k"})
	if err != nil || p.Client().BaseURL() != api.BaseURLUS || p.set.method != MethodCNAME || !p.set.switchMail || p.set.pageSize != 100 || p.set.cnameForm != "dnsauth" {
		t.Fatalf("us defaults: %+v %v", p.set, err)
	}
	if len(p.Limits()) != 2 || p.Limits()[0].N != 100 {
		t.Errorf("default limits %v", p.Limits())
	}
	p, err = Open(ctx, providers.Base{Name: "b", BaseURL: "http://127.0.0.1:9/services/v2/"}, &Options{APIKey: "k"})
	if err != nil || p.Client().BaseURL() != "http://127.0.0.1:9/services/v2" {
		t.Fatalf("base url: %v", err)
	}
	bad := map[string]*Options{
		"region":       {APIKey: "k", Region: "mars"},
		"api_key":      {},
		"api_key_file": {APIKeyFile: filepath.Join(t.TempDir(), "missing")},
		"cname_form":   {APIKey: "k", CNAMEForm: "odd"},
		"txt_name":     {APIKey: "k", TXTName: "odd"},
		"page_size":    {APIKey: "k", PageSize: 5000},
		"timeout":      {APIKey: "k", Timeout: "soon"},
		"rate_limits":  {APIKey: "k", RateLimits: []LimitOption{{N: 0, Window: "1s"}}},
		"backoff_max":  {APIKey: "k", BackoffMin: "10s", BackoffMax: "1s"},
		"set only one": {APIKey: "k", APIKeyFile: keyFile},
	}
	for want, o := range bad {
		_, err := Open(ctx, providers.Base{Name: "x"}, o)
		if err == nil || !strings.Contains(err.Error(), want) || !strings.HasPrefix(err.Error(), `digicert "x": `) {
			t.Errorf("%s: err = %v", want, err)
		}
	}
	if _, err := Open(ctx, providers.Base{Name: "x", Method: "http"}, &Options{APIKey: "k"}); err == nil {
		t.Errorf("method http accepted")
	}
	spec := Spec()
	if spec.Type != "digicert" || len(spec.Limits) != 2 {
		t.Fatalf("spec %+v", spec)
	}
	prov, err := spec.Open(ctx, providers.Base{Name: "s"}, spec.Options())
	if err == nil || prov != nil {
		t.Errorf("spec.Open without key: %v", err)
	}
	if _, err := spec.Open(ctx, providers.Base{Name: "s"}, &Options{APIKey: "k"}); err != nil {
		t.Errorf("spec.Open: %v", err)
	}
}

func TestRecordFor(t *testing.T) {
	s := &settings{cnameForm: "dnsauth", txtName: "name"}
	for _, tc := range []struct {
		method, name, fqdn, value string
	}{
		{MethodTXT, "*.Example.COM", "example.com.", "r1"},
		{MethodTXT, "sub.example.com.", "sub.example.com.", "r1"},
		{MethodCNAME, "*.example.com", "_dnsauth.example.com.", "r1.dcv.digicert.com."},
	} {
		r := s.recordFor(tc.method, tc.name, "r1")
		if r.FQDN != tc.fqdn || r.Value != tc.value {
			t.Errorf("%s %s: %s", tc.method, tc.name, r)
		}
	}
	s.cnameForm, s.txtName = "legacy", "dnsauth"
	if r := s.recordFor(MethodCNAME, "a.example.com", "_tok"); r.FQDN != "_tok.a.example.com." || r.Value != "dcv.digicert.com." {
		t.Errorf("legacy: %s", r)
	}
	if r := s.recordFor(MethodTXT, "a.example.com", "tok"); r.FQDN != "_dnsauth.a.example.com." {
		t.Errorf("dnsauth txt: %s", r)
	}
	if !inDomains("*.a.example.com", []string{"example.com"}) || inDomains("badexample.com", []string{"example.com"}) || !inDomains("x.org", nil) {
		t.Errorf("inDomains")
	}
}
