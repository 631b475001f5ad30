package webnic

import (
	"fmt"
	"strings"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/webnic/internal/api"
)

// recordFor turns one DNS challenge into the name it validates and the
// record to publish: exactly WebNIC's host, recordType and value. Only the
// form changes: the host becomes an FQDN, a "*" label in it is dropped (a
// wildcard is validated on its base name), and a CNAME value becomes a
// fully qualified target (Sectigo's FAQ: a target without the trailing dot
// ends up below the zone). The TXT value is never touched, case included.
func recordFor(c api.Challenge) (string, dnspublish.Record, error) {
	name := providers.BaseName(c.Name)
	if name == "" {
		return "", dnspublish.Record{}, fmt.Errorf("a challenge without a name (host %q)", c.Host)
	}
	host := strings.TrimSuffix(strings.TrimSpace(c.Host), ".")
	host = strings.Replace(host, ".*.", ".", 1)
	host = strings.TrimPrefix(host, "*.")
	value := strings.TrimSpace(c.Value)
	if host == "" || value == "" {
		return "", dnspublish.Record{}, fmt.Errorf("%s: WebNIC gave no host or no value for its DNS challenge", c.Name)
	}
	typ, err := dnspublish.ParseType(c.RecordType)
	if c.RecordType == "" {
		typ, err = dnspublish.TXT, nil // the only documented example is TXT
	}
	if err != nil {
		return "", dnspublish.Record{}, fmt.Errorf("%s: %w", c.Name, err)
	}
	rec := dnspublish.Record{FQDN: dns.Fqdn(strings.ToLower(host)), Type: typ, Value: value}
	if typ == dnspublish.CNAME {
		rec.Value = dns.Fqdn(value)
	}
	return name, rec, nil
}

// inDomains reports whether name is one of domains or below one (every
// name when domains is empty).
func inDomains(name string, domains []string) bool {
	n := providers.BaseName(name)
	for _, d := range domains {
		if d = providers.BaseName(d); n == d || strings.HasSuffix(n, "."+d) {
			return true
		}
	}
	return len(domains) == 0
}
