package webnic

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
)

// Fault is an injected failure.
type Fault int

const (
	// FaultRateLimit answers 429 with Retry-After: 1 and the envelope.
	FaultRateLimit Fault = iota + 1
	// FaultServerError answers 500 with the envelope (sub-code DOM5000,
	// "unknown error").
	FaultServerError
	// FaultBadGateway answers 502 with an HTML page (a proxy in front).
	FaultBadGateway
	// FaultTruncated runs the call (it takes effect) and then cuts the 200
	// reply in the middle of its JSON.
	FaultTruncated
	// FaultMalformed runs the call (it takes effect) and then answers 200
	// with an HTML page instead of JSON.
	FaultMalformed
	// FaultTokenExpired answers 401 "Access token expired" and revokes the
	// caller's token, as if it expired just now.
	FaultTokenExpired
	// FaultVanish deletes the order named in the path, then serves the call
	// (which then finds no order).
	FaultVanish
)

type faultRule struct {
	method string
	path   string
	fault  Fault
	left   int
}

// Inject makes the next n requests matching method ("" = any) and path
// fail with f. path is a concrete path ("/ssl/v2/orders/880001/auth/info"),
// a route path with {id} ("/ssl/v2/orders/{id}/auth/info"), or "*" for
// every request. Faults apply after the IP, token and rate-limit checks.
func (s *Server) Inject(method, path string, f Fault, n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &faultRule{method: method, path: path, fault: f, left: n})
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

// serve answers with the fault. It returns false when the request must
// still be served normally (FaultVanish, after removing the order).
func (f *faultRule) serve(s *Server, w http.ResponseWriter, r *http.Request) bool {
	switch f.fault {
	case FaultRateLimit:
		w.Header().Set("Retry-After", "1")
		writeFail(w, http.StatusTooManyRequests, "2429", "RES4290", "Too many requests")
	case FaultServerError:
		writeFail(w, http.StatusInternalServerError, "5000", "DOM5000", "Unknown error")
	case FaultBadGateway:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>\n"))
	case FaultTruncated, FaultMalformed:
		rec := httptest.NewRecorder()
		s.mux.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		if f.fault == FaultTruncated {
			body = body[:len(body)/2]
		} else {
			body = []byte("<html><body>Service temporarily unavailable</body></html>\n")
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(rec.Code)
		w.Write(body)
	case FaultTokenExpired:
		raw, _ := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		delete(s.tokens, strings.TrimSpace(raw))
		s.mu.Unlock()
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="expired"`)
		writeFail(w, http.StatusUnauthorized, "2401", "RES4011", "Access token expired")
	case FaultVanish:
		// /ssl/v2/orders/{id}/...
		parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
		if len(parts) >= 4 {
			if id, err := strconv.Atoi(parts[3]); err == nil {
				s.RemoveOrder(id)
			}
		}
		return false
	}
	return true
}
