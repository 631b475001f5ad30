package verify

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/miekg/dns"
)

// goal is what a poll waits for.
type goal int

const (
	goalVisible goal = iota
	goalGone
)

// recState is what earlier polls learned about one record.
type recState struct {
	q       Query
	done    map[string]ServerResult // "name|addr" (or "rec|addr") -> already serving
	queries map[string]int          // same keys -> queries sent so far
	polls   int
	served  int // servers serving after the last poll
	start   time.Time
}

func newState(q Query) *recState {
	return &recState{q: q, done: map[string]ServerResult{}, queries: map[string]int{}, start: time.Now()}
}

// round is one poll over many records; SOA probes of the same zone at the
// same address are shared between the records of that poll.
type round struct {
	mu  sync.Mutex
	soa map[string]*soaCall
}

type soaCall struct {
	done chan struct{}
	res  ServerResult
}

func newRound() *round { return &round{soa: map[string]*soaCall{}} }

// Check runs one round of queries, without waiting. The error is non-nil
// when the check could not run at all (zone not found, CNAME loop); the
// report is returned either way.
func (c *Checker) Check(ctx context.Context, q Query) (*Report, error) {
	q, err := q.normalize()
	if err != nil {
		return nil, err
	}
	if c.opts.Mode == "wait" {
		return c.waitModeReport(q, false), nil
	}
	st := newState(q)
	rep := c.poll(ctx, st, newRound(), goalVisible)
	if rep.Error != "" {
		return rep, fmt.Errorf("verify: %s: %s", q, rep.Error)
	}
	return rep, nil
}

func (c *Checker) waitModeReport(q Query, waited bool) *Report {
	r := &Report{Name: q.Name, Type: q.Type, Value: q.Value, Mode: "wait", Require: c.require()}
	if waited {
		r.Visible = true
		r.Elapsed = c.opts.Wait
		r.Note = fmt.Sprintf("mode \"wait\": waited %s without sending any query", c.opts.Wait)
	} else {
		r.Note = fmt.Sprintf("mode \"wait\": no query sent; Wait only sleeps %s", c.opts.Wait)
	}
	return r
}

func (c *Checker) require() string {
	if c.opts.Require == "quorum" {
		return fmt.Sprintf("quorum %d", c.opts.Quorum)
	}
	return "all"
}

// permanent marks report errors that polling cannot fix.
const (
	errLoop  = "CNAME loop: "
	errChain = "CNAME chain longer than "
)

func permanent(r *Report) bool {
	return strings.HasPrefix(r.Error, errLoop) || strings.HasPrefix(r.Error, errChain)
}

// poll checks st.q once at every authoritative address not yet serving it,
// following CNAMEs, and then (once visible) at the recursive resolvers.
func (c *Checker) poll(ctx context.Context, st *recState, rnd *round, g goal) *Report {
	q := st.q
	st.polls++
	rep := &Report{Name: q.Name, Type: q.Type, Value: q.Value, Mode: "authoritative", Require: c.require(), Polls: st.polls}
	defer func() {
		rep.Elapsed = time.Since(st.start)
		for _, n := range st.queries {
			rep.Queries += n
		}
	}()
	name := q.Name
	seen := []string{}
	for hop := 0; ; hop++ {
		for _, s := range seen {
			if s == name {
				rep.Error = errLoop + strings.Join(append(seen, name), " → ")
				return rep
			}
		}
		if hop > MaxHops {
			rep.Error = fmt.Sprintf("%s%d hops at %s", errChain, MaxHops, name)
			return rep
		}
		seen = append(seen, name)
		zi, err := c.zoneFor(ctx, name)
		if err != nil {
			rep.Error = err.Error()
			return rep
		}
		sec := &zoneSec{Note: "DNSSEC not checked: servers from an override (the resolvers are not asked for the DS)"}
		if !zi.Override {
			sec = c.zoneSecurity(ctx, zi.Zone)
		}
		// In a signed zone the record itself is asked for: a serial only
		// says the server has the change, not that its signature is good.
		useSerial := q.MinSerial > 0 && hop == 0 && g == goalVisible && !sec.Signed
		h := Hop{Name: name, Zone: zi.Zone, Nameservers: zi.NS, Override: zi.Override, DNSSEC: sec.describe(),
			ParentNS: zi.ParentNS, ZoneNS: zi.ZoneNS, DelegationNote: zi.DelegNote}
		h.Servers = c.askAll(ctx, st, rnd, name, zi, sec, useSerial, g)
		if q.Type == dnspublish.TXT {
			if target := aliasTarget(h.Servers); target != "" {
				h.Target = target
				rep.Chain = append(rep.Chain, h)
				name = target
				continue
			}
		}
		rep.Zone, rep.Nameservers, rep.Override, rep.Servers = h.Zone, h.Nameservers, h.Override, h.Servers
		rep.DNSSEC, rep.ParentNS, rep.ZoneNS, rep.DelegationNote = h.DNSSEC, h.ParentNS, h.ZoneNS, h.DelegationNote
		break
	}
	if g == goalGone {
		rep.Visible = !c.gone(rep)
		return rep
	}
	rep.Visible = c.decide(rep)
	if note := ipv6Note(rep, c.opts.OptionalIPv6); note != "" {
		rep.Note = joinNote(rep.Note, note)
		if c.v6warned.CompareAndSwap(false, true) {
			c.log.Warn("verify: IPv6 is not reachable from this machine; IPv6 name server addresses are reported as unreachable", "require_ipv6", !c.opts.OptionalIPv6)
		}
	}
	if rep.Visible && len(c.opts.Recursive) > 0 {
		rep.Recursive = c.askRecursive(ctx, st)
		for _, r := range rep.Recursive {
			rep.Visible = rep.Visible && r.Serves()
		}
	}
	if rep.Visible && len(c.opts.Perspectives) > 0 {
		rep.Perspectives = c.askPerspectives(ctx, st)
		rep.PerspectiveQuorum = c.perspectiveQuorum()
		good := 0
		for _, r := range rep.Perspectives {
			if r.Serves() {
				good++
			}
		}
		rep.Visible = good >= rep.PerspectiveQuorum
	}
	return rep
}

// aliasTarget returns the CNAME target most servers of a hop answered with
// ("" when none did) and marks servers pointing elsewhere as stale.
func aliasTarget(srv []ServerResult) string {
	count := map[string]int{}
	for _, s := range srv {
		if s.Status == StatusCNAME && len(s.Answer) > 0 {
			count[s.Answer[0]]++
		}
	}
	if len(count) == 0 {
		return ""
	}
	targets := make([]string, 0, len(count))
	for t := range count {
		targets = append(targets, t)
	}
	sort.Slice(targets, func(i, j int) bool {
		if count[targets[i]] != count[targets[j]] {
			return count[targets[i]] > count[targets[j]]
		}
		return targets[i] < targets[j]
	})
	best := targets[0]
	for i := range srv {
		if srv[i].Status == StatusCNAME && srv[i].Answer[0] != best {
			srv[i].Status = StatusStale
		}
	}
	return best
}

// decide applies Require to every hop.
func (c *Checker) decide(rep *Report) bool {
	for _, h := range rep.hops() {
		good, asked := 0, 0
		for _, s := range h.Servers {
			if s.Status == StatusUnreachable && c.opts.OptionalIPv6 {
				continue // require_ipv6 = false: reported, not counted
			}
			asked++
			if s.Serves() {
				good++
			}
		}
		need := asked
		if c.opts.Require == "quorum" {
			need = min(c.opts.Quorum, asked)
		}
		if asked == 0 || good < need {
			return false
		}
	}
	return true
}

// gone reports whether every server of the final name answered and none
// serves the value any more.
func (c *Checker) gone(rep *Report) bool {
	if rep.Error != "" || len(rep.Servers) == 0 {
		return false
	}
	for _, s := range rep.Servers {
		switch s.Status {
		case StatusNXDOMAIN, StatusNoData, StatusStale:
		default:
			return false
		}
	}
	return true
}

// askAll asks every address of zi about name, reusing the results of
// addresses that already served it in an earlier poll.
func (c *Checker) askAll(ctx context.Context, st *recState, rnd *round, name string, zi *zoneInfo, sec *zoneSec, useSerial bool, g goal) []ServerResult {
	out := make([]ServerResult, len(zi.Servers))
	reused := make([]bool, len(zi.Servers))
	var wg sync.WaitGroup
	for i, srv := range zi.Servers {
		key := name + "|" + srv.Addr
		if prev, ok := st.done[key]; ok && g == goalVisible {
			out[i], reused[i] = prev, true
			continue
		}
		wg.Go(func() {
			if useSerial {
				out[i] = rnd.soaProbe(ctx, c, zi.Zone, srv, st.q.MinSerial)
			} else {
				out[i] = c.queryRecord(ctx, name, st.q, srv, zi.Zone, sec)
			}
			out[i].Delegation = srv.Delegation
		})
	}
	wg.Wait()
	for i, srv := range zi.Servers {
		key := name + "|" + srv.Addr
		if !reused[i] {
			st.queries[key] += out[i].Queries
		}
		out[i].Queries = st.queries[key]
		if !reused[i] && g == goalVisible && out[i].Serves() {
			st.done[key] = out[i]
		}
	}
	return out
}

// soaProbe asks srv for the SOA of zone once per round, however many
// records of the zone are waiting, and compares its serial to min.
func (rnd *round) soaProbe(ctx context.Context, c *Checker, zone string, srv server, minSerial uint32) ServerResult {
	key := zone + "|" + srv.Addr
	rnd.mu.Lock()
	call, ok := rnd.soa[key]
	if !ok {
		call = &soaCall{done: make(chan struct{})}
		rnd.soa[key] = call
	}
	rnd.mu.Unlock()
	if !ok {
		ex := c.exchange(ctx, srv.Addr, newQuestion(zone, dns.TypeSOA, false))
		c.stats.authoritative.Add(int64(ex.queries))
		call.res = resultOf(srv, ex)
		if ex.err == nil {
			classifyRcode(&call.res, ex.msg)
			if call.res.Status == "" {
				for _, rr := range ex.msg.Answer {
					if soa, ok := rr.(*dns.SOA); ok && strings.EqualFold(soa.Hdr.Name, zone) {
						call.res.Serial = soa.Serial
						call.res.Status = StatusOK
					}
				}
				if call.res.Status == "" {
					call.res.Status = StatusNoData
					call.res.Note = "no SOA for " + zone + " in the answer"
				}
				if !ex.msg.Authoritative {
					call.res.Status = StatusLame
				}
			}
		}
		close(call.done)
	} else {
		select {
		case <-call.done:
		case <-ctx.Done():
			return ServerResult{Host: srv.Host, Addr: srv.Addr, Status: StatusError, Error: ctx.Err().Error()}
		}
	}
	res := call.res
	res.Queries = 1
	if !ok {
		res.Queries = call.res.Queries
	}
	if res.Status == StatusOK {
		if serialAtLeast(res.Serial, minSerial) {
			res.Note = joinNote(res.Note, fmt.Sprintf("SOA serial %d ≥ %d: serves the update", res.Serial, minSerial))
		} else {
			res.Status = StatusBehind
			res.Note = joinNote(res.Note, fmt.Sprintf("SOA serial %d < %d: transfer pending", res.Serial, minSerial))
		}
	}
	return res
}

// serialAtLeast compares SOA serials in RFC 1982 sequence space.
func serialAtLeast(s, min uint32) bool { return s == min || int32(s-min) > 0 }

func joinNote(a, b string) string {
	if a == "" {
		return b
	}
	if b == "" {
		return a
	}
	return a + "; " + b
}

// resultOf fills the transport part of a ServerResult.
func resultOf(srv server, ex exchanged) ServerResult {
	res := ServerResult{Host: srv.Host, Addr: srv.Addr, RTT: ex.rtt, Transport: ex.transport, Note: ex.note, Queries: ex.queries}
	if ex.err != nil {
		res.Status = StatusError
		switch {
		case isTimeout(ex.err):
			res.Status = StatusTimeout
		case ipv6Down(srv.Addr, ex.err):
			res.Status = StatusUnreachable
		}
		res.Error = ex.err.Error()
	}
	return res
}

// classifyRcode sets Status for error rcodes and leaves it empty for
// NOERROR and NXDOMAIN.
func classifyRcode(res *ServerResult, m *dns.Msg) {
	res.Rcode = dns.RcodeToString[m.Rcode]
	switch m.Rcode {
	case dns.RcodeSuccess, dns.RcodeNameError:
	case dns.RcodeRefused:
		res.Status = StatusRefused
	case dns.RcodeServerFailure:
		res.Status = StatusServfail
	default:
		res.Status = StatusRcode
	}
}

// queryRecord asks srv (RD=0) for q's type at name and classifies the answer.
func (c *Checker) queryRecord(ctx context.Context, name string, q Query, srv server, zone string, sec *zoneSec) ServerResult {
	m := newQuestion(name, q.Type.RRType(), false)
	if sec.Signed {
		setDO(m)
	}
	ex := c.exchange(ctx, srv.Addr, m)
	c.stats.authoritative.Add(int64(ex.queries))
	res := resultOf(srv, ex)
	if ex.err == nil {
		classifyAnswer(&res, ex.msg, name, q)
		if res.Serves() {
			c.checkDNSSEC(ctx, &res, ex.msg, name, q.Type.RRType(), zone, sec, srv)
		}
	}
	return res
}

// classifyAnswer reads an authoritative answer for name.
func classifyAnswer(res *ServerResult, m *dns.Msg, name string, q Query) {
	classifyRcode(res, m)
	if res.Status != "" {
		return
	}
	for _, rr := range m.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			res.Serial = soa.Serial
		}
	}
	var values, aliases []string
	for _, rr := range m.Answer {
		if !strings.EqualFold(rr.Header().Name, name) {
			continue
		}
		switch rr := rr.(type) {
		case *dns.TXT:
			values = append(values, dnspublish.TXTValue(rr)) // byte for byte: escapes undone
		case *dns.CNAME:
			aliases = append(aliases, dns.CanonicalName(rr.Target))
		}
	}
	if q.Type == dnspublish.CNAME {
		values, aliases = aliases, nil
	}
	switch {
	case !m.Authoritative:
		res.Status = StatusLame
		res.Error = "answer without the AA bit: not authoritative for " + name
		for _, rr := range m.Ns {
			if ns, ok := rr.(*dns.NS); ok {
				res.Error = "referral to " + ns.Hdr.Name + ": not authoritative for " + name
				break
			}
		}
	case len(aliases) > 0 && len(values) == 0:
		res.Status, res.Answer = StatusCNAME, aliases[:1]
	case m.Rcode == dns.RcodeNameError:
		res.Status = StatusNXDOMAIN
	case len(values) == 0:
		res.Status = StatusNoData
	default:
		res.Answer = values
		res.Status = StatusStale
		for _, v := range values {
			if q.Value == "" || v == q.Value || (q.Type == dnspublish.CNAME && strings.EqualFold(v, q.Value)) {
				res.Status = StatusOK
			}
		}
	}
}
