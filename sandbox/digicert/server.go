package digicert

import (
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/dcvd/dcvd/sandbox/simkit"
)

// Prefix is the path the API is served under, as on www.digicert.com.
const Prefix = "/services/v2"

// DefaultKey is accepted when Options lists no keys at all.
const DefaultKey = "sandbox-key"

// Limit is "at most N requests per Window" for one API key.
type Limit = simkit.Limit

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
	opts    Options
	keys    map[string]bool // key -> may write
	mux     *http.ServeMux
	dns     *resolver
	log     *slog.Logger
	now     func() time.Time
	windows *simkit.Windows
	faults  simkit.Faults
	counts  simkit.Counter
	mu      sync.Mutex
	st      state
	checks  []DCVCheck // every check-dcv, for tests (checks.go)
}

// New returns a simulator.
func New(opts Options) *Server {
	s := &Server{
		opts: opts,
		keys: map[string]bool{},
		log:  opts.Logger,
		now:  opts.Now,
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
	var limits []Limit
	if !opts.NoLimits {
		limits = opts.Limits
		if limits == nil {
			limits = DefaultLimits
		}
	}
	s.windows = simkit.NewWindows(limits, s.now)
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

// ServeHTTP authenticates, applies injected faults, rate-limits and
// dispatches the request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route := simkit.Route(s.mux, r, Prefix)
	key := r.Header.Get("X-DC-DEVKEY")
	s.log.Debug("digicert sandbox request", "method", r.Method, "path", r.URL.Path, "route", route)

	s.counts.Add(key, route)
	s.mu.Lock()
	write, known := s.keys[key]
	s.mu.Unlock()
	if !known {
		writeStatus(w, http.StatusUnauthorized)
		return
	}
	if f, ok := s.faults.Take(r.Method, strings.TrimPrefix(r.URL.Path, Prefix), route); ok {
		f.Serve(w, r, s.mux, writeStatus)
		return
	}
	if ok, _ := s.windows.Allow(key); !ok {
		writeStatus(w, http.StatusTooManyRequests)
		return
	}
	if !write && (r.Method == http.MethodPut || r.Method == http.MethodPost || r.Method == http.MethodDelete) {
		writeStatus(w, http.StatusForbidden)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// Requests returns how many requests key made to route ("PUT
// /order/certificate/{id}/check-dcv"; "" = every route), including rejected
// ones.
func (s *Server) Requests(key, route string) int { return s.counts.N(key, route) }

// Rejected returns how many requests of key got 429.
func (s *Server) Rejected(key string) int { return s.windows.Rejected(key) }

// MaxInWindow returns the largest number of accepted requests of key that
// fell within any window of length w (to prove a client stayed under a
// limit).
func (s *Server) MaxInWindow(key string, w time.Duration) int { return s.windows.MaxIn(key, w) }

// writeStatus writes DigiCert's error for a refused request of status (the
// simkit.ErrorWriter of this simulator).
func writeStatus(w http.ResponseWriter, status int) {
	switch status {
	case http.StatusUnauthorized:
		writeError(w, status, "access_denied|invalid_api_key", "The API key provided is not valid.")
	case http.StatusForbidden:
		writeError(w, status, "access_denied|missing_permission", "You do not have permission to perform this action.")
	case http.StatusNotFound:
		writeError(w, status, "not_found|order", "The requested order was not found.")
	case http.StatusTooManyRequests:
		writeError(w, status, "request_limit_exceeded", "Service unavailable, please limit request volume.")
	default:
		writeError(w, status, "internal_error", "An internal error occurred.")
	}
}

// writeError writes DigiCert's error envelope with one entry.
func writeError(w http.ResponseWriter, status int, code, msg string) {
	simkit.WriteJSON(w, status, map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}
