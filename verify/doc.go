// Package verify decides when a DCV record is visible: it asks every
// authoritative server of the record's zone directly and reports, per server,
// what each one answers.
//
// A check runs in three steps:
//
//  1. Zone cut. The zone is found by SOA queries through the configured
//     recursive resolvers (Options.Resolvers), walking up from the record's
//     parent name: an SOA answer at the name marks the apex, a CNAME answer or
//     NXDOMAIN goes one label up, any other rcode is an error naming the name
//     and the resolver. The record name itself is then probed at the zone's
//     own servers (RD=0), so a delegated subzone or a delegated
//     `_acme-challenge` label is found without ever asking a resolver about
//     the challenge name (a resolver would cache the NXDOMAIN for the SOA
//     minimum — the "negative caching trap"). The zone's NS set is looked up
//     and every NS host is resolved to all its A and AAAA addresses. All of it
//     is cached for the records' TTLs and shared between concurrent checks.
//     Options.Overrides replaces the NS addresses of a zone (hidden primary,
//     port 53 blocked by a firewall).
//
//  2. Query. Each authoritative address is asked directly (RD=0) over UDP with
//     EDNS0; a truncated answer or a UDP timeout is retried over TCP (and the
//     address is remembered as TCP-only for a while). TXT values are compared
//     after joining their character-strings, CNAME records by target without
//     regard to case. A TXT query answered by a CNAME is followed to the
//     target's own zone and servers (loop detection, hop limit 16).
//
//  3. Decide. The record is visible when every authoritative address serves
//     the value (Require "all") or at least Quorum of them do. NXDOMAIN, NODATA
//     and a stale value mean "not yet"; REFUSED, SERVFAIL, timeouts and
//     non-authoritative answers are reported as such.
//
// Wait polls adaptively: the first round runs at once, then the interval
// starts at PollMin and doubles up to PollMax, falling back to PollMin
// whenever a further server starts serving the record (propagation is under
// way). An address that already serves the value is not asked again, so each
// poll sends at most one query per authoritative address and record. With
// Query.MinSerial (the serial an RFC 2136 update returned) a server is asked
// for its SOA instead: once its serial reaches MinSerial it must serve the
// change; in WaitAll that SOA query is shared by every record of the zone.
//
// Optional recursive resolvers (Options.Recursive) are asked only after the
// authoritative check passed, so none of them caches a negative answer for
// the challenge name. Mode "wait" sends no query at all and only waits.
//
// What the CA will see. Besides "served", the checker judges what a CA's
// validation depends on:
//
//   - DNSSEC: when the zone's parent holds a DS set, each serving answer must
//     carry an RRSIG, inside its validity window, that verifies with the
//     DNSKEY set the same server serves, itself signed by a key matching a
//     DS (miekg/dns does the crypto). A server failing any step is
//     StatusBogus, "not visible yet", with the failed check in Error.
//   - Delegation: the parent's delegation NS set and the zone's own NS set
//     are both read; every server of either is asked, and a server in only
//     one is marked (DelegParentOnly, DelegZoneOnly).
//   - IPv6: every A and AAAA of every NS is asked; an IPv6 address this
//     machine cannot reach is StatusUnreachable (said once in Report.Note),
//     left out of the verdict with Options.OptionalIPv6.
//   - Perspectives: Options.Perspectives (resolvers or DoH URLs) are asked
//     after the authoritative check, with the CAs' quorum rule.
//   - CAA: Checker.CAA finds the relevant CAA RRset (RFC 8659) and says
//     whether a CA's issuer domains may issue; the scheduler fails a
//     challenge whose CAA forbids its CA before triggering the CA.
package verify
