package digicert

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Prefix is the path the API is served under, as on www.digicert.com.
const Prefix = "/services/v2"

// DefaultKey is accepted when Options lists no keys at all.
const DefaultKey = "sandbox-key"

// Limit is "at most N requests per Window" for one API key.
type Limit struct {
	N      int
	Window time.Duration
}

// DefaultLimits are DigiCert's documented per-key limits.
var DefaultLimits = []Limit{{N: 100, Window: 5 * time.Second}, {N: 1000, Window: 3 * time.Minute}}

// Options configures a simulator.
type Options struct {
	// Keys are valid API keys with full permissions. When Keys and
	// ViewOnlyKeys are both empty, DefaultKey is accepted.
	Keys []string
	// ViewOnlyKeys may only GET; PUT and POST get 403
	// access_denied|missing_permission.
	ViewOnlyKeys []string
	// DNSServers are "host:port" servers the simulator asks when it checks
	// a DCV record (a name passes when any of them serves the record). Empty:
	// nothing is ever found.
	DNSServers []string
	// DNSTimeout bounds one DNS query (default 2s).
	DNSTimeout time.Duration
	// Limits replace DefaultLimits; set NoLimits to disable rate limiting.
	Limits   []Limit
	NoLimits bool
	// NoDNSAuthTXT stops the simulator from accepting a TXT at
	// _dnsauth.<name> (reseller-documented fallback).
	NoDNSAuthTXT bool
	// Legacy makes responses use the legacy documented shapes: check-dcv
	// without dns_name_validations, validate-token with the token.
	Legacy bool
	// Now is the clock (default time.Now); tests may pass a fake one.
	Now func() time.Time
	// Logger receives one line per request (never the key).
	Logger *slog.Logger
	// FirstOrderID is the ID of the first order (default 100001).
	FirstOrderID int
}

// Server is the simulator. It is an http.Handler serving under Prefix.
type Server struct {
	opts     Options
	keys     map[string]bool // key -> may write
	mux      *http.ServeMux
	dns      *resolver
	log      *slog.Logger
	now      func() time.Time
	limits   []Limit
	mu       sync.Mutex
	st       state
	faults   []*faultRule
	counts   map[string]int // key + "\x00" + route
	rejected map[string]int // 429 by key
	seen     map[string][]time.Time
	accepted map[string][]time.Time // every accepted request per key (for tests)
}

// New returns a simulator.
func New(opts Options) *Server {
	s := &Server{
		opts:     opts,
		keys:     map[string]bool{},
		log:      opts.Logger,
		now:      opts.Now,
		counts:   map[string]int{},
		rejected: map[string]int{},
		seen:     map[string][]time.Time{},
		accepted: map[string][]time.Time{},
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	for _, k := range opts.ViewOnlyKeys {
		s.keys[k] = false
	}
	for _, k := range opts.Keys {
		s.keys[k] = true
	}
	if len(s.keys) == 0 {
		s.keys[DefaultKey] = true
	}
	if !opts.NoLimits {
		s.limits = opts.Limits
		if s.limits == nil {
			s.limits = DefaultLimits
		}
	}
	timeout := opts.DNSTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	s.dns = newResolver(opts.DNSServers, timeout)
	first := opts.FirstOrderID
	if first <= 0 {
		first = 100001
	}
	s.st = newState(first)
	s.routes()
	return s
}

func (s *Server) routes() {
	m := http.NewServeMux()
	h := func(pattern string, f http.HandlerFunc) {
		method, path, _ := strings.Cut(pattern, " ")
		m.HandleFunc(method+" "+Prefix+path, f)
	}
	h("GET /order/certificate", s.listOrders)
	h("GET /order/certificate/{id}", s.orderInfo)
	h("GET /order/certificate/{id}/validation", s.orderValidation)
	h("PUT /order/certificate/{id}/dcv-random-value", s.randomValue)
	h("PUT /order/certificate/{id}/dcv-method", s.orderMethod)
	h("PUT /order/certificate/{id}/check-dcv", s.checkDCV)
	h("PUT /order/certificate/{id}/resend-emails", s.resendEmails)
	h("GET /domain", s.listDomains)
	h("GET /domain/{id}", s.domainInfo)
	h("GET /domain/{id}/validation", s.domainValidation)
	h("PUT /domain/{id}/dcv/method", s.domainMethod)
	h("POST /domain/{id}/dcv/token", s.domainToken)
	h("PUT /domain/{id}/dcv/validate-token", s.domainValidate)
	h("PUT /domain/{id}/dcv/emails", s.domainEmails)
	h("GET /user/me", s.userMe)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "not_found|route", "The requested route was not found.")
	})
	s.mux = m
}

// ServeHTTP authenticates, rate-limits, applies injected faults and
// dispatches the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	_, pattern := s.mux.Handler(r)
	route := routeName(pattern)
	key := r.Header.Get("X-DC-DEVKEY")
	s.log.Debug("digicert sandbox request", "method", r.Method, "path", r.URL.Path, "route", route)

	s.mu.Lock()
	write, known := s.keys[key]
	s.counts[key+"\x00"+route]++
	if !known {
		s.mu.Unlock()
		writeError(w, http.StatusUnauthorized, "access_denied|invalid_api_key", "The API key provided is not valid.")
		return
	}
	if f := s.takeFault(r.Method, strings.TrimPrefix(r.URL.Path, Prefix), route); f != nil {
		s.mu.Unlock()
		f.write(w)
		return
	}
	if !s.allow(key) {
		s.rejected[key]++
		s.mu.Unlock()
		writeError(w, http.StatusTooManyRequests, "request_limit_exceeded", "Service unavailable, please limit request volume.")
		return
	}
	s.mu.Unlock()
	if !write && (r.Method == http.MethodPut || r.Method == http.MethodPost || r.Method == http.MethodDelete) {
		writeError(w, http.StatusForbidden, "access_denied|missing_permission", "You do not have permission to perform this action.")
		return
	}
	s.mux.ServeHTTP(w, r)
}

// routeName turns a mux pattern into the route name used by counters and
// faults: "PUT /order/certificate/{id}/check-dcv".
func routeName(pattern string) string {
	if pattern == "/" || pattern == "" {
		return "unknown"
	}
	method, path, ok := strings.Cut(pattern, " ")
	if !ok {
		return pattern
	}
	return method + " " + strings.TrimPrefix(path, Prefix)
}

// Requests returns how many requests key made to route ("PUT
// /order/certificate/{id}/check-dcv"; "" = every route), including rejected
// ones.
func (s *Server) Requests(key, route string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if route != "" {
		return s.counts[key+"\x00"+route]
	}
	n := 0
	for k, c := range s.counts {
		if strings.HasPrefix(k, key+"\x00") {
			n += c
		}
	}
	return n
}

// Rejected returns how many requests of key got 429.
func (s *Server) Rejected(key string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.rejected[key]
}

// MaxInWindow returns the largest number of accepted requests of key that
// fell within any window of length w (to prove a client stayed under a
// limit).
func (s *Server) MaxInWindow(key string, w time.Duration) int {
	s.mu.Lock()
	ts := append([]time.Time(nil), s.accepted[key]...)
	s.mu.Unlock()
	best, j := 0, 0
	for i := range ts {
		for ts[i].Sub(ts[j]) >= w {
			j++
		}
		if n := i - j + 1; n > best {
			best = n
		}
	}
	return best
}

// writeJSON writes v with status.
func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// writeError writes DigiCert's error envelope with one entry.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}
