// Package apiclient is the one HTTP client toolkit every CA, reseller and
// registrar client in dcvd is built on (DigiCert, WebNIC, CERTInext,
// mijndomeinreseller, PowerDNS, ...). A client package describes its API —
// base URL, authentication, the shape of its error bodies, its documented
// rate limits — and calls Do; the toolkit does the rest the same way for
// everyone:
//
//   - paths built with escaped IDs (Path), JSON or form bodies in, JSON out,
//     responses capped in size (a truncated or malformed body is an error,
//     never a half-decoded struct);
//   - authentication (Auth): a static header key, a bearer token minted by a
//     call, cached, refreshed ahead of expiry by a single flight and re-minted
//     once on 401, or an OAuth2 token source;
//   - the rate limiter shared by every goroutine using one credential
//     (internal/ratelimit), paused for a 429's Retry-After;
//   - retries with exponential backoff and jitter (internal/backoff) for 429,
//     5xx, transport errors and truncated bodies — never for other 4xx, and
//     never blindly for a call that may have taken effect: a POST or PATCH
//     whose outcome is unknown is repeated only after Request.Reconcile has
//     read the CA's state and found that it did not;
//   - one error type (*Error), one line: the service, the method, the path
//     with its IDs (never a query string, header or secret), the HTTP status
//     and the CA's own error codes and messages verbatim;
//   - a debug-level request log (method, path, status, attempt, duration);
//     headers and bodies are never logged.
package apiclient
