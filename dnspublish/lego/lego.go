// Package lego publishes ACME dns-01 records through any of the lego DNS
// providers built into dcvd (providers.go): `_acme-challenge.<name>` TXT
// records whose value lego hashes itself from an ACME key authorization.
//
// That is all a lego provider can write — never a CA's random value, a
// Sectigo `_<md5>` name or a CNAME — so this backend only serves ACME
// accounts (and hooks): the configuration loader refuses a lego backend
// whose zones a non-ACME account could route records into, and Add refuses
// a record without a key authorization.
//
//	[[dns]]
//	type = "lego"
//	name = "cloudflare-via-lego"
//	provider = "cloudflare"
//	zones = ["example.com"]
//	env = { CLOUDFLARE_DNS_API_TOKEN = "${CF_TOKEN}" }   # lego's own variable names
//	# env_file = "/etc/dcvd/credentials/cloudflare.env"  # KEY=value lines
//
// dcvd does its own CNAME handling (a one-time `_acme-challenge` CNAME into
// a configured zone), so lego's is switched off (LEGO_DISABLE_CNAME_SUPPORT)
// and each provider writes exactly at `_acme-challenge.<name>`.
package lego

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/go-acme/lego/v5/challenge"

	"github.com/dcvd/dcvd/dnspublish"
)

// Options is the lego part of a [[dns]] table.
type Options struct {
	Provider string            `toml:"provider"` // lego's code: "cloudflare", "route53", "rfc2136", ...
	Env      map[string]string `toml:"env"`      // lego's environment variables for this provider
	EnvFile  string            `toml:"env_file"` // KEY=value lines, # comments
}

// Spec describes the "lego" backend type.
func Spec() dnspublish.Spec {
	s := dnspublish.SpecFor("lego", New)
	s.ACMEOnly = true
	return s
}

// Providers lists the lego provider codes this binary carries.
func Providers() []string {
	codes := make([]string, 0, len(builders))
	for c := range builders {
		codes = append(codes, c)
	}
	slices.Sort(codes)
	return codes
}

// Backend is one configured lego provider.
type Backend struct {
	name, code string
	zones      []string
	p          challenge.Provider
	mu         sync.Mutex // lego providers are not all safe for concurrent calls
	// oneValue: the provider replaces the RRset when it presents a value
	// (lego calls such providers sequential), so a name holds one value at
	// a time; live is what this process presented and has not cleaned up.
	oneValue bool
	live     map[string]string // owner name → value
}

// sequential is lego's mark of providers that hold one value per name.
type sequential interface{ Sequential() time.Duration }

// envMu serialises the process-environment juggling of New: lego providers
// read their settings from the environment when they are built.
var envMu sync.Mutex

// New builds the provider with o's variables set in the environment for the
// duration of the constructor; lego's own error (missing variables, bad
// values) is returned verbatim.
func New(base dnspublish.Base, o Options) (*Backend, error) {
	build, ok := builders[strings.ToLower(o.Provider)]
	if !ok {
		return nil, fmt.Errorf("lego %q: unknown provider %q (this build carries: %s)", base.Name, o.Provider, strings.Join(Providers(), ", "))
	}
	vars := map[string]string{}
	if o.EnvFile != "" {
		fv, err := readEnvFile(o.EnvFile)
		if err != nil {
			return nil, fmt.Errorf("lego %q: env_file: %w", base.Name, err)
		}
		vars = fv
	}
	for k, v := range o.Env {
		vars[k] = v
	}
	envMu.Lock()
	defer envMu.Unlock()
	os.Setenv("LEGO_DISABLE_CNAME_SUPPORT", "true")
	restore := make(map[string]*string, len(vars))
	for k, v := range vars {
		if old, had := os.LookupEnv(k); had {
			restore[k] = &old
		} else {
			restore[k] = nil
		}
		os.Setenv(k, v)
	}
	p, err := build()
	for k, old := range restore {
		if old == nil {
			os.Unsetenv(k)
		} else {
			os.Setenv(k, *old)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("lego %q (provider %s): %w", base.Name, o.Provider, err)
	}
	_, oneValue := p.(sequential)
	return &Backend{name: base.Name, code: strings.ToLower(o.Provider), zones: base.Zones, p: p,
		oneValue: oneValue, live: map[string]string{}}, nil
}

// readEnvFile reads KEY=value lines (blank lines and # comments skipped).
func readEnvFile(path string) (map[string]string, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]string{}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok || strings.TrimSpace(k) == "" {
			return nil, fmt.Errorf("%s:%d: want KEY=value", path, n)
		}
		out[strings.TrimSpace(k)] = strings.Trim(strings.TrimSpace(v), `"'`)
	}
	return out, sc.Err()
}

// Name is the configured backend name.
func (b *Backend) Name() string { return b.name }

// Zones are the configured zones.
func (b *Backend) Zones() []string { return b.zones }

// Add presents each record through the lego provider. With a provider that
// holds one value per name, a second value at a name is held back (a
// dnspublish.PartialError) until the first is cleaned up.
func (b *Backend) Add(ctx context.Context, zone string, recs []dnspublish.Record) (dnspublish.Result, error) {
	return dnspublish.Result{}, b.each(ctx, recs, true)
}

// Remove cleans each record up through the lego provider.
func (b *Backend) Remove(ctx context.Context, zone string, recs []dnspublish.Record) (dnspublish.Result, error) {
	return dnspublish.Result{}, b.each(ctx, recs, false)
}

func (b *Backend) each(ctx context.Context, recs []dnspublish.Record, add bool) error {
	b.mu.Lock()
	defer b.mu.Unlock()
	failed := map[string]error{}
	for _, r := range recs {
		domain, token, err := acmeShape(r)
		if err != nil {
			return fmt.Errorf("lego %q: %w", b.name, err)
		}
		if add && b.oneValue {
			if v, ok := b.live[r.FQDN]; ok && v != r.Value {
				failed[r.Key()] = fmt.Errorf("lego provider %s holds one value per name: waiting until the other value at %s is cleaned up", b.code, r.FQDN)
				continue
			}
		}
		what, call := "present", b.p.Present
		if !add {
			what, call = "clean up", b.p.CleanUp
		}
		if err := call(ctx, domain, token, r.KeyAuth); err != nil {
			failed[r.Key()] = fmt.Errorf("lego %q (provider %s): %s %s: %s", b.name, b.code, what, r.FQDN, strings.Join(strings.Fields(err.Error()), " "))
			continue
		}
		switch {
		case add:
			b.live[r.FQDN] = r.Value
		case b.live[r.FQDN] == r.Value:
			delete(b.live, r.FQDN)
		}
	}
	switch {
	case len(failed) == 0:
		return nil
	case len(failed) == len(recs):
		for _, err := range failed {
			return err // one line: the first cause
		}
	}
	return &dnspublish.PartialError{Failed: failed}
}

// acmeShape returns the domain and token of an ACME dns-01 record, or why
// the record is not one.
func acmeShape(r dnspublish.Record) (domain, token string, err error) {
	if r.KeyAuth == "" || r.Type != dnspublish.TXT {
		return "", "", fmt.Errorf("%s %s: a lego provider can only publish ACME dns-01 records (a TXT hashed from a key authorization), not a value a CA chose; route this name to another backend", r.FQDN, r.Type)
	}
	d, ok := strings.CutPrefix(r.FQDN, "_acme-challenge.")
	if !ok {
		return "", "", fmt.Errorf("%s: a lego provider writes only at _acme-challenge.<name>", r.FQDN)
	}
	token, _, _ = strings.Cut(r.KeyAuth, ".")
	return strings.TrimSuffix(d, "."), token, nil
}
