package verify

import (
	"context"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// Target follows the CNAME chain that starts at name, asking the resolvers,
// and returns the name at its end (name itself when it has no CNAME).
//
// It is how a record is published through a one-time delegation: a user who
// points `_acme-challenge.example.com CNAME example.com.dcv.example.net`
// at a zone dcvd serves gets the value written at the target. Asking the
// resolvers about name before publishing is safe: name itself (the CNAME)
// already exists, so nothing negative is cached for it.
func (c *Checker) Target(ctx context.Context, name string) (string, error) {
	name = dns.CanonicalName(name)
	seen := map[string]bool{}
	for hop := 0; ; hop++ {
		if seen[name] || hop > MaxHops {
			return "", fmt.Errorf("CNAME chain at %s: loop or longer than %d hops", strings.TrimSuffix(name, "."), MaxHops)
		}
		seen[name] = true
		m, srv, err := c.resolve(ctx, name, dns.TypeCNAME)
		if err != nil {
			return "", fmt.Errorf("look up CNAME %s: %w", name, err)
		}
		if m.Rcode != dns.RcodeSuccess && m.Rcode != dns.RcodeNameError {
			return "", fmt.Errorf("look up CNAME %s at %s: %s", name, srv, dns.RcodeToString[m.Rcode])
		}
		next := ""
		for _, rr := range m.Answer {
			if cn, ok := rr.(*dns.CNAME); ok && strings.EqualFold(cn.Hdr.Name, name) {
				next = dns.CanonicalName(cn.Target)
			}
		}
		if next == "" {
			return name, nil
		}
		name = next
	}
}
