// Package simkit is what every CA simulator under sandbox/ shares, so that
// each simulator is only its CA's own API (routes, shapes, error envelope,
// DNS checks):
//
//   - Windows enforces documented request limits per credential exactly as
//     sliding windows ("at most N in any window W"), answers how long until
//     a slot frees (Retry-After), counts refusals, and proves afterwards
//     that a client stayed under every window (MaxIn).
//   - Faults holds injected failures (Inject(method, path, fault, n));
//     Fault.Serve answers 401/403/404/429/500/502 with the CA's own error
//     body (the simulator's ErrorWriter), or runs the call and then spoils
//     its JSON (Malformed, Truncated). The conformance suite
//     providers/providertest injects every Fault in AllFaults.
//   - Counter counts requests per credential and route; Route names the
//     route a ServeMux dispatches to ("PUT /order/{id}/check-dcv").
//   - WriteJSON, ReadJSON, Page and IntParam are the JSON and paging
//     helpers.
//   - Serve, Start and Flags serve a simulator for `dcvd sandbox <ca>` and
//     `dcvd demo`.
//
// A simulator's ServeHTTP is then a few lines:
//
//	route := simkit.Route(s.mux, r, Prefix)
//	s.counts.Add(key, route)
//	// authenticate, then:
//	if f, ok := s.faults.Take(r.Method, r.URL.Path, route); ok {
//		f.Serve(w, r, s.mux, s.writeStatus)
//		return
//	}
//	if ok, retry := s.windows.Allow(key); !ok { ... 429 with Retry-After ... }
//	s.mux.ServeHTTP(w, r)
package simkit
