package verify

import (
	"fmt"
	"strings"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/miekg/dns"
)

// Query names one record to check.
type Query struct {
	Name string          // owner name, e.g. "_acme-challenge.example.com"
	Type dnspublish.Type // TXT (default) or CNAME
	// Value is the expected TXT value (character-strings joined) or CNAME
	// target. Empty: only show what the servers hold; visible then means
	// every server holds some record of the type.
	Value string
	// MinSerial is the zone serial an RFC 2136 update returned
	// (dnspublish.Result.Serial); 0 = unknown. A server whose SOA serial is
	// at least MinSerial serves the change, so only its SOA is asked.
	MinSerial uint32
}

func (q Query) normalize() (Query, error) {
	name := strings.TrimSpace(q.Name)
	if name == "" {
		return q, fmt.Errorf("verify: empty record name")
	}
	if _, ok := dns.IsDomainName(name); !ok {
		return q, fmt.Errorf("verify: %q is not a domain name", q.Name)
	}
	q.Name = dns.CanonicalName(name)
	switch q.Type {
	case "":
		q.Type = dnspublish.TXT
	case dnspublish.TXT, dnspublish.CNAME:
	default:
		t, err := dnspublish.ParseType(string(q.Type))
		if err != nil {
			return q, fmt.Errorf("verify: %s: %w", q.Name, err)
		}
		q.Type = t
	}
	if q.Type == dnspublish.CNAME && q.Value != "" {
		if _, ok := dns.IsDomainName(q.Value); !ok {
			return q, fmt.Errorf("verify: %s CNAME: target %q is not a domain name", q.Name, q.Value)
		}
		q.Value = dns.CanonicalName(q.Value)
	}
	return q, nil
}

// String is "TXT _acme-challenge.example.com".
func (q Query) String() string { return string(q.Type) + " " + q.Name }
