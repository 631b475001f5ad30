// Package digicert is a DigiCert CertCentral Services API v2 simulator: an
// in-memory, concurrency-safe net/http handler that speaks the documented
// request and response shapes of the order and domain DCV endpoints, the
// error envelope {"errors":[{"code","message"}]}, and DigiCert's per-key rate
// limits (100 requests / 5 s and 1000 / 3 min → 429 request_limit_exceeded).
//
// It approves a name only after looking the record up in DNS for real
// (miekg/dns, against the servers in Options.DNSServers):
//
//	dns-txt-token    TXT at <name> (or, as resellers document, at _dnsauth.<name>)
//	                 holding the order random value or the domain token
//	dns-cname-token  _dnsauth.<name> CNAME <random>.dcv.digicert.com
//	                 or <random>.<name> CNAME dcv.digicert.com
//
// An order whose names are all approved becomes "issued".
//
// Tests seed it with AddOrder, inject faults with Inject, and inspect it with
// Order and Requests; `dcvd sandbox digicert --orders FILE` serves it (see
// LoadOrders) so a configuration can be dry-run against it.
//
//	sim := digicert.New(digicert.Options{Keys: []string{"k"}, DNSServers: []string{"127.0.0.1:5353"}})
//	id := sim.AddOrder(digicert.OrderSpec{CommonName: "example.com", DNSNames: []string{"*.example.com"}})
//	srv := httptest.NewServer(sim)
//	base := srv.URL + digicert.Prefix // what the provider's base_url points at
package digicert
