package certinext_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/dcvd/dcvd/internal/config"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/certinext"
)

func TestOptions(t *testing.T) {
	secretFile := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secretFile, []byte("s3cret\n"), 0o600)
	ok := func() *certinext.Options {
		return &certinext.Options{AccountNumber: "100200300", ClientSecretFile: secretFile}
	}
	for _, tc := range []struct {
		name string
		edit func(*certinext.Options)
		base providers.Base
		err  string
	}{
		{"defaults", nil, providers.Base{}, ""},
		{"sandbox", func(o *certinext.Options) { o.Environment = "sandbox" }, providers.Base{}, ""},
		{"apex label", func(o *certinext.Options) { o.TXTLabel = "@" }, providers.Base{}, ""},
		{"emsign label", func(o *certinext.Options) { o.TXTLabel = "_emsign-validation" }, providers.Base{}, ""},
		{"unknown environment", func(o *certinext.Options) { o.Environment = "staging" }, providers.Base{}, `environment "staging"`},
		{"no account", func(o *certinext.Options) { o.AccountNumber = "" }, providers.Base{}, "account_number: not set"},
		{"no secret", func(o *certinext.Options) { o.ClientSecretFile = "" }, providers.Base{}, "client_secret: not set"},
		{"two secrets", func(o *certinext.Options) { o.ClientSecret = "x" }, providers.Base{}, "set only one of client_secret"},
		{"missing secret file", func(o *certinext.Options) { o.ClientSecretFile = "/nonexistent/s" }, providers.Base{}, "client_secret_file"},
		{"undocumented label", func(o *certinext.Options) { o.TXTLabel = "_acme-challenge" }, providers.Base{}, `txt_label "_acme-challenge"`},
		{"cname method", nil, providers.Base{Method: "dns-cname"}, `method "dns-cname"`},
		{"page size", func(o *certinext.Options) { o.PageSize = 500 }, providers.Base{}, "page_size 500"},
		{"revalidate window", func(o *certinext.Options) { o.RevalidateBefore = "a month" }, providers.Base{}, `revalidate_before "a month": want a number of days`},
		{"negative window", func(o *certinext.Options) { o.RevalidateBefore = "-3d" }, providers.Base{}, `revalidate_before "-3d": must not be negative`},
		{"backoff order", func(o *certinext.Options) {
			o.BackoffMin, o.BackoffMax = config.Duration(time.Minute), config.Duration(time.Second)
		}, providers.Base{}, "backoff_max 1s: want at least backoff_min 1m0s"},
		{"rate limit", func(o *certinext.Options) {
			o.RateLimits = []certinext.LimitOption{{N: 0, Window: config.Duration(time.Second)}}
		}, providers.Base{}, "rate_limits[0]"},
		{"base_url twice", func(o *certinext.Options) { o.BaseURL = "http://a" }, providers.Base{BaseURL: "http://b"}, "base_url given twice"},
	} {
		o := ok()
		if tc.edit != nil {
			tc.edit(o)
		}
		tc.base.Name = "main"
		p, err := certinext.Open(context.Background(), tc.base, o)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("%s: %v", tc.name, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err) || !strings.HasPrefix(err.Error(), `certinext "main": `)):
			t.Errorf("%s: got %v, want %q", tc.name, err, tc.err)
		case err != nil && strings.Contains(err.Error(), "s3cret"):
			t.Errorf("%s: error shows the secret: %v", tc.name, err)
		case tc.err == "" && p.Name() != "main":
			t.Errorf("%s: name %q", tc.name, p.Name())
		}
	}
	// Spec's Open refuses foreign options and never returns a typed nil.
	spec := certinext.Spec()
	if p, err := spec.Open(context.Background(), providers.Base{Name: "x"}, &struct{}{}); err == nil || p != nil {
		t.Errorf("foreign options: %v %v", p, err)
	}
	if p, err := spec.Open(context.Background(), providers.Base{Name: "x"}, &certinext.Options{}); err == nil || p != nil {
		t.Errorf("empty options: %#v %v", p, err)
	}
}
