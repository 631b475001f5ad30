// Package webnic is a WebNIC RESTful SSL API v2 simulator (Sectigo
// certificates sold through the WebNIC reseller API): an in-memory,
// concurrency-safe net/http handler that speaks the shapes of
// shared/specs/webnic-sectigo.md.
//
// What it reproduces, and where each behaviour comes from (spec section):
//
//   - the token flow (§1): POST /reseller/v2/api-user/token with
//     {username, password} returns {"access_token", "expires_in": 3600};
//     every other call needs "Authorization: Bearer <token>" and a token
//     stops working when it expires (401);
//   - the envelope (§2): success is HTTP 2xx with the string code "1000",
//     failure an HTTP 4xx/5xx with {"code", "message", "error": {"subCode",
//     "message"}}; a wrong username is HTTP 500 RES5001 "Invalid username"
//     (observed on OTE, not a server fault); a caller outside the
//     credential's IP allow-list gets a token but then HTTP 403 RES0004 on
//     every call (Options.AllowedIPs);
//   - the SSL endpoints dcvd uses (§3): order search with filters and
//     pagination, order info, Get Auth Info, Change Auth Type, Check DCV
//     Status, approver list, and Update/Send Email Approver (their paths are
//     not documented; this simulator and the provider share the guess in
//     the provider's README);
//   - Sectigo's CSR-hash challenge (§5): every order gets a real ECDSA CSR;
//     a name's DNS challenge is host "_<MD5(CSR DER)>.<name>" (a wildcard on
//     its base name) and value "<SHA-256 halves>[.<uniqueValue>].sectigo.com",
//     as a TXT or, for orders seeded with RecordType "CNAME", as a CNAME.
//
// A name is approved only after the simulator found the exact record in DNS
// for real (miekg/dns, asking Options.DNSServers directly; independent of
// dcvd's verify package, so a bug there cannot hide itself). It looks at
// "_<MD5>.<name>" and then at the same label below each parent, as Sectigo
// does, and checks when Check DCV Status is called. An order whose names are
// all approved becomes COMPLETED with certStatus ACTIVE.
//
// Finished orders (COMPLETED, CANCELLED, REJECTED, EXPIRED, ...) refuse
// every write, and the attempt is counted (FinishedWrites) so tests can
// prove a client never tried. Faults (Inject) cover 429 with Retry-After,
// 5xx, a truncated or malformed body after the call took effect, an expired
// token and an order that vanishes.
//
//	sim := webnic.New(webnic.Options{DNSServers: []string{"127.0.0.1:5353"}})
//	id := sim.AddOrder(webnic.OrderSpec{CommonName: "example.com", SANs: []string{"*.example.com"}})
//	srv := httptest.NewServer(sim) // base_url = srv.URL
//	// username webnic.DefaultUser, password webnic.DefaultPassword
package webnic
