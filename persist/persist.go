// Package persist describes the persistent DCV records dcvd keeps
// ([[persist]] in the configuration): a TXT record at
// `_validation-persist.<domain>` that lets a CA validate the domain for an
// ACME account again and again without a new challenge (CA/Browser Forum
// Baseline Requirements 3.2.2.4.22, "DNS TXT Record with Persistent Value",
// added by ballot SC-088; IETF draft-ietf-acme-dns-persist).
//
// The record's RDATA follows the syntax of a CAA issue-value (RFC 8659
// section 4.2): the CA's issuer domain name, then parameters separated by
// semicolons:
//
//	_validation-persist.example.com. TXT "digicert.com; accounturi=https://acme.example/acct/123; policy=wildcard; persistUntil=1782777600"
//
// accounturi is mandatory; policy=wildcard also allows wildcard names (and,
// in the BR text, subdomains); persistUntil (UNIX seconds) ends the record's
// use for new validations. A CA ignores parameters it does not know.
//
// The scheduler keeps each entry's value present on every authoritative
// server through the backend that serves the domain, repairs it when it
// drifts and removes only its own value when the entry leaves the
// configuration (scheduler/persist.go).
package persist

import (
	"fmt"
	"net/url"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// Label is the owner label of a persistent DCV record.
const Label = "_validation-persist"

// Entry is one [[persist]] table.
type Entry struct {
	Domain       string `toml:"domain"`        // "example.com"
	Issuer       string `toml:"issuer"`        // the CA's issuer domain name, "digicert.com"
	AccountURI   string `toml:"account_uri"`   // the account the CA binds the validation to
	Policy       string `toml:"policy"`        // "" or "wildcard"
	PersistUntil string `toml:"persist_until"` // optional RFC 3339 time

	until time.Time
}

// Validate checks an entry and normalizes its domain and issuer to lower
// case without a trailing dot.
func (e *Entry) Validate() error {
	e.Domain = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(e.Domain)), ".")
	e.Issuer = strings.TrimSuffix(strings.ToLower(strings.TrimSpace(e.Issuer)), ".")
	if _, ok := dns.IsDomainName(e.Domain); !ok || e.Domain == "" || strings.HasPrefix(e.Domain, "*") {
		return fmt.Errorf("domain %q: not a domain name", e.Domain)
	}
	if _, ok := dns.IsDomainName(e.Issuer); !ok || e.Issuer == "" || strings.ContainsAny(e.Issuer, "; \"") {
		return fmt.Errorf("issuer %q: want the CA's issuer domain name, like \"digicert.com\"", e.Issuer)
	}
	u, err := url.Parse(e.AccountURI)
	if e.AccountURI == "" || err != nil || u.Scheme == "" || u.Host == "" || strings.ContainsAny(e.AccountURI, "; \"") {
		return fmt.Errorf("account_uri %q: want the absolute URI of the CA account (no spaces, quotes or semicolons)", e.AccountURI)
	}
	switch e.Policy {
	case "", "wildcard":
	default:
		return fmt.Errorf("policy %q: want \"wildcard\" or nothing", e.Policy)
	}
	if e.PersistUntil != "" {
		t, err := time.Parse(time.RFC3339, e.PersistUntil)
		if err != nil {
			return fmt.Errorf("persist_until %q: want an RFC 3339 time like \"2027-06-30T00:00:00Z\"", e.PersistUntil)
		}
		e.until = t
	}
	return nil
}

// FQDN is the record's owner: `_validation-persist.<domain>.`.
func (e Entry) FQDN() string { return Label + "." + dns.Fqdn(e.Domain) }

// Value is the record's TXT value.
func (e Entry) Value() string {
	v := e.Issuer + "; accounturi=" + e.AccountURI
	if e.Policy != "" {
		v += "; policy=" + e.Policy
	}
	if !e.until.IsZero() {
		v += fmt.Sprintf("; persistUntil=%d", e.until.Unix())
	} else if e.PersistUntil != "" {
		if t, err := time.Parse(time.RFC3339, e.PersistUntil); err == nil {
			v += fmt.Sprintf("; persistUntil=%d", t.Unix())
		}
	}
	return v
}
