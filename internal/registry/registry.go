// Package registry is the one place that lists every DNS backend and CA the
// dcvd binary is built with. Adding a backend or a CA is one new folder plus
// one line here.
package registry

import (
	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/dnspublish/cloudflare"
	"github.com/dcvd/dcvd/dnspublish/embedded"
	dnsexec "github.com/dcvd/dcvd/dnspublish/exec"
	"github.com/dcvd/dcvd/dnspublish/mijndomeinreseller"
	"github.com/dcvd/dcvd/dnspublish/powerdns"
	"github.com/dcvd/dcvd/dnspublish/rfc2136"
	"github.com/dcvd/dcvd/dnspublish/route53"
	"github.com/dcvd/dcvd/internal/config"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/acme"
	"github.com/dcvd/dcvd/providers/certinext"
	"github.com/dcvd/dcvd/providers/digicert"
	"github.com/dcvd/dcvd/providers/webnic"
)

// Registry returns the backend and CA types known to this binary.
func Registry() config.Registry {
	return config.Registry{
		DNS: index(func(s dnspublish.Spec) string { return s.Type },
			rfc2136.Spec(),
			embedded.Spec(),
			powerdns.Spec(),
			dnsexec.Spec(),
			mijndomeinreseller.Spec(),
			lego(),
			cloudflare.Spec(),
			route53.Spec(),
		),
		CA: index(func(s providers.Spec) string { return s.Type },
			digicert.Spec(),
			webnic.Spec(),
			certinext.Spec(),
			acme.Spec(),
		),
	}
}

func index[S any](key func(S) string, specs ...S) map[string]S {
	m := make(map[string]S, len(specs))
	for _, s := range specs {
		if key(s) == "" { // left out of this build
			continue
		}
		m[key(s)] = s
	}
	return m
}
