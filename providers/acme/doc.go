// Package acme makes an ACME account (RFC 8555) an order source: dcvd
// orders the certificates configured under the account, publishes the dns-01
// records each order asks for through whichever backend serves each name,
// proves visibility on every authoritative server with dcvd's own checks,
// answers the challenges, finalizes with a fresh key and CSR, writes the
// files and runs the deploy hook — the same pipeline as every other CA.
//
// It fits the providers.Provider contract like this:
//
//   - Discover: for each configured certificate that is missing or due
//     (ACME Renewal Information, RFC 9773, when the CA offers it; otherwise
//     renew_before ahead of expiry), resume the order in flight or create
//     one, and return one challenge per pending authorization
//     (`_acme-challenge.<name>` TXT, carrying the key authorization so that
//     lego's DNS providers can publish it too). An order whose
//     authorizations are all valid already (pre-validated domains on an EAB
//     account) needs nothing published: it is finalized at once.
//   - Submit: answer each challenge (POST to its URL).
//   - Poll: read each authorization; once the order is ready, finalize it,
//     download the certificate, write cert.pem, chain.pem, fullchain.pem and
//     key.pem atomically (key.pem 0600) and run deploy_hook.
//
// The account key and the URL of each order in flight live in the state
// directory (<state_dir>/acme/<account>/), written before the CA is asked,
// so a killed run resumes its order instead of starting another.
//
// The ACME protocol itself is github.com/go-acme/lego/v5's acme/api.
package acme
