package certinext

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// perspective is what one DNS server (one "network perspective") answered
// for the expected owner.
type perspective struct {
	Server string   `json:"perspective"`
	Status string   `json:"status"` // MATCH, MISMATCH, NOT_FOUND, ERROR
	Values []string `json:"values"`
	Error  string   `json:"error,omitempty"`
}

// lookup asks every configured server for the TXT values at owner (a CNAME
// at owner is followed, as a resolver would) and grades each answer against
// want. It runs without s.mu held.
func (s *Server) lookup(ctx context.Context, owner, want string) []perspective {
	out := make([]perspective, len(s.opts.DNSServers))
	for i, srv := range s.opts.DNSServers {
		p := perspective{Server: srv, Status: "NOT_FOUND", Values: []string{}}
		vals, err := txtAt(ctx, srv, dns.Fqdn(owner), s.opts.DNSTimeout)
		switch {
		case err != nil:
			p.Status, p.Error = "ERROR", err.Error()
		case len(vals) > 0:
			p.Values, p.Status = vals, "MISMATCH"
			for _, v := range vals {
				if v == want {
					p.Status = "MATCH"
				}
			}
		}
		out[i] = p
	}
	return out
}

// txtAt returns the TXT strings one server holds at name, following up to
// eight CNAMEs, each asked again of the same server.
func txtAt(ctx context.Context, server, name string, timeout time.Duration) ([]string, error) {
	c := &dns.Client{Timeout: timeout}
	for hop := 0; hop < 8; hop++ {
		q := new(dns.Msg).SetQuestion(name, dns.TypeTXT)
		q.SetEdns0(4096, false)
		resp, _, err := c.ExchangeContext(ctx, q, server)
		if err == nil && resp.Truncated {
			tcp := &dns.Client{Net: "tcp", Timeout: timeout}
			resp, _, err = tcp.ExchangeContext(ctx, q, server)
		}
		if err != nil {
			return nil, fmt.Errorf("TXT %s at %s: %w", name, server, err)
		}
		if resp.Rcode != dns.RcodeSuccess && resp.Rcode != dns.RcodeNameError {
			return nil, fmt.Errorf("TXT %s at %s: %s", name, server, dns.RcodeToString[resp.Rcode])
		}
		var vals []string
		next := ""
		for _, rr := range resp.Answer {
			switch rr := rr.(type) {
			case *dns.TXT:
				vals = append(vals, strings.Join(rr.Txt, ""))
			case *dns.CNAME:
				if strings.EqualFold(rr.Hdr.Name, name) {
					next = rr.Target
				}
			}
		}
		if len(vals) > 0 || next == "" {
			return vals, nil
		}
		name = next
	}
	return nil, fmt.Errorf("TXT %s at %s: CNAME chain too long", name, server)
}
