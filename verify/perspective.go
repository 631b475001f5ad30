package verify

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/miekg/dns"
)

// perspectiveQuorum is how many perspectives must serve the value:
// Options.PerspectiveQuorum, or the CA/B Forum's multi-perspective rule
// (BR 3.2.2.9): with up to 5 remote perspectives one may disagree, with 6
// or more two may; a single perspective must agree.
func (c *Checker) perspectiveQuorum() int {
	n := len(c.opts.Perspectives)
	switch {
	case c.opts.PerspectiveQuorum > 0:
		return c.opts.PerspectiveQuorum
	case n <= 1:
		return n
	case n < 6:
		return n - 1
	default:
		return n - 2
	}
}

// askPerspectives asks every perspective (RD=1) for the record, reusing the
// answers of those that already served it.
func (c *Checker) askPerspectives(ctx context.Context, st *recState) []ServerResult {
	q := st.q
	out := make([]ServerResult, len(c.opts.Perspectives))
	var wg sync.WaitGroup
	for i, p := range c.opts.Perspectives {
		if prev, ok := st.done[fmt.Sprintf("persp|%d", i)]; ok {
			out[i] = prev
			continue
		}
		wg.Go(func() {
			m := newQuestion(q.Name, q.Type.RRType(), true)
			var ex exchanged
			addr := p.Addr
			if p.URL != "" {
				addr = p.URL
				ex = c.exchangeDoH(ctx, p.URL, m)
			} else {
				ex = c.exchange(ctx, p.Addr, m)
			}
			c.stats.recursive.Add(int64(ex.queries))
			res := resultOf(server{Host: p.Name, Addr: addr}, ex)
			if ex.err == nil {
				classifyRecursive(&res, ex.msg, q)
			}
			out[i] = res
		})
	}
	wg.Wait()
	for i := range c.opts.Perspectives {
		if out[i].Serves() {
			st.done[fmt.Sprintf("persp|%d", i)] = out[i]
		}
	}
	return out
}

// maxDoHBody caps a DoH response (a DNS message is at most 64 KiB).
const maxDoHBody = 65535

// exchangeDoH sends m to a DoH endpoint (RFC 8484: POST, body and answer
// application/dns-message, message ID 0).
func (c *Checker) exchangeDoH(ctx context.Context, url string, m *dns.Msg) exchanged {
	res := exchanged{transport: "doh", queries: 1}
	start := time.Now()
	m.Id = 0
	wire, err := m.Pack()
	if err != nil {
		res.err = fmt.Errorf("pack query: %w", err)
		return res
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.QueryTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(wire))
	if err != nil {
		res.err = err
		return res
	}
	req.Header.Set("Content-Type", "application/dns-message")
	req.Header.Set("Accept", "application/dns-message")
	resp, err := c.doh.Do(req)
	if err != nil {
		res.err = err
		res.rtt = time.Since(start)
		return res
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, maxDoHBody+1))
	switch {
	case err != nil:
		res.err = fmt.Errorf("DoH %s: read answer: %w", url, err)
	case resp.StatusCode != http.StatusOK:
		res.err = fmt.Errorf("DoH %s: HTTP %s", url, resp.Status)
	case len(body) > maxDoHBody:
		res.err = fmt.Errorf("DoH %s: answer larger than %d bytes", url, maxDoHBody)
	default:
		r := new(dns.Msg)
		if err := r.Unpack(body); err != nil {
			res.err = fmt.Errorf("DoH %s: malformed answer: %w", url, err)
		} else {
			res.msg = r
		}
	}
	res.rtt = time.Since(start)
	return res
}
