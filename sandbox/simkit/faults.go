package simkit

import (
	"bytes"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
)

// Fault is an injected failure every simulator can produce. The CA's own
// error body (envelope, codes, messages) comes from the simulator's
// ErrorWriter, so a fault looks exactly like the CA's real failure.
type Fault int

const (
	// Unauthorized answers 401: the credential (key or token) is refused.
	Unauthorized Fault = iota + 1
	// Forbidden answers 403: the credential may not do this (permission,
	// IP allow-list).
	Forbidden
	// NotFound answers 404: the object vanished or belongs to another
	// account.
	NotFound
	// RateLimit answers 429 with Retry-After: 1.
	RateLimit
	// ServerError answers 500 with the CA's error body.
	ServerError
	// ServerErrorEmpty answers 500 with an empty body.
	ServerErrorEmpty
	// BadGateway answers 502 with an HTML page (a proxy in front of the CA).
	BadGateway
	// Malformed runs the call (it takes effect) and answers 200 with a body
	// that is not JSON.
	Malformed
	// Truncated runs the call (it takes effect) and answers its status with
	// the body cut in half (a connection that dropped mid-body).
	Truncated
)

var faultNames = map[Fault]string{
	Unauthorized: "401", Forbidden: "403", NotFound: "404", RateLimit: "429",
	ServerError: "500", ServerErrorEmpty: "500-empty", BadGateway: "502-html",
	Malformed: "malformed-json", Truncated: "truncated-json",
}

func (f Fault) String() string {
	if s, ok := faultNames[f]; ok {
		return s
	}
	return "fault?"
}

// Status is the HTTP status the fault answers with (0 for Malformed and
// Truncated: the call's own).
func (f Fault) Status() int {
	switch f {
	case Unauthorized:
		return http.StatusUnauthorized
	case Forbidden:
		return http.StatusForbidden
	case NotFound:
		return http.StatusNotFound
	case RateLimit:
		return http.StatusTooManyRequests
	case ServerError, ServerErrorEmpty:
		return http.StatusInternalServerError
	case BadGateway:
		return http.StatusBadGateway
	}
	return 0
}

// AllFaults lists every Fault (the conformance suite tries each).
var AllFaults = []Fault{Unauthorized, Forbidden, NotFound, RateLimit, ServerError, ServerErrorEmpty, BadGateway, Malformed, Truncated}

// ErrorWriter writes a CA's own error response for status (its envelope,
// code and message for that status).
type ErrorWriter func(w http.ResponseWriter, status int)

// Serve answers r with fault f. For Malformed and Truncated it first runs
// next (the call takes effect at the CA) and then spoils the body.
func (f Fault) Serve(w http.ResponseWriter, r *http.Request, next http.Handler, errw ErrorWriter) {
	switch f {
	case ServerErrorEmpty:
		w.WriteHeader(http.StatusInternalServerError)
	case BadGateway:
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusBadGateway)
		w.Write([]byte("<html><body><h1>502 Bad Gateway</h1></body></html>"))
	case RateLimit:
		w.Header().Set("Retry-After", "1")
		errw(w, http.StatusTooManyRequests)
	case Malformed, Truncated:
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		body := rec.Body.Bytes()
		status := rec.Code
		if f == Malformed {
			body, status = []byte("<html>not json</html>"), http.StatusOK
		} else {
			body = truncate(body)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(body)
	default:
		errw(w, f.Status())
	}
}

// truncate cuts a JSON body so it no longer parses (an empty body becomes
// an unterminated object).
func truncate(body []byte) []byte {
	body = bytes.TrimSpace(body)
	if len(body) < 2 {
		return []byte(`{"`)
	}
	return body[:len(body)/2]
}

// Faults is a list of injected fault rules, safe for concurrent use. The
// zero value is ready.
type Faults struct {
	mu    sync.Mutex
	rules []*faultRule
}

type faultRule struct {
	method string // "" = any
	path   string // "*", a concrete path, or a route path
	fault  Fault
	left   int
}

// Inject makes the next n requests matching method ("" = any) and path fail
// with f. path is "*" (every request), a concrete path
// ("/order/certificate/100001/check-dcv") or a route path
// ("/order/certificate/{id}/check-dcv"), both as the simulator names them.
func (fs *Faults) Inject(method, path string, f Fault, n int) {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.rules = append(fs.rules, &faultRule{method: method, path: path, fault: f, left: n})
}

// Clear removes every rule.
func (fs *Faults) Clear() {
	fs.mu.Lock()
	defer fs.mu.Unlock()
	fs.rules = nil
}

// Take returns the fault of the first rule matching a request (method,
// concrete path, route "METHOD /route/{id}") with requests left, and counts
// that rule down.
func (fs *Faults) Take(method, path, route string) (Fault, bool) {
	_, routePath, _ := strings.Cut(route, " ")
	fs.mu.Lock()
	defer fs.mu.Unlock()
	for _, r := range fs.rules {
		if r.left <= 0 || (r.method != "" && r.method != method) {
			continue
		}
		if r.path == "*" || r.path == path || r.path == routePath {
			r.left--
			return r.fault, true
		}
	}
	return 0, false
}
