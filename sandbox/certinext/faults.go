package certinext

import (
	"bytes"
	"net/http"
	"strings"
)

// Fault is an injected failure.
type Fault int

const (
	// FaultRateLimit answers 429 problem+json with "Retry-After: 1".
	FaultRateLimit Fault = iota + 1
	// FaultServerError answers 503 problem+json.
	FaultServerError
	// FaultBadGateway answers 502 with an HTML body (a proxy's error page).
	FaultBadGateway
	// FaultTruncate lets the request take effect, then sends only the first
	// half of the response body (the connection "dropped" mid-answer).
	FaultTruncate
)

type faultRule struct {
	method, path string
	fault        Fault
	left         int
}

// Inject makes the next n requests matching method ("" = any) and path fail
// with f. path is a concrete path below Prefix ("/domains/abc/dcv/verify"),
// a route ("/domains/{id}/dcv/verify"), "/oauth/token", or "*" for any.
// Faults apply before authentication and rate limiting.
func (s *Server) Inject(method, path string, f Fault, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultRule{method: method, path: path, fault: f, left: n})
}

// FaultsLeft returns how many injected faults have not fired yet.
func (s *Server) FaultsLeft() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, f := range s.faults {
		n += f.left
	}
	return n
}

// takeFault returns the first matching rule with requests left and counts
// one down. Called with s.mu held.
func (s *Server) takeFault(method, path, route string) *faultRule {
	_, routePath, _ := strings.Cut(route, " ")
	for _, f := range s.faults {
		if f.left > 0 && (f.method == "" || f.method == method) && (f.path == "*" || f.path == path || f.path == routePath) {
			f.left--
			return f
		}
	}
	return nil
}

func (f *faultRule) write(w http.ResponseWriter) {
	switch f.fault {
	case FaultRateLimit:
		w.Header().Set("Retry-After", "1")
		problem(w, http.StatusTooManyRequests, "Too Many Requests", "rate limit exceeded", nil)
	case FaultServerError:
		problem(w, http.StatusServiceUnavailable, "Service Unavailable", "upstream service temporarily unavailable", nil)
	case FaultBadGateway:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>"))
	}
}

// truncWriter records a handler's answer so that only half of it is sent.
type truncWriter struct {
	h      http.Header
	status int
	buf    bytes.Buffer
}

func (t *truncWriter) Header() http.Header         { return t.h }
func (t *truncWriter) WriteHeader(code int)        { t.status = code }
func (t *truncWriter) Write(p []byte) (int, error) { return t.buf.Write(p) }

func (t *truncWriter) flush(w http.ResponseWriter) {
	if t.status == 0 {
		t.status = http.StatusOK
	}
	w.WriteHeader(t.status)
	b := t.buf.Bytes()
	w.Write(b[:len(b)/2])
}
