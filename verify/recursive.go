package verify

import (
	"context"
	"strings"
	"sync"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/miekg/dns"
)

// askRecursive asks every Options.Recursive resolver (RD=1) for the record.
// It runs only after the authoritative check passed, so a resolver never
// caches a negative answer for a name that is about to exist.
func (c *Checker) askRecursive(ctx context.Context, st *recState) []ServerResult {
	q := st.q
	out := make([]ServerResult, len(c.opts.Recursive))
	var wg sync.WaitGroup
	for i, addr := range c.opts.Recursive {
		if prev, ok := st.done["rec|"+addr]; ok {
			out[i] = prev
			continue
		}
		wg.Go(func() {
			ex := c.exchange(ctx, addr, newQuestion(q.Name, q.Type.RRType(), true))
			c.stats.recursive.Add(int64(ex.queries))
			res := resultOf(server{Addr: addr}, ex)
			if ex.err == nil {
				classifyRecursive(&res, ex.msg, q)
			}
			out[i] = res
		})
	}
	wg.Wait()
	for i, addr := range c.opts.Recursive {
		if out[i].Serves() {
			st.done["rec|"+addr] = out[i]
		}
	}
	return out
}

// classifyRecursive reads a resolver's answer: any record of the type in the
// answer section counts (the resolver has followed the CNAME chain).
func classifyRecursive(res *ServerResult, m *dns.Msg, q Query) {
	classifyRcode(res, m)
	if res.Status != "" {
		return
	}
	for _, rr := range m.Answer {
		switch rr := rr.(type) {
		case *dns.TXT:
			if q.Type == dnspublish.TXT {
				res.Answer = append(res.Answer, dnspublish.TXTValue(rr))
			}
		case *dns.CNAME:
			if q.Type == dnspublish.CNAME && strings.EqualFold(rr.Hdr.Name, q.Name) {
				res.Answer = append(res.Answer, dns.CanonicalName(rr.Target))
			}
		}
	}
	switch {
	case m.Rcode == dns.RcodeNameError:
		res.Status = StatusNXDOMAIN
	case len(res.Answer) == 0:
		res.Status = StatusNoData
	default:
		res.Status = StatusStale
		for _, v := range res.Answer {
			if q.Value == "" || v == q.Value || (q.Type == dnspublish.CNAME && strings.EqualFold(v, q.Value)) {
				res.Status = StatusOK
			}
		}
	}
}
