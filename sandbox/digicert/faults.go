package digicert

import "github.com/dcvd/dcvd/sandbox/simkit"

// Fault is an injected failure (sandbox/simkit); DigiCert's error bodies
// come from this simulator.
type Fault = simkit.Fault

// The faults the DigiCert tests name.
const (
	// FaultServerError answers 500 internal_error.
	FaultServerError = simkit.ServerError
	// FaultServerErrorEmpty answers 500 with an empty body (no error list).
	FaultServerErrorEmpty = simkit.ServerErrorEmpty
	// FaultMalformedJSON runs the call and cuts its JSON body in half.
	FaultMalformedJSON = simkit.Truncated
	// FaultMalformedError answers 502 with an HTML body (a proxy error page).
	FaultMalformedError = simkit.BadGateway
	// FaultRateLimit answers 429 request_limit_exceeded.
	FaultRateLimit = simkit.RateLimit
	// FaultNotFound answers 404 not_found|order, as for an order that was
	// deleted or belongs to another account.
	FaultNotFound = simkit.NotFound
)

// Inject makes the next n requests matching method ("" = any) and path fail
// with f. path is either a concrete path below Prefix
// ("/order/certificate/100001/check-dcv"), a route pattern
// ("/order/certificate/{id}/check-dcv"), or "*" for every request.
// Faults apply after authentication and before rate limiting.
func (s *Server) Inject(method, path string, f Fault, n int) { s.faults.Inject(method, path, f, n) }
