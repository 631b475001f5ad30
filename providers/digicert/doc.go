// Package digicert talks to the DigiCert CertCentral Services API v2 and
// implements a providers.Provider on top of it.
//
// The package has two layers:
//
//   - Client is a small, complete HTTP client for the DCV part of the API:
//     listing pending orders, reading an order's per-name validation state,
//     fetching the order random value, switching the DCV method, asking
//     DigiCert to check now, and the domain-level (prevalidation) calls. It
//     authenticates with the X-DC-DEVKEY header, keeps itself under both of
//     DigiCert's per-key rate limits and backs off on 429. Every failure is
//     an *Error naming the request and quoting DigiCert's error list.
//
//   - The provider (Spec, Open) turns pending orders into providers.Challenge
//     values — one DNS record per name to validate — and maps DigiCert's
//     answers to check-dcv and the validation endpoint onto providers.Outcome.
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
