package webnic

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// lookup asks DNS servers directly (miekg/dns) whether a challenge record
// is there. It is the simulator's own code, independent of dcvd's verify
// package.
type lookup struct {
	servers []string
	timeout time.Duration
}

// ask sends one query to one server (UDP, then TCP if truncated) and returns
// the answer section; NXDOMAIN is an empty answer.
func (l *lookup) ask(ctx context.Context, server, owner string, qtype uint16) ([]dns.RR, error) {
	q := new(dns.Msg).SetQuestion(dns.Fqdn(owner), qtype)
	q.SetEdns0(4096, false)
	client := &dns.Client{Timeout: l.timeout}
	in, _, err := client.ExchangeContext(ctx, q, server)
	if err == nil && in.Truncated {
		client.Net = "tcp"
		in, _, err = client.ExchangeContext(ctx, q, server)
	}
	if err != nil {
		return nil, err
	}
	if in.Rcode != dns.RcodeSuccess && in.Rcode != dns.RcodeNameError {
		return nil, fmt.Errorf("%s %s at %s: rcode %s", owner, dns.TypeToString[qtype], server, dns.RcodeToString[in.Rcode])
	}
	return in.Answer, nil
}

// serves reports whether any server answers owner with exactly the
// challenge: a TXT whose joined strings equal value (followed through at
// most a few CNAMEs, as a resolver would), or a CNAME whose target is value
// (case-insensitive, as DNS names are). seen describes what was there.
func (l *lookup) serves(ctx context.Context, owner, rtype, value string) (ok bool, seen string) {
	var notes []string
	for _, srv := range l.servers {
		cur := dns.Fqdn(owner)
		for hop := 0; hop < 4; hop++ {
			qtype := dns.TypeTXT
			if rtype == "CNAME" {
				qtype = dns.TypeCNAME
			}
			rrs, err := l.ask(ctx, srv, cur, qtype)
			if err != nil {
				notes = append(notes, err.Error())
				break
			}
			next := ""
			for _, rr := range rrs {
				if !strings.EqualFold(rr.Header().Name, cur) {
					continue
				}
				switch v := rr.(type) {
				case *dns.TXT:
					got := strings.Join(v.Txt, "")
					notes = append(notes, fmt.Sprintf("%s TXT %q", cur, got))
					if rtype == "TXT" && got == value {
						return true, cur + " TXT " + got
					}
				case *dns.CNAME:
					notes = append(notes, fmt.Sprintf("%s CNAME %s", cur, v.Target))
					if rtype == "CNAME" && strings.EqualFold(v.Target, dns.Fqdn(value)) {
						return true, cur + " CNAME " + v.Target
					}
					next = v.Target
				}
			}
			if rtype == "CNAME" || next == "" {
				break
			}
			cur = next
		}
	}
	if len(notes) == 0 {
		notes = append(notes, "nothing at "+owner)
	}
	return false, strings.Join(notes, "; ")
}

// candidates are the owners Sectigo looks at for one name's challenge at
// host "_<MD5>.<base>": the host itself, then the same label below each
// parent of base, never below a bare top-level label (spec §5.2).
func candidates(host string) []string {
	label, rest, ok := strings.Cut(strings.TrimSuffix(host, "."), ".")
	if !ok {
		return []string{host}
	}
	out := []string{host}
	for {
		_, parent, ok := strings.Cut(rest, ".")
		if !ok || !strings.Contains(parent, ".") {
			return out
		}
		out = append(out, label+"."+parent)
		rest = parent
	}
}

// checkName reports whether DNS proves control of a name of o. Called
// without s.mu held (it does network I/O).
func (s *Server) checkName(ctx context.Context, id int, host, rtype, value string) bool {
	for _, owner := range candidates(host) {
		ok, seen := s.dns.serves(ctx, owner, rtype, value)
		s.log.Info("webnic sandbox DNS check", "order", id, "owner", owner, "type", rtype, "found", ok, "saw", seen)
		if ok {
			return true
		}
	}
	return false
}
