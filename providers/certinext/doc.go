// Package certinext validates domains for eMudhra's CERTInext CA (API v2)
// and implements a providers.Provider on top of it.
//
// Two layers:
//
//   - internal/api is the HTTP client and the wire types. It authenticates
//     with OAuth2 client credentials (the account number is the client_id;
//     POST /oauth/token, form-encoded), caches the access token for the
//     whole process, replaces it a minute (or a quarter of its lifetime)
//     before it expires, spends the rotating refresh token first and falls
//     back to the client credentials when the refresh is refused; a 401
//     mints once more. It never logs a token or the secret. It reads every
//     shape the spec lists for the parts of the API that have not been
//     captured live (DCV bodies, list envelopes, error bodies); each shape
//     has a fixture in internal/api/testdata.
//
//   - The provider (Spec, Open) turns what waits on DCV into
//     providers.Challenge values and CERTInext's verify answers into
//     providers.Outcome values:
//
//     orders       pending-dcv orders (GET /reports/orders), each name not yet
//     VERIFIED, its challenge from GET /ssl-certificates/{id}/dcv?domain=,
//     verified with POST /ssl-certificates/{id}/dcv/verify;
//     domains      with prevalidate = true, every ACTIVE account domain whose
//     DCV is PENDING or EXPIRED (GET /domains, sorted by name), its token
//     from GET /domains/{id}/dcv (email domains switched to dns-txt first),
//     verified with POST /domains/{id}/dcv/verify. Order "domain:<id>".
//     revalidation with revalidate_before, every ACTIVE domain whose validTill
//     falls within the window (at a point spread by its ID): a fresh token
//     by PATCH /domains/{id}/dcv/method (the spec has no revalidation call),
//     the same verify, done once validTill leaves the window (revalidate.go).
//
// Record placement (spec §5.4, conflicting evidence, hence configurable):
//
//	the API names a host     that host (a bare label gets ".<name>")
//	it names none            <txt_label>.<name>   (default _emudhra-challenge)
//	txt_label = "@"          <name>
//
// The TXT value is the token verbatim. A wildcard "*.example.com" is
// validated on example.com.
//
// A verify CERTInext answers with 422 is NotVisible, retried by the engine
// with backoff; its reason is CERTInext's diagnostics in one line (attempt
// time, failure class, expected owner and value, perspectives that agreed),
// which `dcvd status` shows.
package certinext
