package digicert

import (
	"strings"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/providers"
)

// DCV method identifiers used by the provider.
const (
	MethodEmail = "email"
	MethodTXT   = "dns-txt-token"
	MethodCNAME = "dns-cname-token"
)

// CNAMETarget is the zone DigiCert's CNAME method points into.
const CNAMETarget = "dcv.digicert.com"

// recordFor returns the DNS record that proves control of name with the
// given random value under method.
func (s *settings) recordFor(method, name, random string) dnspublish.Record {
	name = providers.BaseName(name)
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
	name = providers.BaseName(name)
	for _, d := range domains {
		d = providers.BaseName(d)
		if name == d || strings.HasSuffix(name, "."+d) {
			return true
		}
	}
	return false
}
