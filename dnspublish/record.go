// Package dnspublish writes DCV records into DNS zones and removes them again.
//
// A Publisher never replaces an RRset: it adds one value next to whatever the
// zone already holds at that name (an apex TXT shares its RRset with SPF, and
// an apex and a wildcard challenge share one owner name) and later removes
// exactly that value. Every call is idempotent: adding a value that is already
// there, or removing one that is already gone, succeeds.
//
// Each backend lives in its own sub-package (dnspublish/rfc2136,
// dnspublish/embedded, ...) and exposes a Spec; the binary lists the specs in
// one registry (internal/registry), so adding a backend is one new folder plus
// one registry line.
package dnspublish

import (
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/miekg/dns"
)

// Type is the DNS record type of a DCV record. Only TXT and CNAME are used.
type Type string

const (
	TXT   Type = "TXT"
	CNAME Type = "CNAME"
)

// ParseType accepts "TXT" or "CNAME" in any case.
func ParseType(s string) (Type, error) {
	switch strings.ToUpper(strings.TrimSpace(s)) {
	case "TXT":
		return TXT, nil
	case "CNAME":
		return CNAME, nil
	}
	return "", fmt.Errorf("record type %q: want TXT or CNAME", s)
}

// RRType returns the miekg/dns type code.
func (t Type) RRType() uint16 {
	if t == CNAME {
		return dns.TypeCNAME
	}
	return dns.TypeTXT
}

// DefaultTTL is used when a Record has TTL 0. Short, so that a stale value
// does not linger in resolvers after cleanup.
const DefaultTTL = 60

// Record is one value to publish at one owner name.
//
// For TXT, Value is the text exactly as the CA gave it (one character-string
// per 255 bytes when it is longer). For CNAME, Value is the target name.
//
// KeyAuth carries an ACME key authorization ("token.thumbprint") for backends
// that can only write ACME-shaped records (lego's providers hash it
// themselves). When KeyAuth is set, Value must equal ACMEValue(KeyAuth).
type Record struct {
	FQDN    string // owner name, canonical: lower case, trailing dot
	Type    Type
	Value   string
	TTL     uint32
	KeyAuth string
}

// Normalize returns r with a canonical owner name, canonical CNAME target,
// default TTL, and Value derived from KeyAuth when it is empty. It rejects
// records that could never be published.
func (r Record) Normalize() (Record, error) {
	if r.FQDN == "" {
		return r, fmt.Errorf("record: empty name")
	}
	if _, ok := dns.IsDomainName(r.FQDN); !ok {
		return r, fmt.Errorf("record: invalid name %q", r.FQDN)
	}
	r.FQDN = dns.CanonicalName(r.FQDN)
	if r.Type == "" {
		r.Type = TXT
	}
	if r.Type != TXT && r.Type != CNAME {
		return r, fmt.Errorf("record %s: unsupported type %q", r.FQDN, r.Type)
	}
	if r.Value == "" && r.KeyAuth != "" {
		r.Value = ACMEValue(r.KeyAuth)
	}
	if r.Value == "" {
		return r, fmt.Errorf("record %s %s: empty value", r.FQDN, r.Type)
	}
	if r.KeyAuth != "" && r.Value != ACMEValue(r.KeyAuth) {
		return r, fmt.Errorf("record %s: value does not match the key authorization", r.FQDN)
	}
	if r.Type == CNAME {
		if _, ok := dns.IsDomainName(r.Value); !ok {
			return r, fmt.Errorf("record %s CNAME: invalid target %q", r.FQDN, r.Value)
		}
		r.Value = dns.CanonicalName(r.Value)
	}
	if r.TTL == 0 {
		r.TTL = DefaultTTL
	}
	return r, nil
}

// Key identifies the value in its RRset: two records with the same key are the
// same DNS resource record whatever their TTL.
func (r Record) Key() string { return r.FQDN + " " + string(r.Type) + " " + r.Value }

// String formats r as a zone-file line, for logs and errors.
func (r Record) String() string {
	if r.Type == TXT {
		return fmt.Sprintf("%s %d IN TXT %q", r.FQDN, r.TTL, r.Value)
	}
	return fmt.Sprintf("%s %d IN CNAME %s", r.FQDN, r.TTL, r.Value)
}

// RR returns r as a miekg/dns resource record. A TXT value longer than 255
// bytes is split into several character-strings; verifiers join them again
// (TXTValue). The value reaches the wire byte for byte: quotes and
// backslashes are escaped for miekg/dns, which reads TXT strings in zone-file
// presentation form.
func (r Record) RR() dns.RR {
	hdr := dns.RR_Header{Name: r.FQDN, Rrtype: r.Type.RRType(), Class: dns.ClassINET, Ttl: r.TTL}
	if r.Type == CNAME {
		return &dns.CNAME{Hdr: hdr, Target: r.Value}
	}
	return &dns.TXT{Hdr: hdr, Txt: TXTStrings(r.Value)}
}

// SplitTXT splits s into character-strings of at most 255 bytes (raw bytes,
// not escaped).
func SplitTXT(s string) []string {
	var out []string
	for len(s) > 255 {
		out = append(out, s[:255])
		s = s[255:]
	}
	return append(out, s)
}

// TXTStrings is SplitTXT with each string escaped the way miekg/dns expects
// in dns.TXT.Txt: a backslash or a double quote gets a backslash, a byte
// outside printable ASCII becomes \DDD.
func TXTStrings(value string) []string {
	parts := SplitTXT(value)
	for i, p := range parts {
		parts[i] = escapeTXT(p)
	}
	return parts
}

func escapeTXT(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '"' || c == '\\':
			b.WriteByte('\\')
			b.WriteByte(c)
		case c < ' ' || c > '~':
			fmt.Fprintf(&b, "\\%03d", c)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// TXTValue is the value a TXT record carries on the wire: its
// character-strings joined, with miekg/dns's presentation escapes (\" \\
// \DDD) undone. It is the inverse of TXTStrings, so a value compares byte
// for byte with what a CA asked for.
func TXTValue(rr *dns.TXT) string {
	var b strings.Builder
	for _, s := range rr.Txt {
		for i := 0; i < len(s); i++ {
			c := s[i]
			if c != '\\' || i+1 >= len(s) {
				b.WriteByte(c)
				continue
			}
			if i+3 < len(s) && isDigit(s[i+1]) && isDigit(s[i+2]) && isDigit(s[i+3]) {
				b.WriteByte((s[i+1]-'0')*100 + (s[i+2]-'0')*10 + (s[i+3] - '0'))
				i += 3
				continue
			}
			b.WriteByte(s[i+1])
			i++
		}
	}
	return b.String()
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// ACMEValue is the dns-01 TXT value for an ACME key authorization: the
// unpadded base64url SHA-256 digest (RFC 8555 §8.4).
func ACMEValue(keyAuth string) string {
	sum := sha256.Sum256([]byte(keyAuth))
	return base64.RawURLEncoding.EncodeToString(sum[:])
}
