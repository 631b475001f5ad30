package acme

import (
	"context"
	"crypto/x509"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/go-acme/lego/v5/certcrypto"
	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/internal/secret"
	"github.com/dcvd/dcvd/providers"
)

// Options is the ACME part of a [[ca]] table (type = "acme").
//
//	[[ca]]
//	type = "acme"
//	name = "digicert-acme"
//	directory = "https://acme.digicert.com/v2/acme/directory/"
//	email = "pki@example.com"
//	eab_kid = "..."
//	eab_hmac_file = "/etc/dcvd/credentials/eab.hmac"
//
//	[[ca.certificate]]
//	names = ["example.com", "*.example.com"]
//	dir = "/var/lib/dcvd/certs/example.com"
type Options struct {
	Directory string `toml:"directory"` // the ACME directory URL
	// CABundle is a PEM file of extra roots to trust for the directory
	// (private or test CAs), added to the system's.
	CABundle string `toml:"ca_bundle"`
	Email    string `toml:"email"`

	EABKID            string `toml:"eab_kid"`
	EABHMAC           string `toml:"eab_hmac"`
	EABHMACFile       string `toml:"eab_hmac_file"`
	EABHMACCredential string `toml:"eab_hmac_credential"`

	Certificates []Certificate `toml:"certificate"`
}

// Certificate is one [[ca.certificate]] table.
type Certificate struct {
	Names   []string `toml:"names"`
	KeyType string   `toml:"key_type"` // rsa2048, rsa4096, ec256 (default), ec384
	Dir     string   `toml:"dir"`      // cert.pem, chain.pem, fullchain.pem, key.pem
	// RenewBefore is how long before expiry to renew, unless the CA's
	// renewal information says otherwise (default 30d).
	RenewBefore string `toml:"renew_before"`
	DeployHook  string `toml:"deploy_hook"` // run with /bin/sh -c after new files are written
}

// Spec describes the "acme" CA type to the configuration loader.
func Spec() providers.Spec {
	return providers.Spec{
		Type:    "acme",
		Options: func() any { return &Options{} },
		Open: func(ctx context.Context, base providers.Base, options any) (providers.Provider, error) {
			o, ok := options.(*Options)
			if !ok || o == nil {
				return nil, fmt.Errorf("acme: options: got %T, want *acme.Options", options)
			}
			p, err := open(base, o)
			if err != nil {
				return nil, err
			}
			return p, nil
		},
		ACME:   true,
		Labels: []string{"_acme-challenge"},
	}
}

// cert is a validated Certificate.
type cert struct {
	id          string   // the first name: the key of its order state
	names       []string // as configured, canonical, no trailing dot
	keyType     certcrypto.KeyType
	dir         string
	renewBefore time.Duration
	deployHook  string
}

// bases are the certificate's names with wildcards reduced to their base.
func (c cert) bases() []string {
	out := make([]string, 0, len(c.names))
	for _, n := range c.names {
		if b := strings.TrimPrefix(n, "*."); !slices.Contains(out, b) {
			out = append(out, b)
		}
	}
	return out
}

// settings are validated Options.
type settings struct {
	directory string
	roots     *x509.CertPool // nil: the system's
	email     string
	eabKID    string
	eabHMAC   secret.Ref
	certs     []cert
}

func (o *Options) validate(base providers.Base) (*settings, error) {
	s := &settings{directory: o.Directory, email: o.Email, eabKID: o.EABKID,
		eabHMAC: secret.Ref{Key: "eab_hmac", Inline: o.EABHMAC, File: o.EABHMACFile, Credential: o.EABHMACCredential}}
	if s.directory == "" {
		s.directory = base.BaseURL
	}
	if s.directory == "" {
		return nil, fmt.Errorf("directory: not set (the CA's ACME directory URL)")
	}
	if !strings.HasPrefix(s.directory, "https://") {
		return nil, fmt.Errorf("directory %q: must be an https:// URL", s.directory)
	}
	if (s.eabKID != "") != s.eabHMAC.Set() {
		return nil, fmt.Errorf("eab_kid and eab_hmac (or eab_hmac_file, eab_hmac_credential) go together")
	}
	if o.CABundle != "" {
		pem, err := os.ReadFile(o.CABundle)
		if err != nil {
			return nil, fmt.Errorf("ca_bundle: %w", err)
		}
		pool, err := x509.SystemCertPool()
		if err != nil || pool == nil {
			pool = x509.NewCertPool()
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("ca_bundle %s: no PEM certificate in it", o.CABundle)
		}
		s.roots = pool
	}
	if len(o.Certificates) == 0 {
		return nil, fmt.Errorf("no [[ca.certificate]]: an ACME account needs at least one certificate to order")
	}
	seen := map[string]bool{}
	for i, c := range o.Certificates {
		cc, err := c.validate()
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", i+1, err)
		}
		if seen[cc.id] {
			return nil, fmt.Errorf("certificate %d: a certificate whose first name is %s is already configured", i+1, cc.id)
		}
		seen[cc.id] = true
		s.certs = append(s.certs, cc)
	}
	return s, nil
}

func (c Certificate) validate() (cert, error) {
	out := cert{dir: c.Dir, deployHook: c.DeployHook, renewBefore: 30 * 24 * time.Hour}
	if len(c.Names) == 0 {
		return out, fmt.Errorf("names: empty")
	}
	for _, n := range c.Names {
		name := strings.TrimSuffix(strings.ToLower(strings.TrimSpace(n)), ".")
		base := strings.TrimPrefix(name, "*.")
		if _, ok := dns.IsDomainName(base); !ok || !strings.Contains(base, ".") || strings.Contains(base, "*") {
			return out, fmt.Errorf("names: %q is not a host name or a wildcard of one", n)
		}
		if !slices.Contains(out.names, name) {
			out.names = append(out.names, name)
		}
	}
	out.id = out.names[0]
	switch strings.ToLower(c.KeyType) {
	case "", "ec256":
		out.keyType = certcrypto.EC256
	case "ec384":
		out.keyType = certcrypto.EC384
	case "rsa2048":
		out.keyType = certcrypto.RSA2048
	case "rsa4096":
		out.keyType = certcrypto.RSA4096
	default:
		return out, fmt.Errorf("key_type %q: want rsa2048, rsa4096, ec256 or ec384", c.KeyType)
	}
	if out.dir == "" {
		return out, fmt.Errorf("dir: not set (where cert.pem, chain.pem, fullchain.pem and key.pem go)")
	}
	if !filepath.IsAbs(out.dir) {
		return out, fmt.Errorf("dir %q: must be an absolute path", out.dir)
	}
	if c.RenewBefore != "" {
		d, err := parseDays(c.RenewBefore)
		if err != nil {
			return out, fmt.Errorf("renew_before: %w", err)
		}
		out.renewBefore = d
	}
	return out, nil
}

// parseDays reads a Go duration or a number of days ("30d").
func parseDays(s string) (time.Duration, error) {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		var days int
		if _, err := fmt.Sscanf(n, "%d", &days); err == nil && days >= 0 && fmt.Sprint(days) == n {
			return time.Duration(days) * 24 * time.Hour, nil
		}
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("%q: want a duration like \"30d\" or \"720h\"", s)
	}
	return d, nil
}
