package hook

import (
	"context"
	"log/slog"
	"strings"
	"testing"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/dnspublish/rfc2136"
)

// FuzzHookInputs feeds what an ACME client hands a hook (certbot's
// CERTBOT_DOMAIN / CERTBOT_VALIDATION / CERTBOT_ALL_DOMAINS, dehydrated's
// and lego's DOMAIN and VALUE arguments) through the checks every hook
// runs before anything is written: it never panics, and what it accepts is
// an _acme-challenge TXT inside the configured zone, carrying the value
// byte for byte, at a name without escapes.
func FuzzHookInputs(f *testing.F) {
	pub, err := rfc2136.New(dnspublish.Base{Name: "bind", Zones: []string{"example.com"}},
		rfc2136.Options{Server: "127.0.0.1:53", TSIGKey: "k", TSIGSecret: "c2VjcmV0"})
	if err != nil {
		f.Fatal(err)
	}
	router, err := dnspublish.NewRouter(pub)
	if err != nil {
		f.Fatal(err)
	}
	r := &Runner{router: router, log: slog.New(slog.DiscardHandler)}
	for _, s := range [][3]string{
		{"example.com", "token-value", "example.com,*.example.com"},
		{"*.www.example.com", `back\slash\\double`, ""},
		{`a\.b.example.com`, "v", "x"},
		{"a\x00.example.com", "v", ""},
		{"other.org", "v", "other.org"},
		{"EXAMPLE.COM.", "", ","},
	} {
		f.Add(s[0], s[1], s[2])
	}
	f.Fuzz(func(t *testing.T, domain, value, all string) {
		env := func(k string) string {
			return map[string]string{"CERTBOT_DOMAIN": domain, "CERTBOT_VALIDATION": value, "CERTBOT_ALL_DOMAINS": all}[k]
		}
		d, v, err := certbotVars(env)
		if err != nil {
			return
		}
		certbotAll(env, d)
		items, err := r.prepare(context.Background(), []Item{acmeItem(d, v)})
		if err != nil {
			return
		}
		rec := items[0].Record
		if rec.Value != value {
			t.Fatalf("value %q published as %q", value, rec.Value)
		}
		if rec.Type != dnspublish.TXT || !strings.HasPrefix(rec.FQDN, "_acme-challenge.") ||
			!(rec.FQDN == "example.com." || strings.HasSuffix(rec.FQDN, ".example.com.")) {
			t.Fatalf("%q accepted as %s", domain, rec)
		}
		if strings.ContainsAny(rec.FQDN, "\\\x00") {
			t.Fatalf("%q accepted with an escape: %s", domain, rec.FQDN)
		}
	})
}
