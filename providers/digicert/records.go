package digicert

import (
	"strings"

	"github.com/dcvd/dcvd/dnspublish"
)

// DCV method identifiers used by the provider.
const (
	MethodEmail = "email"
	MethodTXT   = "dns-txt-token"
	MethodCNAME = "dns-cname-token"
)

// CNAMETarget is the zone DigiCert's CNAME method points into.
const CNAMETarget = "dcv.digicert.com"

// baseName strips a leading "*." and trailing dot and lower-cases name: the
// name DigiCert validates for a wildcard is its base.
func baseName(name string) string {
	name = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(name), "."))
	return strings.TrimPrefix(name, "*.")
}

// recordFor returns the DNS record that proves control of name with the
// given random value under method.
func (s *settings) recordFor(method, name, random string) dnspublish.Record {
	name = baseName(name)
	switch method {
	case MethodCNAME:
		if s.cnameForm == "legacy" {
			return dnspublish.Record{FQDN: random + "." + name + ".", Type: dnspublish.CNAME, Value: CNAMETarget + "."}
		}
		return dnspublish.Record{FQDN: "_dnsauth." + name + ".", Type: dnspublish.CNAME, Value: random + "." + CNAMETarget + "."}
	default:
		if s.txtName == "dnsauth" {
			return dnspublish.Record{FQDN: "_dnsauth." + name + ".", Type: dnspublish.TXT, Value: random}
		}
		return dnspublish.Record{FQDN: name + ".", Type: dnspublish.TXT, Value: random}
	}
}

// inDomains reports whether name equals or lies below one of domains (all
// names when domains is empty).
func inDomains(name string, domains []string) bool {
	if len(domains) == 0 {
		return true
	}
	name = baseName(name)
	for _, d := range domains {
		d = baseName(d)
		if name == d || strings.HasSuffix(name, "."+d) {
			return true
		}
	}
	return false
}
