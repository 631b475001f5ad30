// Package webnic validates Sectigo certificate orders placed through a
// WebNIC reseller account (RESTful SSL API v2) over DNS, as a
// providers.Provider.
//
// One pass of the provider:
//
//  1. token: POST /reseller/v2/api-user/token with the API username and
//     password; the JWT (3600 s) is cached, replaced 5 minutes before it
//     expires by a single flight, and minted once more after a 401. A wrong
//     username comes back as HTTP 500 RES5001 and is reported as "username
//     rejected", not as a server fault; a caller outside the credential's IP
//     allow-list gets a token and then 403 RES0004 / DOM0004, reported as
//     such.
//  2. discover: POST /ssl/v2/orders/search once per pending orderStatus
//     (PENDING, IN_PROCESS, PROCESSED, PENDING_REISSUE, INITIAL), every
//     page; finished orders (COMPLETED, certStatus ACTIVE, REJECTED,
//     CANCELLED, EXPIRED, REFUNDED, REVOKED) are never read further nor
//     written to.
//  3. challenge: GET /ssl/v2/orders/{id}/auth/info; an order on email or
//     file DCV is switched with PUT /ssl/v2/orders/{id}/auth
//     {"authType":"dns","sendAuthGuideEmail":false} when switch_email_orders
//     is on (the default), and the challenge that call returns is used.
//  4. publish: exactly host / recordType / value of the common name and of
//     every SAN — Sectigo's CSR-hash scheme, "_<MD5>.<name>" holding
//     "<SHA-256 halves>[.<uniqueValue>].sectigo.com" as a TXT (or as a CNAME
//     target when WebNIC says CNAME). A wildcard shares its base name's
//     record. The engine checks every record before any backend sees it.
//  5. submit and poll: GET /ssl/v2/orders/{id}/dcv-status. COMPLETED (or
//     certStatus ACTIVE) validates every name of the order; a rejected,
//     cancelled or expired order fails them; anything else stays pending
//     with WebNIC's words, and the order is asked again after poll_min,
//     doubling to poll_max (internal/backoff).
//
// The account's domain inventory (providers.Inventory, `dcvd domains`) is
// its orders' names, from one unfiltered search: see inventory.go.
//
// The API client and the wire types live in internal/api; every response
// shape the spec lists has a recorded fixture there. The commands of
// `dcvd webnic ...` (auth-type, auth-info, dcv-status, approvers,
// approver-email, send-approver-email) are in commands.go.
package webnic
