package verify

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// CAAResult is the RFC 8659 verdict on one name for one CA.
type CAAResult struct {
	Name    string   `json:"name"`    // as asked; "*.example.com" is a wildcard (issuewild applies)
	Issuers []string `json:"issuers"` // the CA's issuer domain names
	// Relevant is the name whose CAA RRset decides ("" when no name from
	// Name up to the TLD has one); Alias the CNAME chain its lookup
	// followed; Records the RRset.
	Relevant string   `json:"relevant,omitempty"`
	Alias    []string `json:"alias,omitempty"`
	Records  []string `json:"records,omitempty"`
	// Allowed: the CA may issue. Forbidden (Allowed false, Error empty) is
	// final: the CA will refuse whatever DCV shows.
	Allowed bool   `json:"allowed"`
	Reason  string `json:"reason"`
	// DNSSEC is Secure, Insecure or Bogus for the lookups (the worst one).
	DNSSEC string `json:"dnssec,omitempty"`
	// Error: the lookup did not give an answer to decide on (SERVFAIL,
	// bogus DNSSEC, resolver trouble). Hold means a validating CA would
	// refuse too (SERVFAIL, bogus): do not ask it yet.
	Error string      `json:"error,omitempty"`
	Hold  bool        `json:"hold,omitempty"`
	Steps []CAALookup `json:"lookups"`
}

// CAALookup is one name asked on the climb.
type CAALookup struct {
	Name   string   `json:"name"`
	Rcode  string   `json:"rcode"`
	Alias  []string `json:"alias,omitempty"`
	Found  int      `json:"found"` // CAA records
	DNSSEC string   `json:"dnssec,omitempty"`
	Note   string   `json:"note,omitempty"`
}

// Forbidden reports a definite "this CA may not issue".
func (r *CAAResult) Forbidden() bool { return !r.Allowed && r.Error == "" }

// CAA finds the relevant CAA RRset of name the way RFC 8659 section 3
// says — ask for CAA at name (the resolvers follow CNAMEs), then at each
// parent up to (not including) the root, and take the first non-empty
// RRset — and decides whether a CA with one of issuers may issue for it.
// A wildcard name ("*.example.com") is decided by issuewild when the RRset
// has any, else by issue. Answers from signed zones are validated like the
// record itself (positive RRsets by their RRSIGs, "no CAA here" by the
// NSEC/NSEC3 records that prove it).
func (c *Checker) CAA(ctx context.Context, name string, issuers []string) (*CAAResult, error) {
	name = strings.TrimSpace(name)
	wild := strings.HasPrefix(name, "*.")
	base := dns.CanonicalName(strings.TrimPrefix(name, "*."))
	if _, ok := dns.IsDomainName(base); !ok || base == "." {
		return nil, fmt.Errorf("verify: CAA: %q is not a domain name", name)
	}
	if c.resErr != nil {
		return nil, fmt.Errorf("verify: CAA %s: %w", name, c.resErr)
	}
	res := &CAAResult{Name: strings.TrimSuffix(name, "."), Issuers: issuers}
	var rrset []*dns.CAA
	for n := base; n != "."; n = parentName(n) {
		var (
			step CAALookup
			caa  []*dns.CAA
			err  error
		)
		if n == base { // the name's own step: asked every time
			step, caa, _, err = c.caaAt(ctx, n)
		} else {
			step, caa, err = c.caaAtCached(ctx, n)
		}
		res.Steps = append(res.Steps, step)
		res.DNSSEC = worseSec(res.DNSSEC, step.DNSSEC)
		if err != nil {
			res.Error = err.Error()
			res.Hold = step.Rcode == "SERVFAIL" || step.DNSSEC == Bogus
			res.Reason = "CAA not decided: " + res.Error
			return res, nil
		}
		if len(caa) > 0 {
			rrset, res.Relevant, res.Alias = caa, strings.TrimSuffix(n, "."), step.Alias
			break
		}
	}
	for _, rr := range rrset {
		res.Records = append(res.Records, fmt.Sprintf("%d %s %q", rr.Flag, rr.Tag, rr.Value))
	}
	decideCAA(res, rrset, wild)
	return res, nil
}

// decideCAA applies RFC 8659 sections 4.2 and 4.3 to the relevant RRset.
func decideCAA(res *CAAResult, rrset []*dns.CAA, wild bool) {
	at := "CAA at " + res.Relevant
	if len(res.Alias) > 0 {
		at += " (via CNAME " + strings.Join(res.Alias, " → ") + ")"
	}
	if len(rrset) == 0 {
		res.Allowed, res.Reason = true, "no CAA record at "+res.Name+" or above: any CA may issue"
		return
	}
	var issue, issuewild []*dns.CAA
	for _, rr := range rrset {
		switch strings.ToLower(rr.Tag) {
		case "issue":
			issue = append(issue, rr)
		case "issuewild":
			issuewild = append(issuewild, rr)
		case "iodef", "contactemail", "contactphone", "issuemail", "issuevmc":
		default:
			if rr.Flag&128 != 0 {
				res.Reason = fmt.Sprintf("%s has the unknown critical property %q: no CA may issue", at, rr.Tag)
				return
			}
		}
	}
	set, tag := issue, "issue"
	if wild && len(issuewild) > 0 {
		set, tag = issuewild, "issuewild"
	}
	if len(set) == 0 {
		res.Allowed, res.Reason = true, at+" has no "+tag+" property: any CA may issue"
		return
	}
	var named []string
	for _, rr := range set {
		issuer, _, _ := strings.Cut(rr.Value, ";")
		issuer = strings.ToLower(strings.TrimSpace(issuer))
		for _, want := range res.Issuers {
			if issuer != "" && issuer == strings.ToLower(want) {
				res.Allowed, res.Reason = true, fmt.Sprintf("%s allows %s (%s)", at, issuer, tag)
				return
			}
		}
		if issuer != "" && !contains(named, issuer) {
			named = append(named, issuer)
		}
	}
	if tag == "issuewild" {
		at += " (issuewild, for the wildcard)"
	}
	if len(named) == 0 {
		res.Reason = fmt.Sprintf("%s forbids every CA (%s \";\")", at, tag)
		return
	}
	sort.Strings(named)
	res.Reason = fmt.Sprintf("%s allows only %s", at, strings.Join(named, ", "))
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// worseSec keeps the worst DNSSEC verdict: bogus > insecure > secure.
func worseSec(a, b string) string {
	rank := map[string]int{"": 0, Secure: 1, Insecure: 2, Bogus: 3}
	if rank[b] > rank[a] {
		return b
	}
	return a
}

// caaCacheMax bounds how long a parent's CAA answer is reused.
const caaCacheMax = 5 * time.Minute

// caaAnswer is one cached CAA lookup.
type caaAnswer struct {
	step CAALookup
	rrs  []*dns.CAA
	err  error
}

// caaAtCached is caaAt for the parents on a climb (example.com and com for
// www.example.com), which every name below them shares: answered from the
// checker's cache for the answer's TTL (a negative one's SOA minimum), at
// most caaCacheMax, as the CA's own resolver would. Concurrent climbs
// through one parent wait for one lookup. A failed lookup is kept for a
// second only, so the names checked with it at that moment get the same
// verdict.
func (c *Checker) caaAtCached(ctx context.Context, n string) (CAALookup, []*dns.CAA, error) {
	v, err := c.cache.get(ctx, "caa:"+n, func() (any, time.Duration, error) {
		step, rrs, ttl, err := c.caaAt(ctx, n)
		if err != nil {
			if ctx.Err() != nil {
				return nil, 0, err // this caller gave up: not an answer
			}
			ttl = 0
		}
		return &caaAnswer{step, rrs, err}, min(ttl, caaCacheMax), nil
	})
	if err != nil {
		return CAALookup{Name: strings.TrimSuffix(n, ".")}, nil, fmt.Errorf("CAA %s: %w", n, err)
	}
	a := v.(*caaAnswer)
	return a.step, a.rrs, a.err
}

// caaAt asks the resolvers for CAA at n (RD=1, DO, CD) and returns the CAA
// records at the end of its CNAME chain, validating what signed zones said,
// and how long the answer may be cached (answerTTL).
func (c *Checker) caaAt(ctx context.Context, n string) (CAALookup, []*dns.CAA, time.Duration, error) {
	step := CAALookup{Name: strings.TrimSuffix(n, ".")}
	r, srv, err := c.resolveDO(ctx, n, dns.TypeCAA)
	if err != nil {
		return step, nil, 0, fmt.Errorf("CAA %s: %w", n, err)
	}
	step.Rcode = dns.RcodeToString[r.Rcode]
	if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
		return step, nil, 0, fmt.Errorf("CAA %s at resolver %s: %s", strings.TrimSuffix(n, "."), srv, step.Rcode)
	}
	owner := n
	for hop := 0; hop <= MaxHops; hop++ {
		cn := rrsetOf(r.Answer, owner, dns.TypeCNAME)
		if len(cn) == 0 {
			break
		}
		if err := c.caaValidate(ctx, r, owner, dns.TypeCNAME, &step); err != nil {
			return step, nil, 0, err
		}
		owner = dns.CanonicalName(cn[0].(*dns.CNAME).Target)
		step.Alias = append(step.Alias, strings.TrimSuffix(owner, "."))
	}
	var out []*dns.CAA
	for _, rr := range rrsetOf(r.Answer, owner, dns.TypeCAA) {
		out = append(out, rr.(*dns.CAA))
	}
	step.Found = len(out)
	if len(out) > 0 {
		err = c.caaValidate(ctx, r, owner, dns.TypeCAA, &step)
	} else {
		err = c.caaDenial(ctx, r, owner, &step)
	}
	return step, out, answerTTL(r), err
}

// answerTTL is how long r may be cached: the smallest TTL in its answer,
// or for "no CAA here" the SOA's negative TTL (RFC 2308; 0 without one).
func answerTTL(r *dns.Msg) time.Duration {
	var ttl uint32
	seen := false
	for _, rr := range r.Answer {
		if !seen || rr.Header().Ttl < ttl {
			ttl, seen = rr.Header().Ttl, true
		}
	}
	if !seen {
		for _, rr := range r.Ns {
			if soa, ok := rr.(*dns.SOA); ok {
				ttl = min(soa.Hdr.Ttl, soa.Minttl)
			}
		}
	}
	return time.Duration(ttl) * time.Second
}

// caaValidate checks the RRSIG of owner/qtype in a resolver answer when the
// owner's zone is signed.
func (c *Checker) caaValidate(ctx context.Context, r *dns.Msg, owner string, qtype uint16, step *CAALookup) error {
	if c.opts.SkipDNSSEC {
		return nil
	}
	zone := ""
	for _, s := range sigsFor(r.Answer, owner, qtype) {
		zone = dns.CanonicalName(s.SignerName)
	}
	if zone == "" {
		z, err := c.walkSOA(ctx, owner)
		if err != nil {
			step.Note = joinNote(step.Note, "DNSSEC not checked: "+err.Error())
			return nil
		}
		zone = z
	}
	sec := c.zoneSecurity(ctx, zone)
	if !sec.Signed {
		step.DNSSEC = worseSec(step.DNSSEC, Insecure)
		return nil
	}
	keys, err := c.keysAt(ctx, zone, sec, c.resolvers[0], true)
	if err == nil {
		err = validateRRset(rrsetOf(r.Answer, owner, qtype), sigsFor(r.Answer, owner, qtype), keys, zone, time.Now())
	}
	if err != nil {
		step.DNSSEC = Bogus
		return fmt.Errorf("CAA %s: DNSSEC bogus in %s: %v", strings.TrimSuffix(step.Name, "."), zone, err)
	}
	step.DNSSEC = worseSec(step.DNSSEC, Secure)
	return nil
}

// caaDenial checks, in a signed zone, that "no CAA at owner" is proven: the
// NSEC/NSEC3 records of the answer validate, and one of them matches owner
// with neither CAA nor CNAME in its type map (NODATA) or covers it
// (NXDOMAIN; for NSEC3 a matching closest encloser and a covered next
// closer name). The wildcard part of an NXDOMAIN proof is not checked.
func (c *Checker) caaDenial(ctx context.Context, r *dns.Msg, owner string, step *CAALookup) error {
	if c.opts.SkipDNSSEC {
		return nil
	}
	zone := ""
	for _, rr := range r.Ns {
		if soa, ok := rr.(*dns.SOA); ok {
			zone = dns.CanonicalName(soa.Hdr.Name)
		}
	}
	if zone == "" {
		return nil // no SOA: nothing says which zone answered
	}
	sec := c.zoneSecurity(ctx, zone)
	if !sec.Signed {
		step.DNSSEC = worseSec(step.DNSSEC, Insecure)
		return nil
	}
	bogus := func(format string, a ...any) error {
		step.DNSSEC = Bogus
		return fmt.Errorf("CAA %s: DNSSEC bogus in %s: %s", strings.TrimSuffix(owner, "."), zone, fmt.Sprintf(format, a...))
	}
	keys, err := c.keysAt(ctx, zone, sec, c.resolvers[0], true)
	if err != nil {
		return bogus("%v", err)
	}
	var nsec []*dns.NSEC
	var nsec3 []*dns.NSEC3
	checked := map[string]bool{}
	for _, rr := range r.Ns {
		t := rr.Header().Rrtype
		if t != dns.TypeNSEC && t != dns.TypeNSEC3 {
			continue
		}
		key := rr.Header().Name + "|" + dns.TypeToString[t]
		if !checked[key] {
			checked[key] = true
			if err := validateRRset(rrsetOf(r.Ns, rr.Header().Name, t), sigsFor(r.Ns, rr.Header().Name, t), keys, zone, time.Now()); err != nil {
				return bogus("%v", err)
			}
		}
		switch rr := rr.(type) {
		case *dns.NSEC:
			nsec = append(nsec, rr)
		case *dns.NSEC3:
			nsec3 = append(nsec3, rr)
		}
	}
	if len(nsec) == 0 && len(nsec3) == 0 {
		return bogus("no NSEC/NSEC3 proves that %s has no CAA", owner)
	}
	lacks := func(bitmap []uint16) bool {
		for _, t := range bitmap {
			if t == dns.TypeCAA || t == dns.TypeCNAME {
				return false
			}
		}
		return true
	}
	if r.Rcode == dns.RcodeSuccess {
		for _, n := range nsec {
			if strings.EqualFold(n.Hdr.Name, owner) && lacks(n.TypeBitMap) {
				step.DNSSEC = worseSec(step.DNSSEC, Secure)
				return nil
			}
		}
		for _, n := range nsec3 {
			if n.Match(owner) && lacks(n.TypeBitMap) {
				step.DNSSEC = worseSec(step.DNSSEC, Secure)
				return nil
			}
		}
		return bogus("no NSEC/NSEC3 matches %s to prove it has no CAA", owner)
	}
	for _, n := range nsec {
		if nsecCovers(n, owner) {
			step.DNSSEC = worseSec(step.DNSSEC, Secure)
			return nil
		}
	}
	for ce := parentName(owner); len(nsec3) > 0; ce = parentName(ce) {
		next := owner
		for dns.CountLabel(next) > dns.CountLabel(ce)+1 {
			next = parentName(next)
		}
		matched, covered := false, false
		for _, n := range nsec3 {
			matched = matched || n.Match(ce)
			covered = covered || n.Cover(next)
		}
		if matched && covered {
			step.DNSSEC = worseSec(step.DNSSEC, Secure)
			return nil
		}
		if ce == zone || ce == "." {
			break
		}
	}
	return bogus("no NSEC/NSEC3 proves that %s does not exist", owner)
}

// nsecCovers reports whether owner lies strictly between the NSEC's owner
// and its next name in canonical order (RFC 4034 section 6.1), the last
// NSEC of the zone wrapping around to the apex.
func nsecCovers(n *dns.NSEC, owner string) bool {
	a, b := n.Hdr.Name, n.NextDomain
	if canonicalLess(a, b) {
		return canonicalLess(a, owner) && canonicalLess(owner, b)
	}
	return canonicalLess(a, owner) || canonicalLess(owner, b) // wrap
}

// canonicalLess orders names by their labels from the root down, each
// compared as lower-cased bytes (RFC 4034 section 6.1).
func canonicalLess(a, b string) bool {
	la, lb := dns.SplitDomainName(strings.ToLower(a)), dns.SplitDomainName(strings.ToLower(b))
	for i := 1; i <= len(la) && i <= len(lb); i++ {
		x, y := la[len(la)-i], lb[len(lb)-i]
		if x != y {
			return x < y
		}
	}
	return len(la) < len(lb)
}
