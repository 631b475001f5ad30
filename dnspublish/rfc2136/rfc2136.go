// Package rfc2136 publishes DCV records by RFC 2136 dynamic UPDATE, signed
// with TSIG (RFC 8945), to a primary name server such as BIND, Knot, NSD's
// primaries behind a signer, PowerDNS or Windows DNS.
//
// Every Add is one UPDATE message per zone that inserts each value into its
// RRset (never replacing it), guarded by prerequisites so that a CNAME that
// dcvd did not write is never replaced and a TXT is never hidden under one.
// Every Remove deletes exactly the values given ("delete an RR from an
// RRset", class NONE), so an SPF record or another client's challenge at
// the same name stays. After a successful update the zone's SOA serial is
// read back from the same server, so the verifier knows which serial every
// secondary must reach.
//
// All messages of one call (TTL lookups, the update, the serial read) share
// one TCP connection: an update for a few hundred records is larger than a
// UDP datagram anyway, and one handshake is cheaper than retrying after
// truncation (see BenchmarkTransport).
package rfc2136

import (
	"fmt"
	"log/slog"
	"net"
	"strings"
	"time"

	"github.com/miekg/dns"

	"github.com/dcvd/dcvd/dnspublish"
	"github.com/dcvd/dcvd/internal/secret"
)

// Type is the value of `type` in a [[dns]] table.
const Type = "rfc2136"

// Defaults for options left empty.
const (
	DefaultAlgorithm = "hmac-sha256"
	DefaultTimeout   = 10 * time.Second
	DefaultTTL       = 60
)

// Options are the keys of a [[dns]] table with type = "rfc2136".
type Options struct {
	// Server is the primary's "host:port" (port 53 when omitted).
	Server string `toml:"server"`
	// TSIGKey is the key name as the server knows it ("dcvd-key").
	// Empty: updates are sent unsigned (the server must allow that by
	// address, which is rarely a good idea).
	TSIGKey string `toml:"tsig_key"`
	// TSIGAlgorithm is hmac-sha1, -sha224, -sha256 (default), -sha384 or
	// -sha512, with or without a trailing dot.
	TSIGAlgorithm string `toml:"tsig_algorithm"`
	// The base64 secret: inline, from a file, or from a systemd credential.
	TSIGSecret           string `toml:"tsig_secret"`
	TSIGSecretFile       string `toml:"tsig_secret_file"`
	TSIGSecretCredential string `toml:"tsig_secret_credential"`
	// Timeout bounds each message exchange (default "10s").
	Timeout dnspublish.Duration `toml:"timeout"`
	// TTL of the records written (default 60). When the name already holds
	// an RRset of the same type, its TTL is kept instead, so that adding a
	// value never changes the TTL of a record dcvd did not write.
	TTL uint32 `toml:"ttl"`
}

// Spec describes the rfc2136 backend to the configuration loader.
func Spec() dnspublish.Spec { return dnspublish.SpecFor(Type, New) }

// Publisher writes records by RFC 2136 UPDATE to one server.
type Publisher struct {
	name    string
	zones   []string
	server  string
	key     *tsigKey // nil: unsigned
	timeout time.Duration
	ttl     uint32
	log     *slog.Logger

	// net is the transport: "tcp" (always, see the package doc) or "udp"
	// (only for BenchmarkTransport).
	net string

	pool   pool   // idle TCP connections (pool.go)
	probed probed // Present's answers for the Add that follows (probed.go)
}

// New validates o and returns a Publisher. It reads the TSIG secret but does
// no network I/O.
func New(base dnspublish.Base, o Options) (*Publisher, error) {
	p := &Publisher{
		name:    base.Name,
		timeout: o.Timeout.Or(DefaultTimeout),
		ttl:     o.TTL,
		log:     base.Logger,
		net:     "tcp",
	}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	if p.ttl == 0 {
		p.ttl = DefaultTTL
	}
	fail := func(format string, a ...any) (*Publisher, error) {
		return nil, fmt.Errorf("rfc2136 %q: %s", base.Name, fmt.Sprintf(format, a...))
	}
	if len(base.Zones) == 0 {
		return fail("no zones configured")
	}
	for _, z := range base.Zones {
		if _, ok := dns.IsDomainName(z); !ok {
			return fail("zone %q is not a domain name", z)
		}
		p.zones = append(p.zones, dns.CanonicalName(z))
	}
	server, err := hostPort(o.Server)
	if err != nil {
		return fail("server: %v", err)
	}
	p.server = server
	ref := secret.Ref{Key: "tsig_secret", Inline: o.TSIGSecret, File: o.TSIGSecretFile, Credential: o.TSIGSecretCredential}
	switch {
	case o.TSIGKey == "" && ref.Set():
		return fail("tsig_secret is set but tsig_key (the key name) is not")
	case o.TSIGKey == "" && o.TSIGAlgorithm != "":
		return fail("tsig_algorithm is set but tsig_key is not")
	case o.TSIGKey != "":
		k, err := newTSIGKey(o.TSIGKey, o.TSIGAlgorithm, ref)
		if err != nil {
			return fail("%v", err)
		}
		p.key = k
	}
	return p, nil
}

// hostPort checks a "host:port" server address, adding port 53 when only a
// host is given.
func hostPort(s string) (string, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return "", fmt.Errorf("required (\"host:port\" of the primary server)")
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		// "ns1.example.com", "192.0.2.1" or "::1": no port.
		host, port = strings.Trim(s, "[]"), "53"
	}
	if host == "" {
		return "", fmt.Errorf("%q: empty host", s)
	}
	if _, err := net.LookupPort("tcp", port); err != nil {
		return "", fmt.Errorf("%q: bad port", s)
	}
	return net.JoinHostPort(host, port), nil
}

// Name is the configured backend name.
func (p *Publisher) Name() string { return p.name }

// Zones are the zones this backend writes into.
func (p *Publisher) Zones() []string { return append([]string(nil), p.zones...) }

// Server is the "host:port" updates go to.
func (p *Publisher) Server() string { return p.server }
