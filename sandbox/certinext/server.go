package certinext

import (
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dcvd/dcvd/sandbox/simkit"
)

// Prefix is the path every v2 resource is served under. The token endpoint
// is at /oauth/token, outside it.
const Prefix = "/api/certinext/v2"

// Default credentials accepted when Options.Accounts is empty.
const (
	DefaultAccount = "100200300"
	DefaultSecret  = "sandbox-secret"
)

// DefaultLabel is the owner-name label the simulator checks when it does
// not name the host in a DCV body.
const DefaultLabel = "_emudhra-challenge"

// DefaultValidity is the default reuse period of a domain validation: 199
// days, a day under the CA/Browser Forum's 200 since 2026-03-15 (whether
// validTill follows that schedule is the spec's open question 3).
const DefaultValidity = 199 * 24 * time.Hour

// Limit is "at most N requests in any window of Window" per account.
type Limit = simkit.Limit

// DomainShape selects the key names of GET /domains/{id}/dcv (spec §5.2).
type DomainShape int

const (
	// DomainTokenHost: {"method","token","tokenExpiry","host":"<label>"} (a bare label).
	DomainTokenHost DomainShape = iota
	// DomainTxtTokenDNSHost: {"method","txtToken","tokenExpiry","dnsHost":"<label>.<domain>"}.
	DomainTxtTokenDNSHost
	// DomainDNSContents: {"method","dnsContents","tokenExpiry"}, no host.
	DomainDNSContents
	// DomainNoHost: {"method","token","tokenExpiry"}, no host (the client's txt_label decides).
	DomainNoHost
)

// OrderShape selects the body of GET /ssl-certificates/{id}/dcv (spec §5.3).
type OrderShape int

const (
	// OrderFlat: {"token","tokenExpiryDate"}, no host.
	OrderFlat OrderShape = iota
	// OrderChallenges: {"challenges":[{"domain","method","txtToken","dnsHost"}]}.
	OrderChallenges
	// OrderList: a bare array [{"domain","method","token","host"}].
	OrderList
)

// Options configures a simulator. The zero value is usable.
type Options struct {
	// Accounts maps account numbers (OAuth client_id) to client secrets.
	// Empty: DefaultAccount with DefaultSecret.
	Accounts map[string]string
	// AccessTTL is the access-token lifetime (default 1h); RefreshTTL the
	// refresh-token lifetime (default 24h). Every refresh rotates the
	// refresh token: the old one is refused afterwards.
	AccessTTL, RefreshTTL time.Duration
	// NoRefreshTokens leaves refresh_token out of token responses (the spec
	// treats it as optional).
	NoRefreshTokens bool
	// DNSServers are the "host:port" perspectives a verify asks; all must
	// serve the value. Empty: nothing is ever found.
	DNSServers []string
	// DNSTimeout bounds one DNS query (default 2s).
	DNSTimeout time.Duration
	// Label is the owner label checked when the DCV body names no host:
	// "" = DefaultLabel, "@" = the domain itself.
	Label string
	// DomainShape and OrderShape pick the DCV body shapes.
	DomainShape DomainShape
	OrderShape  OrderShape
	// BareLists makes list endpoints answer a bare array.
	BareLists bool
	// TokenTTL is how long a DCV token stays valid (default 30 days).
	TokenTTL time.Duration
	// Validity is how long a domain validation can be reused: validTill =
	// verifiedAt + Validity (default DefaultValidity).
	Validity time.Duration
	// Revalidation (spec: no revalidation call; a PATCH of the method mints
	// a fresh token, §3, §5.2) is a PATCH of a validated domain's method
	// followed by a verify of the new token, which renews verifiedAt and
	// validTill. What the live API shows meanwhile is not known, so:
	// RevalidationResets makes that PATCH put the domain's dcvStatus back
	// to PENDING until the verify (verifiedAt and validTill stay, the old
	// validation still counts); by default it stays VERIFIED.
	RevalidationResets bool
	// VerifyIgnoresRevalidation makes a verify of a VERIFIED domain answer
	// 200 VERIFIED without checking the new token or renewing anything (a
	// CA that does not re-check a verified domain).
	VerifyIgnoresRevalidation bool
	// PatchAnswersMethod makes PATCH /domains/{id}/dcv/method answer only
	// {"method"} (the token it minted is read with GET .../dcv): the spec
	// says the PATCH returns the "updated DCV config", not which keys.
	PatchAnswersMethod bool
	// Limits are enforced per account (sliding windows; 429 with
	// Retry-After). Nil: no limits.
	Limits []Limit
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger gets one debug line per request (never a token or secret).
	Logger *slog.Logger
}

// Server is the simulator, an http.Handler.
type Server struct {
	opts    Options
	log     *slog.Logger
	now     func() time.Time
	label   string
	mux     *http.ServeMux
	mu      sync.Mutex
	st      state
	auth    tokens
	faults  simkit.Faults
	calls   simkit.Counter
	windows *simkit.Windows
}

// New returns a simulator.
func New(opts Options) *Server {
	s := &Server{opts: opts, log: opts.Logger, now: opts.Now, label: opts.Label}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.label == "" {
		s.label = DefaultLabel
	}
	if len(s.opts.Accounts) == 0 {
		s.opts.Accounts = map[string]string{DefaultAccount: DefaultSecret}
	}
	if s.opts.AccessTTL <= 0 {
		s.opts.AccessTTL = time.Hour
	}
	if s.opts.RefreshTTL <= 0 {
		s.opts.RefreshTTL = 24 * time.Hour
	}
	if s.opts.TokenTTL <= 0 {
		s.opts.TokenTTL = 30 * 24 * time.Hour
	}
	if s.opts.Validity <= 0 {
		s.opts.Validity = DefaultValidity
	}
	if s.opts.DNSTimeout <= 0 {
		s.opts.DNSTimeout = 2 * time.Second
	}
	s.windows = simkit.NewWindows(opts.Limits, s.now)
	s.auth = newTokens()
	s.st = newState()
	s.routes()
	return s
}

func (s *Server) routes() {
	m := http.NewServeMux()
	m.HandleFunc("POST /oauth/token", s.token)
	api := func(pattern string, f func(w http.ResponseWriter, r *http.Request, acct string)) {
		method, path, _ := strings.Cut(pattern, " ")
		m.HandleFunc(method+" "+Prefix+path, s.authed(f))
	}
	api("GET /auth/me", s.me)
	api("GET /domains", s.listDomains)
	api("POST /domains", s.addDomain)
	api("GET /domains/{id}", s.viewDomain)
	api("GET /domains/{id}/dcv", s.domainDCV)
	api("PATCH /domains/{id}/dcv/method", s.domainMethod)
	api("POST /domains/{id}/dcv/verify", s.domainVerify)
	api("POST /domains/{id}/deactivate", s.deactivate)
	api("GET /domains/{id}/dcv/attempts", s.attempts)
	api("GET /domains/{id}/dcv/attempts/last", s.lastAttempt)
	api("GET /reports/orders", s.listOrders)
	api("GET /ssl-certificates/{id}", s.viewOrder)
	api("GET /ssl-certificates/{id}/dcv", s.orderDCV)
	api("POST /ssl-certificates/{id}/dcv/verify", s.orderVerify)
	m.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		problem(w, http.StatusNotFound, "Not Found", "no such resource: "+r.Method+" "+r.URL.Path, nil)
	})
	s.mux = m
}

// ServeHTTP counts the request, applies injected faults and dispatches.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route := simkit.Route(s.mux, r, Prefix)
	s.log.Debug("certinext sandbox request", "method", r.Method, "path", r.URL.Path)
	s.calls.Add("", route)
	if f, ok := s.faults.Take(r.Method, strings.TrimPrefix(r.URL.Path, Prefix), route); ok {
		f.Serve(w, r, s.mux, writeStatus)
		return
	}
	s.mux.ServeHTTP(w, r)
}

// writeStatus is the simulator's error body for a bare status (simkit faults).
func writeStatus(w http.ResponseWriter, status int) {
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		problem(w, status, "Unauthorized", "access token missing, expired or revoked", nil)
	case http.StatusTooManyRequests:
		problem(w, status, "Too Many Requests", "rate limit exceeded", nil)
	case http.StatusServiceUnavailable, http.StatusInternalServerError:
		problem(w, status, http.StatusText(status), "upstream service temporarily unavailable", nil)
	default:
		problem(w, status, http.StatusText(status), http.StatusText(status), nil)
	}
}

// authed checks the bearer token and the account's rate limits before f.
func (s *Server) authed(f func(w http.ResponseWriter, r *http.Request, acct string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		acct, valid := s.auth.access(tok, s.now())
		s.mu.Unlock()
		if !ok || !valid {
			writeStatus(w, http.StatusUnauthorized)
			return
		}
		if ok, retry := s.windows.Allow(acct); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(max(1, int((retry+time.Second-1)/time.Second))))
			writeStatus(w, http.StatusTooManyRequests)
			return
		}
		f(w, r, acct)
	}
}

// Calls returns how many requests reached route ("GET /domains/{id}/dcv",
// "POST /oauth/token"), faulted ones included; "" counts every route.
func (s *Server) Calls(route string) int {
	if route == "" {
		return s.calls.Total("")
	}
	return s.calls.N("", route)
}

// Denied returns how many requests of acct the rate limits refused (429).
func (s *Server) Denied(acct string) int { return s.windows.Rejected(acct) }

// MaxIn returns the most accepted requests of acct within any window w.
func (s *Server) MaxIn(acct string, w time.Duration) int { return s.windows.MaxIn(acct, w) }

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-API-Version", "2.0.0")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// problem writes an RFC 7807 body; extra members are merged in.
func problem(w http.ResponseWriter, status int, title, detail string, extra map[string]any) {
	body := map[string]any{
		"type":   "https://api.certinext.io/problems/" + strings.ToLower(strings.ReplaceAll(title, " ", "-")),
		"title":  title,
		"status": status,
		"detail": detail,
	}
	for k, v := range extra {
		body[k] = v
	}
	w.Header().Set("Content-Type", "application/problem+json")
	w.Header().Set("X-API-Version", "2.0.0")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}
