package verify

import (
	"crypto/ecdsa"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func caaRR(t *testing.T, s string) *dns.CAA {
	t.Helper()
	rr, err := dns.NewRR("example.com. 60 IN CAA " + s)
	if err != nil {
		t.Fatal(err)
	}
	return rr.(*dns.CAA)
}

// RFC 8659 sections 4.2 and 4.3 on the relevant RRset.
func TestDecideCAA(t *testing.T) {
	for _, tc := range []struct {
		name    string
		records []string
		wild    bool
		allowed bool
		reason  string
	}{
		{"none", nil, false, true, "no CAA record"},
		{"issue match with parameters and case", []string{`0 issue "DigiCert.com; account=12"`}, false, true, "allows digicert.com (issue)"},
		{"issue other CAs", []string{`0 issue "letsencrypt.org"`, `0 issue "sectigo.com"`}, false, false, "allows only letsencrypt.org, sectigo.com"},
		{"empty issuer forbids all", []string{`0 issue ";"`}, false, false, `forbids every CA (issue ";")`},
		{"only iodef: no issuance property", []string{`0 iodef "mailto:sec@example.com"`}, false, true, "has no issue property"},
		{"unknown critical tag", []string{`128 tbs "x"`, `0 issue "digicert.com"`}, false, false, `unknown critical property "tbs"`},
		{"unknown non-critical tag ignored", []string{`0 tbs "x"`, `0 issue "digicert.com"`}, false, true, "allows digicert.com"},
		{"wildcard uses issue without issuewild", []string{`0 issue "digicert.com"`}, true, true, "allows digicert.com (issue)"},
		{"wildcard uses issuewild", []string{`0 issue "digicert.com"`, `0 issuewild "letsencrypt.org"`}, true, false, "(issuewild, for the wildcard) allows only letsencrypt.org"},
		{"issuewild ignored for a non-wildcard", []string{`0 issue "digicert.com"`, `0 issuewild ";"`}, false, true, "allows digicert.com"},
	} {
		var set []*dns.CAA
		for _, r := range tc.records {
			set = append(set, caaRR(t, r))
		}
		res := &CAAResult{Name: "example.com", Issuers: []string{"digicert.com"}, Relevant: "example.com"}
		if len(set) == 0 {
			res.Relevant = ""
		}
		decideCAA(res, set, tc.wild)
		if res.Allowed != tc.allowed || !strings.Contains(res.Reason, tc.reason) {
			t.Errorf("%s: allowed=%v %q; want allowed=%v containing %q", tc.name, res.Allowed, res.Reason, tc.allowed, tc.reason)
		}
	}
}

// The CA/B Forum rule: n−1 of n up to 5, n−2 from 6; a set quorum wins.
func TestPerspectiveQuorum(t *testing.T) {
	want := map[int]int{0: 0, 1: 1, 2: 1, 3: 2, 5: 4, 6: 4, 7: 5}
	for n, q := range want {
		c := &Checker{opts: Options{Perspectives: make([]Perspective, n)}}
		if got := c.perspectiveQuorum(); got != q {
			t.Errorf("n=%d: quorum %d, want %d", n, got, q)
		}
	}
	c := &Checker{opts: Options{Perspectives: make([]Perspective, 4), PerspectiveQuorum: 4}}
	if c.perspectiveQuorum() != 4 {
		t.Error("PerspectiveQuorum not used")
	}
}

// NSEC coverage in canonical order, including the wrap-around NSEC.
func TestNSECCovers(t *testing.T) {
	n := &dns.NSEC{Hdr: dns.RR_Header{Name: "b.example.com."}, NextDomain: "d.example.com."}
	for name, want := range map[string]bool{"c.example.com.": true, "x.b.example.com.": true, "a.example.com.": false, "d.example.com.": false, "b.example.com.": false} {
		if nsecCovers(n, name) != want {
			t.Errorf("b..d covers %s: want %v", name, want)
		}
	}
	last := &dns.NSEC{Hdr: dns.RR_Header{Name: "z.example.com."}, NextDomain: "example.com."}
	if !nsecCovers(last, "zz.example.com.") || nsecCovers(last, "m.example.com.") {
		t.Error("wrap-around NSEC")
	}
}

// validateRRset names the failed check: missing, expired, not yet valid,
// unknown key, bad signature, wrong signer.
func TestValidateRRset(t *testing.T) {
	key := &dns.DNSKEY{Hdr: dns.RR_Header{Name: "example.com.", Rrtype: dns.TypeDNSKEY, Class: dns.ClassINET, Ttl: 60},
		Flags: 257, Protocol: 3, Algorithm: dns.ECDSAP256SHA256}
	priv, err := key.Generate(256)
	if err != nil {
		t.Fatal(err)
	}
	txt, _ := dns.NewRR(`www.example.com. 60 IN TXT "v"`)
	set := []dns.RR{txt}
	now := time.Now()
	sign := func(inc, exp time.Time, signer string) *dns.RRSIG {
		s := &dns.RRSIG{Hdr: dns.RR_Header{Ttl: 60}, Algorithm: key.Algorithm, KeyTag: key.KeyTag(), SignerName: signer,
			Inception: uint32(inc.Unix()), Expiration: uint32(exp.Unix())}
		if err := s.Sign(priv.(*ecdsa.PrivateKey), set); err != nil {
			t.Fatal(err)
		}
		return s
	}
	good := sign(now.Add(-time.Hour), now.Add(time.Hour), "example.com.")
	keys := []*dns.DNSKEY{key}
	if err := validateRRset(set, []*dns.RRSIG{good}, keys, "example.com.", now); err != nil {
		t.Fatalf("good signature: %v", err)
	}
	tampered := *good
	tampered.Signature = good.Signature[:len(good.Signature)-4] + "AAA="
	for what, c := range map[string]struct {
		sigs []*dns.RRSIG
		keys []*dns.DNSKEY
	}{
		"no RRSIG over TXT": {nil, keys},
		"expired at":        {[]*dns.RRSIG{sign(now.Add(-2*time.Hour), now.Add(-time.Hour), "example.com.")}, keys},
		"not valid before":  {[]*dns.RRSIG{sign(now.Add(time.Hour), now.Add(2*time.Hour), "example.com.")}, keys},
		"no such DNSKEY":    {[]*dns.RRSIG{good}, nil},
		"does not verify":   {[]*dns.RRSIG{&tampered}, keys},
		"not by the zone":   {[]*dns.RRSIG{sign(now.Add(-time.Hour), now.Add(time.Hour), "com.")}, keys},
	} {
		err := validateRRset(set, c.sigs, c.keys, "example.com.", now)
		if err == nil || !strings.Contains(err.Error(), what) {
			t.Errorf("want %q, got %v", what, err)
		}
	}
}

// A DS set with only algorithms miekg/dns cannot check leaves the zone
// unsigned for the checker, as for a validator (RFC 4035 section 5.2).
func TestSupportedDS(t *testing.T) {
	for _, c := range []struct {
		alg, digest uint8
		want        bool
	}{{dns.ECDSAP256SHA256, dns.SHA256, true}, {dns.RSASHA256, dns.SHA1, true}, {dns.ED25519, dns.SHA384, true},
		{12 /* GOST */, dns.SHA256, false}, {dns.ECDSAP256SHA256, 3 /* GOST digest */, false}} {
		if got := supportedDS(&dns.DS{Algorithm: c.alg, DigestType: c.digest}); got != c.want {
			t.Errorf("algorithm %d digest %d: %v, want %v", c.alg, c.digest, got, c.want)
		}
	}
}
