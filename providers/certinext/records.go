package certinext

import (
	"fmt"
	"strings"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/providers"
	"github.com/dcvd/dcvd/providers/certinext/internal/api"
)

// domainOrderPrefix marks a Challenge.Order that is an account domain
// (prevalidation), not an SSL order.
const domainOrderPrefix = "domain:"

func domainID(order string) (string, bool) {
	id, ok := strings.CutPrefix(order, domainOrderPrefix)
	return id, ok && id != ""
}

// owner returns the TXT owner name for validating name (spec §5.4): the
// host the API named — a bare label gets ".<name>" appended, a full name
// must be name itself or lie below it — or, when it named none,
// txt_label.<name> (txt_label "@": name itself).
func (s *settings) owner(name, host string) (string, error) {
	host = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(host), "."))
	switch {
	case host == "":
		if s.label == "@" {
			return name, nil
		}
		return s.label + "." + name, nil
	case host == "@" || host == name:
		return name, nil
	case strings.HasSuffix(host, "."+name):
		return host, nil
	case !strings.Contains(host, "."):
		return host + "." + name, nil
	}
	return "", fmt.Errorf("CERTInext names TXT host %q for %s, which is not at or below it", host, name)
}

// challenge builds the Challenge that publishes value at owner for name,
// one of orderNames (the certificate's names, or the account domain).
func (s *settings) challenge(order string, orderNames []string, name, host, value, expiry string) (providers.Challenge, error) {
	owner, err := s.owner(name, host)
	if err != nil {
		return providers.Challenge{}, err
	}
	if value == "" {
		return providers.Challenge{}, fmt.Errorf("CERTInext returned no DCV token for %s", name)
	}
	ch := providers.Challenge{Order: order, Name: name, Ref: value, OrderNames: orderNames,
		Record: dnspublish.Record{FQDN: owner + ".", Type: dnspublish.TXT, Value: value}}
	ch.Expires = api.Text(expiry).Time()
	return ch, nil
}

// inDomains reports whether name equals or lies below one of domains (all
// names when domains is empty).
func inDomains(name string, domains []string) bool {
	if len(domains) == 0 {
		return true
	}
	for _, d := range domains {
		d = providers.BaseName(d)
		if name == d || strings.HasSuffix(name, "."+d) {
			return true
		}
	}
	return false
}
