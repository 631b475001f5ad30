package digicert

import (
	"net/http"
	"strings"
)

// Fault is an injected failure.
type Fault int

const (
	// FaultServerError answers 500 with an error envelope.
	FaultServerError Fault = iota + 1
	// FaultServerErrorEmpty answers 500 with an empty body (no error list).
	FaultServerErrorEmpty
	// FaultMalformedJSON answers 200 with a truncated JSON body.
	FaultMalformedJSON
	// FaultMalformedError answers 502 with an HTML body (a proxy error page).
	FaultMalformedError
	// FaultRateLimit answers 429 request_limit_exceeded.
	FaultRateLimit
	// FaultNotFound answers 404 not_found|order, as for an order that was
	// deleted or belongs to another account.
	FaultNotFound
)

type faultRule struct {
	method string // "" = any
	path   string // concrete path below Prefix, or a route pattern
	fault  Fault
	left   int
}

// Inject makes the next n requests matching method ("" = any) and path fail
// with f. path is either a concrete path below Prefix
// ("/order/certificate/100001/check-dcv"), a route pattern
// ("/order/certificate/{id}/check-dcv"), or "*" for every request.
// Faults apply after authentication and before rate limiting.
func (s *Server) Inject(method, path string, f Fault, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultRule{method: method, path: path, fault: f, left: n})
}

// takeFault returns the first matching fault with requests left and counts
// one down. Called with s.mu held.
func (s *Server) takeFault(method, path, route string) *faultRule {
	_, routePath, _ := strings.Cut(route, " ")
	for _, f := range s.faults {
		if f.left <= 0 || (f.method != "" && f.method != method) {
			continue
		}
		if f.path == "*" || f.path == path || f.path == routePath {
			f.left--
			return f
		}
	}
	return nil
}

func (f *faultRule) write(w http.ResponseWriter) {
	switch f.fault {
	case FaultServerError:
		writeError(w, http.StatusInternalServerError, "internal_error", "An internal error occurred.")
	case FaultServerErrorEmpty:
		w.WriteHeader(http.StatusInternalServerError)
	case FaultMalformedJSON:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusOK)
		w.Write([]byte(`{"orders": [{"id": 1, "status": "pend`))
	case FaultMalformedError:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>"))
	case FaultRateLimit:
		writeError(w, http.StatusTooManyRequests, "request_limit_exceeded", "Service unavailable, please limit request volume.")
	case FaultNotFound:
		writeError(w, http.StatusNotFound, "not_found|order", "The requested order was not found.")
	}
}
