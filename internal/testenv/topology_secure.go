package testenv

import (
	"context"
	"crypto"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// The "see what the CA sees" part of the topology (DNSSEC, CAA, delegation,
// IPv6). Every zone below is served by the BIND primary (127.0.0.2, which
// also listens on [::1]:53) unless said otherwise:
//
//	signed.test   inline-signed by BIND (dnssec-policy default: one ECDSA
//	              P-256 CSK; inline-signing yes: RFC 2136 updates go to the
//	              unsigned zone and are signed as they arrive); DS in the
//	              root zone; NS
//	              ns1/ns2/ns3.signed.test = the primary, the NSD secondary
//	              (127.0.0.3) and the Knot secondary (127.0.0.4, through the
//	              delay proxy) — the signed twin of example.test.
//	badsig.test   inline-signed by BIND, DS in the root zone; NS ns1.example.test
//	              and ns.badsig.test (127.0.0.11), an NSD serving a copy of
//	              the signed zone in which expired.badsig.test's TXT RRSIG
//	              was re-signed with a validity window in the past and
//	              nosig.badsig.test's TXT RRSIG was removed.
//	deleg.test    the root delegates to ns1.example.test and ns.other.test
//	              (which does not serve the zone: a stale delegation); the
//	              zone's own NS set is ns1.example.test and ns6.deleg.test,
//	              an IPv6-only name server (AAAA ::1) the root does not list.
//	dual.test     NS ns.dual.test with A 127.0.0.2 and AAAA ::1.
//
// CAA (issuer domains as in the CAs' documentation):
//
//	caa-deny.example.test   CAA 0 issue "letsencrypt.org"
//	caa-ok.example.test     CAA 0 issue "digicert.com", 0 issuewild ";"
//	caa-alias.example.test  CNAME caa-target.other.test
//	caa-target.other.test   CAA 0 issue "digicert.com"
//	caa-bad.example.test    CNAME caa-deny-target.other.test
//	caa-deny-target.other.test CAA 0 issue "sectigo.com"
//	signed.test (apex)      CAA 0 issue "digicert.com" (signed)
const (
	TopoBadSig   = "127.0.0.11:53"
	TopoRoot     = "127.0.0.14:53"
	TopoV6       = "[::1]:53"
	topoRootHost = "127.0.0.14"
)

// secureZones are the primary's zones of this part (with their parents'
// delegations written by rootExtra).
func secureZones() []BINDZone {
	policy := "dnssec-policy default; inline-signing yes;"
	return []BINDZone{
		{
			Name:    "signed.test",
			NS:      []string{"ns1.signed.test.", "ns2.signed.test.", "ns3.signed.test."},
			Records: []string{"ns1 IN A 127.0.0.2", "ns2 IN A 127.0.0.3", "ns3 IN A 127.0.0.4", `@ IN CAA 0 issue "digicert.com"`, `fixed IN TXT "signed-fixed"`},
			Notify:  []string{"127.0.0.3 port 53", "127.0.0.4 port 53"},
			Options: policy,
		},
		{
			Name:    "badsig.test",
			NS:      []string{"ns1.example.test.", "ns.badsig.test."},
			Records: []string{"ns IN A 127.0.0.11", `expired IN TXT "e"`, `nosig IN TXT "n"`, `good IN TXT "g"`},
			Options: policy,
		},
		{
			Name:    "deleg.test",
			NS:      []string{"ns1.example.test.", "ns6.deleg.test."},
			Records: []string{"ns6 IN AAAA ::1", `fixed IN TXT "deleg-fixed"`},
		},
		{
			Name:    "dual.test",
			NS:      []string{"ns.dual.test."},
			Records: []string{"ns IN A 127.0.0.2", "ns IN AAAA ::1", `fixed IN TXT "dual-fixed"`},
		},
	}
}

// caaRecords go into example.test and other.test.
var (
	caaExample = []string{
		`caa-deny IN CAA 0 issue "letsencrypt.org"`,
		`caa-ok IN CAA 0 issue "digicert.com"`,
		`caa-ok IN CAA 0 issuewild ";"`,
		"caa-alias IN CNAME caa-target.other.test.",
		"caa-bad IN CNAME caa-deny-target.other.test.",
	}
	caaOther = []string{
		`caa-target IN CAA 0 issue "digicert.com"`,
		`caa-deny-target IN CAA 0 issue "sectigo.com"`,
	}
)

// rootExtra is the root zone part for the zones above, with the DS records
// of the signed ones.
func rootExtra(ds []dns.RR) string {
	var s strings.Builder
	s.WriteString("signed.test. IN NS ns1.signed.test.\nsigned.test. IN NS ns2.signed.test.\nsigned.test. IN NS ns3.signed.test.\n")
	s.WriteString("ns1.signed.test. IN A 127.0.0.2\nns2.signed.test. IN A 127.0.0.3\nns3.signed.test. IN A 127.0.0.4\n")
	s.WriteString("badsig.test. IN NS ns1.example.test.\nbadsig.test. IN NS ns.badsig.test.\nns.badsig.test. IN A 127.0.0.11\n")
	// Stale delegation: ns.other.test does not serve deleg.test; the
	// zone's own ns6.deleg.test is not delegated to.
	s.WriteString("deleg.test. IN NS ns1.example.test.\ndeleg.test. IN NS ns.other.test.\n")
	s.WriteString("dual.test. IN NS ns.dual.test.\nns.dual.test. IN A 127.0.0.2\nns.dual.test. IN AAAA ::1\n")
	for _, rr := range ds {
		s.WriteString(rr.String() + "\n")
	}
	return s.String()
}

// signedZones are the zones BIND signs.
var signedZones = []string{"signed.test.", "badsig.test."}

// waitSigned polls addr until zone's DNSKEY RRset is served with an RRSIG
// and returns the DS records of its key-signing keys.
func waitSigned(ctx context.Context, addr, zone string) ([]dns.RR, error) {
	for {
		m := new(dns.Msg)
		m.SetQuestion(zone, dns.TypeDNSKEY)
		m.SetEdns0(4096, true)
		m.RecursionDesired = false
		r, _, err := (&dns.Client{Timeout: time.Second}).ExchangeContext(ctx, m, addr)
		if err == nil && r.Rcode == dns.RcodeSuccess {
			var ds []dns.RR
			signed := false
			for _, rr := range r.Answer {
				switch rr := rr.(type) {
				case *dns.DNSKEY:
					if rr.Flags&dns.SEP != 0 {
						ds = append(ds, rr.ToDS(dns.SHA256))
					}
				case *dns.RRSIG:
					signed = true
				}
			}
			if signed && len(ds) > 0 {
				return ds, nil
			}
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("%s at %s: not signed in time (last error %v)", zone, addr, err)
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// tamperedBadSig transfers badsig.test from the primary and returns it as a
// zone file with expired.badsig.test's TXT signature expired (re-signed
// with the primary's own key, validity in the past) and nosig.badsig.test's
// removed.
func tamperedBadSig(ctx context.Context, b *BIND) (string, error) {
	const zone = "badsig.test."
	rrs, err := AXFR(ctx, b.Addr, zone, nil)
	if err != nil {
		return "", err
	}
	keyFiles, _ := filepath.Glob(filepath.Join(b.Dir, "Kbadsig.test.+*.key"))
	if len(keyFiles) == 0 {
		return "", fmt.Errorf("no key file for %s in %s", zone, b.Dir)
	}
	pub, err := os.ReadFile(keyFiles[0])
	if err != nil {
		return "", err
	}
	var key *dns.DNSKEY
	for _, line := range strings.Split(string(pub), "\n") {
		if rr, err := dns.NewRR(line); err == nil && rr != nil {
			if k, ok := rr.(*dns.DNSKEY); ok {
				key = k
			}
		}
	}
	if key == nil {
		return "", fmt.Errorf("no DNSKEY in %s", keyFiles[0])
	}
	privPath := strings.TrimSuffix(keyFiles[0], ".key") + ".private"
	f, err := os.Open(privPath)
	if err != nil {
		return "", err
	}
	defer f.Close()
	priv, err := key.ReadPrivateKey(f, privPath)
	if err != nil {
		return "", fmt.Errorf("read %s: %w", privPath, err)
	}
	var out strings.Builder
	var expiredSet []dns.RR
	for i, rr := range rrs {
		if i == len(rrs)-1 && rr.Header().Rrtype == dns.TypeSOA {
			break // AXFR ends with the SOA again
		}
		name := dns.CanonicalName(rr.Header().Name)
		if sig, ok := rr.(*dns.RRSIG); ok && sig.TypeCovered == dns.TypeTXT &&
			(name == "expired."+zone || name == "nosig."+zone) {
			continue
		}
		if rr.Header().Rrtype == dns.TypeTXT && name == "expired."+zone {
			expiredSet = append(expiredSet, rr)
		}
		out.WriteString(rr.String() + "\n")
	}
	if len(expiredSet) == 0 {
		return "", fmt.Errorf("no TXT at expired.%s in the transfer", zone)
	}
	now := time.Now()
	sig := &dns.RRSIG{
		Hdr:        dns.RR_Header{Name: "expired." + zone, Rrtype: dns.TypeRRSIG, Class: dns.ClassINET, Ttl: expiredSet[0].Header().Ttl},
		Algorithm:  key.Algorithm,
		KeyTag:     key.KeyTag(),
		SignerName: zone,
		Inception:  uint32(now.Add(-48 * time.Hour).Unix()),
		Expiration: uint32(now.Add(-24 * time.Hour).Unix()),
	}
	if err := sig.Sign(priv.(crypto.Signer), expiredSet); err != nil {
		return "", fmt.Errorf("sign expired.%s: %w", zone, err)
	}
	out.WriteString(sig.String() + "\n")
	return out.String(), nil
}

// waitServesSigned waits until addr serves zone's DNSKEY with a signature
// (a secondary has transferred the signed zone).
func waitServesSigned(t testing.TB, addr, zone string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := waitSigned(ctx, addr, zone); err != nil {
		t.Fatalf("topology: %v", err)
	}
}

// SignedServers are the authoritative addresses of signed.test.
func (tp *Topology) SignedServers() []string {
	return []string{TopoPrimary, TopoNSD, TopoKnot}
}
