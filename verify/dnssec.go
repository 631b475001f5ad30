package verify

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// DNSSEC verdicts of one server's answer (ServerResult.DNSSEC).
const (
	Secure   = "secure"   // the RRset's RRSIG validates with a DNSKEY chained to the parent's DS
	Insecure = "insecure" // the zone is unsigned (no DS at the parent): nothing to validate
	Bogus    = "bogus"    // signed zone, but the answer does not validate (ServerResult.Error says why)
)

// zoneSec is what the parent says about a zone: its DS set.
type zoneSec struct {
	Signed bool
	DS     []*dns.DS
	Note   string // "DS key tags 123 (parent)"; why unsigned; lookup trouble
}

// describe is the zone's DNSSEC line for reports.
func (s *zoneSec) describe() string {
	if s == nil {
		return ""
	}
	if s.Signed {
		return "signed: " + s.Note
	}
	if strings.HasPrefix(s.Note, "not checked") {
		return s.Note
	}
	if s.Note != "" {
		return "unsigned: " + s.Note
	}
	return "unsigned"
}

// zoneSecurity asks the resolvers for the DS set of zone (cached for its
// TTL). A DS set means the zone is signed: every answer must validate.
// Without one the zone is insecure for a validating CA, whatever DNSKEYs it
// publishes. A failed DS lookup is reported and treated as unsigned.
func (c *Checker) zoneSecurity(ctx context.Context, zone string) *zoneSec {
	if c.opts.SkipDNSSEC {
		return &zoneSec{Note: "not checked (DNSSEC checks are off)"}
	}
	if zone == "." {
		return &zoneSec{}
	}
	v, err := c.cache.get(ctx, "ds:"+zone, func() (any, time.Duration, error) {
		r, srv, err := c.resolveDO(ctx, zone, dns.TypeDS)
		if err != nil {
			return nil, 0, err
		}
		if r.Rcode != dns.RcodeSuccess && r.Rcode != dns.RcodeNameError {
			return nil, 0, fmt.Errorf("DS %s at resolver %s: %s", zone, srv, dns.RcodeToString[r.Rcode])
		}
		s := &zoneSec{}
		ttl := maxCacheTTL
		var tags []string
		var unsupported []string
		for _, rr := range r.Answer {
			if ds, ok := rr.(*dns.DS); ok && strings.EqualFold(ds.Hdr.Name, zone) {
				if !supportedDS(ds) {
					unsupported = append(unsupported, fmt.Sprintf("key %d algorithm %d digest %d", ds.KeyTag, ds.Algorithm, ds.DigestType))
					continue
				}
				s.DS = append(s.DS, ds)
				tags = append(tags, fmt.Sprint(ds.KeyTag))
				ttl = min(ttl, time.Duration(ds.Hdr.Ttl)*time.Second)
			}
		}
		if len(s.DS) > 0 {
			s.Signed = true
			sort.Strings(tags)
			s.Note = "DS key tag " + strings.Join(tags, ", ") + " at the parent"
		} else {
			ttl = time.Minute
			if len(unsupported) > 0 {
				// RFC 4035 section 5.2: a validator that supports none of
				// the DS algorithms treats the zone as unsigned.
				s.Note = "DS with unsupported algorithms only (" + strings.Join(unsupported, ", ") + "): validators treat the zone as unsigned"
			}
		}
		return s, ttl, nil
	})
	if err != nil {
		return &zoneSec{Note: "not checked: DS lookup failed: " + err.Error()}
	}
	return v.(*zoneSec)
}

// serverKeys returns the DNSKEY set srv serves for zone after checking it:
// a key matches a DS of the parent and signs the set with a valid RRSIG.
// Good sets are cached per server for their TTL; a bad one is an error
// naming the check that failed (not cached).
func (c *Checker) serverKeys(ctx context.Context, zone string, sec *zoneSec, srv server) ([]*dns.DNSKEY, error) {
	return c.keysAt(ctx, zone, sec, srv.Addr, false)
}

// keysAt is serverKeys for any address; rd asks a resolver.
func (c *Checker) keysAt(ctx context.Context, zone string, sec *zoneSec, addr string, rd bool) ([]*dns.DNSKEY, error) {
	v, err := c.cache.get(ctx, "dnskey:"+zone+"|"+addr, func() (any, time.Duration, error) {
		m := setDO(newQuestion(zone, dns.TypeDNSKEY, rd))
		ex := c.exchange(ctx, addr, m)
		c.stats.authoritative.Add(int64(ex.queries))
		if ex.err != nil {
			return nil, 0, fmt.Errorf("DNSKEY query: %v", ex.err)
		}
		if ex.msg.Rcode != dns.RcodeSuccess {
			return nil, 0, fmt.Errorf("DNSKEY query: %s", dns.RcodeToString[ex.msg.Rcode])
		}
		var keys []*dns.DNSKEY
		var set []dns.RR
		ttl := maxCacheTTL
		for _, rr := range ex.msg.Answer {
			if k, ok := rr.(*dns.DNSKEY); ok && strings.EqualFold(k.Hdr.Name, zone) {
				keys = append(keys, k)
				set = append(set, k)
				ttl = min(ttl, time.Duration(k.Hdr.Ttl)*time.Second)
			}
		}
		if len(keys) == 0 {
			return nil, 0, fmt.Errorf("no DNSKEY at %s although the parent has a DS", zone)
		}
		var anchors []*dns.DNSKEY
		for _, k := range keys {
			for _, ds := range sec.DS {
				if k.KeyTag() != ds.KeyTag || k.Algorithm != ds.Algorithm {
					continue
				}
				if d := k.ToDS(ds.DigestType); d != nil && strings.EqualFold(d.Digest, ds.Digest) {
					anchors = append(anchors, k)
				}
			}
		}
		if len(anchors) == 0 {
			return nil, 0, fmt.Errorf("no DNSKEY matches the parent's DS (%s; keys served: %s)", sec.Note, keyTags(keys))
		}
		if err := validateRRset(set, sigsFor(ex.msg.Answer, zone, dns.TypeDNSKEY), anchors, zone, time.Now()); err != nil {
			return nil, 0, fmt.Errorf("DNSKEY set: %v", err)
		}
		return keys, ttl, nil
	})
	if err != nil {
		return nil, err
	}
	return v.([]*dns.DNSKEY), nil
}

func keyTags(keys []*dns.DNSKEY) string {
	var s []string
	for _, k := range keys {
		s = append(s, fmt.Sprint(k.KeyTag()))
	}
	return strings.Join(s, ", ")
}

// sigsFor returns the RRSIGs in rrs covering name/qtype.
func sigsFor(rrs []dns.RR, name string, qtype uint16) []*dns.RRSIG {
	var out []*dns.RRSIG
	for _, rr := range rrs {
		if s, ok := rr.(*dns.RRSIG); ok && s.TypeCovered == qtype && strings.EqualFold(s.Hdr.Name, name) {
			out = append(out, s)
		}
	}
	return out
}

// rrsetOf returns the records of name/qtype in rrs.
func rrsetOf(rrs []dns.RR, name string, qtype uint16) []dns.RR {
	var out []dns.RR
	for _, rr := range rrs {
		if rr.Header().Rrtype == qtype && strings.EqualFold(rr.Header().Name, name) {
			out = append(out, rr)
		}
	}
	return out
}

// validateRRset succeeds when one of sigs was made by zone with one of
// keys, is inside its validity window at now and verifies over set
// (miekg/dns does the canonical form and the crypto). The error names the
// check that failed for the most telling signature.
func validateRRset(set []dns.RR, sigs []*dns.RRSIG, keys []*dns.DNSKEY, zone string, now time.Time) error {
	if len(set) == 0 {
		return fmt.Errorf("empty RRset")
	}
	what := dns.TypeToString[set[0].Header().Rrtype]
	if len(sigs) == 0 {
		return fmt.Errorf("no RRSIG over %s %s", what, strings.TrimSuffix(set[0].Header().Name, "."))
	}
	var errs []string
	for _, sig := range sigs {
		if !strings.EqualFold(sig.SignerName, zone) {
			errs = append(errs, fmt.Sprintf("RRSIG over %s signed by %s, not by the zone %s", what, sig.SignerName, zone))
			continue
		}
		if !sig.ValidityPeriod(now) {
			inc, exp := time.Unix(int64(sig.Inception), 0).UTC(), time.Unix(int64(sig.Expiration), 0).UTC()
			if now.Before(inc) {
				errs = append(errs, fmt.Sprintf("RRSIG over %s (key %d) not valid before %s", what, sig.KeyTag, inc.Format(time.RFC3339)))
			} else {
				errs = append(errs, fmt.Sprintf("RRSIG over %s (key %d) expired at %s", what, sig.KeyTag, exp.Format(time.RFC3339)))
			}
			continue
		}
		var key *dns.DNSKEY
		for _, k := range keys {
			if k.KeyTag() == sig.KeyTag && k.Algorithm == sig.Algorithm {
				key = k
				break
			}
		}
		if key == nil {
			errs = append(errs, fmt.Sprintf("RRSIG over %s by key %d: no such DNSKEY in the validated key set", what, sig.KeyTag))
			continue
		}
		if err := sig.Verify(key, set); err != nil {
			errs = append(errs, fmt.Sprintf("RRSIG over %s (key %d) does not verify: %v", what, sig.KeyTag, err))
			continue
		}
		return nil
	}
	return fmt.Errorf("%s", strings.Join(errs, "; "))
}

// checkDNSSEC validates the RRset a serving answer carries (the value's
// type, or the CNAME at an alias hop) and sets res.DNSSEC; a failure turns
// the result into StatusBogus with the reason.
func (c *Checker) checkDNSSEC(ctx context.Context, res *ServerResult, m *dns.Msg, name string, qtype uint16, zone string, sec *zoneSec, srv server) {
	if sec == nil || !sec.Signed {
		if sec != nil && !c.opts.SkipDNSSEC && !strings.HasPrefix(sec.Note, "not checked") {
			res.DNSSEC = Insecure
		}
		return
	}
	if res.Status == StatusCNAME {
		qtype = dns.TypeCNAME
	}
	if c.opts.SkipDNSSEC {
		return
	}
	fail := func(err error) {
		res.DNSSEC = Bogus
		res.Status = StatusBogus
		res.Error = err.Error()
	}
	keys, err := c.serverKeys(ctx, zone, sec, srv)
	if err != nil {
		fail(err)
		return
	}
	if err := validateRRset(rrsetOf(m.Answer, name, qtype), sigsFor(m.Answer, name, qtype), keys, zone, time.Now()); err != nil {
		fail(err)
		return
	}
	res.DNSSEC = Secure
}

// resolveDO is resolve with the DO bit (and CD, so a validating resolver
// hands over data it considers bogus and dcvd can say why).
func (c *Checker) resolveDO(ctx context.Context, name string, qtype uint16) (*dns.Msg, string, error) {
	return c.resolveMsg(ctx, name, qtype, true)
}

// supportedDS reports whether miekg/dns can check a key for ds: the digest
// type and the signing algorithm are ones it implements.
func supportedDS(ds *dns.DS) bool {
	switch ds.DigestType {
	case dns.SHA1, dns.SHA256, dns.SHA384:
	default:
		return false
	}
	switch ds.Algorithm {
	case dns.RSASHA1, dns.RSASHA1NSEC3SHA1, dns.RSASHA256, dns.RSASHA512, dns.ECDSAP256SHA256, dns.ECDSAP384SHA384, dns.ED25519:
		return true
	}
	return false
}
