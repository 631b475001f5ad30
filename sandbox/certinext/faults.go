package certinext

import "github.com/dcvd/dcvd/sandbox/simkit"

// Inject makes the next n requests matching method ("" = any) and path fail
// with f (simkit's faults: 401, 403, 404, 429 with Retry-After, 500, 502
// HTML, and Malformed/Truncated, which let the call take effect first). path
// is a concrete path below Prefix ("/domains/abc/dcv/verify"), a route
// ("/domains/{id}/dcv/verify"), "/oauth/token", or "*". Faults apply before
// authentication and rate limiting; error bodies are problem+json.
func (s *Server) Inject(method, path string, f simkit.Fault, n int) {
	s.faults.Inject(method, path, f, n)
}
