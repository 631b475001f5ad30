// Package digicert talks to the DigiCert CertCentral Services API v2 and
// implements a providers.Provider on top of it.
//
// The package has two layers:
//
//   - internal/api is the HTTP client for the DCV part of the API (listing
//     pending orders, an order's per-name validation state, the order
//     random value, switching the DCV method, asking DigiCert to check now,
//     and the domain-level prevalidation calls) and its wire types. It is
//     built on internal/apiclient: the X-DC-DEVKEY header, the account's
//     limiter (providers.Limiter: ratelimit.Shared, one per account for
//     every goroutine, every documented window used in full and never
//     overrun), retries of 429 and 5xx with backoff, and one-line
//     *apiclient.Error values quoting DigiCert's error list.
//
//   - The provider (Spec, Open) turns pending orders into providers.Challenge
//     values — one DNS record per name to validate — and maps DigiCert's
//     answers to check-dcv and the validation endpoint onto providers.Outcome.
//     cli.go adds `dcvd digicert ...`; the Spec's Sandbox and Demo hooks come
//     from sandbox/digicert.
//
// Record placement (see README.md):
//
//	dns-txt-token    <name>            TXT   <random>
//	dns-cname-token  _dnsauth.<name>   CNAME <random>.dcv.digicert.com   (cname_form = "dnsauth")
//	                 <random>.<name>   CNAME dcv.digicert.com            (cname_form = "legacy")
//
// A wildcard "*.example.com" is validated on "example.com"; when an order
// holds both, one record serves both.
package digicert
