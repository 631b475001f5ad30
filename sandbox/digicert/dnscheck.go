package digicert

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
)

// resolver looks DCV records up in DNS, for real, with miekg/dns.
type resolver struct {
	servers []string
	timeout time.Duration
}

func newResolver(servers []string, timeout time.Duration) *resolver {
	return &resolver{servers: servers, timeout: timeout}
}

// maxChain bounds CNAME chasing.
const maxChain = 8

// txt returns every TXT value (character-strings joined) at name, following
// CNAMEs (the owner may point into a zone served elsewhere), gathered from
// every server.
func (r *resolver) txt(ctx context.Context, name string) ([]string, error) {
	return r.txtDepth(ctx, dns.Fqdn(name), 0)
}

func (r *resolver) txtDepth(ctx context.Context, name string, depth int) ([]string, error) {
	if depth > maxChain {
		return nil, fmt.Errorf("CNAME chain at %s longer than %d", name, maxChain)
	}
	var out []string
	var errs []error
	for _, srv := range r.servers {
		ans, err := r.query(ctx, srv, name, dns.TypeTXT)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		cur := name
		for i := 0; i < maxChain; i++ {
			next := ""
			for _, rr := range ans {
				if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, cur) {
					next = c.Target
				}
			}
			if next == "" {
				break
			}
			cur = next
		}
		found := false
		for _, rr := range ans {
			if t, ok := rr.(*dns.TXT); ok && strings.EqualFold(t.Hdr.Name, cur) {
				out = append(out, dnspublish.TXTValue(t))
				found = true
			}
		}
		if !found && !strings.EqualFold(cur, name) {
			more, err := r.txtDepth(ctx, cur, depth+1)
			if err != nil {
				errs = append(errs, err)
			}
			out = append(out, more...)
		}
	}
	if len(out) == 0 && len(errs) == len(r.servers) && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// cname returns the CNAME targets at name from every server.
func (r *resolver) cname(ctx context.Context, name string) ([]string, error) {
	name = dns.Fqdn(name)
	var out []string
	var errs []error
	for _, srv := range r.servers {
		ans, err := r.query(ctx, srv, name, dns.TypeCNAME)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		for _, rr := range ans {
			if c, ok := rr.(*dns.CNAME); ok && strings.EqualFold(c.Hdr.Name, name) {
				out = append(out, strings.ToLower(c.Target))
			}
		}
	}
	if len(out) == 0 && len(errs) == len(r.servers) && len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

// query asks one server (UDP, TCP when truncated) and returns the answer
// section. NXDOMAIN and NODATA give an empty answer and no error.
func (r *resolver) query(ctx context.Context, server, name string, qtype uint16) ([]dns.RR, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.RecursionDesired = true
	m.SetEdns0(4096, false)
	c := &dns.Client{Timeout: r.timeout}
	resp, _, err := c.ExchangeContext(ctx, m, server)
	var ne net.Error
	if (err == nil && resp.Truncated) || (errors.As(err, &ne) && ne.Timeout() && ctx.Err() == nil) {
		// Truncated, or no UDP answer in time (a lost datagram, a server
		// busy with updates): asked again over TCP, as a CA's resolver
		// retries before it calls a record missing.
		c.Net = "tcp"
		resp, _, err = c.ExchangeContext(ctx, m, server)
	}
	if err != nil {
		return nil, fmt.Errorf("%s %s at %s: %w", name, dns.TypeToString[qtype], server, err)
	}
	switch resp.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
		return resp.Answer, nil
	}
	return nil, fmt.Errorf("%s %s at %s: %s", name, dns.TypeToString[qtype], server, dns.RcodeToString[resp.Rcode])
}

// proof is what the simulator looks for to approve one name.
type proof struct {
	name   string   // name_scope
	method string   // dns-txt-token | dns-cname-token
	values []string // acceptable random values (order value, domain token)
}

// check reports whether DNS holds a record proving control of p.name with
// one of p.values, and what it saw (for logs).
func (s *Server) check(ctx context.Context, p proof) (bool, string) {
	name := strings.TrimSuffix(p.name, ".")
	switch p.method {
	case "dns-txt-token":
		owners := []string{name}
		if !s.opts.NoDNSAuthTXT {
			owners = append(owners, "_dnsauth."+name)
		}
		var seen []string
		for _, owner := range owners {
			vals, err := s.dns.txt(ctx, owner)
			if err != nil {
				seen = append(seen, err.Error())
				continue
			}
			for _, v := range vals {
				for _, want := range p.values {
					if want != "" && v == want {
						return true, owner + " TXT " + v
					}
				}
			}
			seen = append(seen, fmt.Sprintf("%s TXT %q", owner, vals))
		}
		return false, strings.Join(seen, "; ")
	case "dns-cname-token":
		var seen []string
		targets, err := s.dns.cname(ctx, "_dnsauth."+name)
		if err != nil {
			seen = append(seen, err.Error())
		}
		for _, t := range targets {
			for _, want := range p.values {
				if want != "" && strings.EqualFold(t, dns.Fqdn(want+".dcv.digicert.com")) {
					return true, "_dnsauth." + name + " CNAME " + t
				}
			}
		}
		seen = append(seen, fmt.Sprintf("_dnsauth.%s CNAME %q", name, targets))
		for _, want := range p.values {
			if want == "" {
				continue
			}
			targets, err := s.dns.cname(ctx, want+"."+name)
			if err != nil {
				seen = append(seen, err.Error())
			}
			for _, t := range targets {
				if strings.EqualFold(t, "dcv.digicert.com.") {
					return true, want + "." + name + " CNAME " + t
				}
			}
		}
		return false, strings.Join(seen, "; ")
	}
	return false, "method " + p.method + " is not checked by DNS"
}
