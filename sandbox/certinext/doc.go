// Package certinext simulates the eMudhra CERTInext API v2 closely enough to
// run dcvd against it end to end: OAuth2 client credentials with short-lived
// access tokens and rotating refresh tokens, account domains (pre-validation)
// and SSL orders waiting on DNS-TXT domain control validation, RFC 7807
// problem+json errors, the CA's own verify diagnostics and attempt history,
// offset/limit paging whose default order is unstable, and rate limits.
//
// What it checks for real: a verify (domain or order name) looks the exact
// TXT value up at the exact owner name on every configured DNS server (each
// one a "perspective", as CERTInext's multi-perspective check) with its own
// small miekg/dns lookup, independent of dcvd's verify/ package, and passes
// only when every perspective serves it. A failed verify answers 422
// problem+json carrying the diagnostics (expected owner and value, what each
// perspective saw, the failure class) and records an attempt, readable at
// GET /domains/{id}/dcv/attempts[/last].
//
// What the real API leaves open (see /work/shared/specs/certinext.md, and the
// OBSERVED/INFERRED marks there) is a choice of the simulator, selectable per
// server so the client is tested against every shape the spec lists:
//
//   - DomainShape: the key names of GET /domains/{id}/dcv while a token is
//     active (token+host, txtToken+dnsHost, dnsContents, no host at all);
//   - OrderShape: the body of GET /ssl-certificates/{id}/dcv (the flat
//     {token, tokenExpiryDate} seen by one client, {challenges:[...]}, or a
//     bare list);
//   - Label: the owner name the CA queries when the API does not say (default
//     "_emudhra-challenge", "@" for the apex);
//   - BareLists: list endpoints answering a bare JSON array instead of the
//     page envelope.
//
// Faults for tests: Inject (429 with Retry-After, 5xx, a body truncated after
// the call took effect), ExpireTokens (every access token dies mid-run) and
// RefuseRefresh (every refresh token is refused, forcing re-authentication).
//
// The simulator issues nothing: an order whose names are all verified
// becomes "issued", which is all dcvd looks at.
package certinext
