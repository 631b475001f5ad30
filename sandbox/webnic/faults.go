package webnic

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/dcvd/dcvd/sandbox/simkit"
)

// Faults of WebNIC's own, injected with Inject like simkit's (which give
// 401, 403, 404, 429 with Retry-After, 500, 502 HTML, and a malformed or
// truncated reply after the call took effect, each with WebNIC's error
// envelope).
const (
	// FaultTokenExpired answers 401 "Access token expired" and revokes the
	// caller's token, as if it expired just now.
	FaultTokenExpired simkit.Fault = 100 + iota
	// FaultVanish deletes the order named in the path, then serves the call
	// (which then finds no order).
	FaultVanish
)

// Inject makes the next n requests matching method ("" = any) and path
// fail with f (a simkit fault or one of WebNIC's own above). path is a
// concrete path ("/ssl/v2/orders/880001/auth/info"), a route path with {id}
// ("/ssl/v2/orders/{id}/auth/info"), or "*" for every request. Faults apply
// after the IP, token and rate-limit checks.
func (s *Server) Inject(method, path string, f simkit.Fault, n int) {
	s.faults.Inject(method, path, f, n)
}

// ClearFaults removes every injected fault.
func (s *Server) ClearFaults() { s.faults.Clear() }

// serveOwnFault handles WebNIC's own faults and reports whether it did.
func (s *Server) serveOwnFault(f simkit.Fault, w http.ResponseWriter, r *http.Request) bool {
	switch f {
	case FaultTokenExpired:
		raw, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		delete(s.tokens, strings.TrimSpace(raw))
		s.mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="expired"`)
		writeFail(w, http.StatusUnauthorized, "2401", "RES4011", "Access token expired")
		return true
	case FaultVanish:
		// /ssl/v2/orders/{id}/...
		if parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/"); len(parts) >= 4 {
			if id, err := strconv.Atoi(parts[3]); err == nil {
				s.RemoveOrder(id)
			}
		}
		s.mux.ServeHTTP(w, r)
		return true
	}
	return false
}
