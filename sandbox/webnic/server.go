package webnic

import (
	"encoding/json"
	"log/slog"
	"math"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/dcvd/dcvd/sandbox/simkit"
)

// Default credential, accepted when Options.Users is empty.
const (
	DefaultUser     = "api-sandbox"
	DefaultPassword = "sandbox-secret"
)

// DefaultTokenLifetime is WebNIC's documented token lifetime (expires_in 3600).
const DefaultTokenLifetime = time.Hour

// Route names, as counted by Requests and matched by Inject.
const (
	RouteToken         = "POST /reseller/v2/api-user/token"
	RouteSearch        = "POST /ssl/v2/orders/search"
	RouteOrderInfo     = "GET /ssl/v2/orders/info"
	RouteAuthInfo      = "GET /ssl/v2/orders/{id}/auth/info"
	RouteAuth          = "PUT /ssl/v2/orders/{id}/auth"
	RouteDCVStatus     = "GET /ssl/v2/orders/{id}/dcv-status"
	RouteApprovers     = "GET /ssl/v2/domainValidations/approver-list"
	RouteApproverEmail = "PUT /ssl/v2/orders/{id}/approver-email"
	RouteSendApprover  = "POST /ssl/v2/orders/{id}/approver-email/send"
)

// Limit is "at most N requests in any window of length Window" for one
// username.
type Limit = simkit.Limit

// Options configures a simulator.
type Options struct {
	// Users maps API usernames to passwords. Empty: DefaultUser with
	// DefaultPassword.
	Users map[string]string
	// AllowedIPs is the credential's IP allow-list. Empty: every caller is
	// allowed. Otherwise a caller outside it still gets a token (the token
	// call is not IP-gated) and then 403 RES0004 on every other call.
	AllowedIPs []string
	// TokenLifetime is the access token lifetime (default 3600 s).
	TokenLifetime time.Duration
	// DNSServers are "host:port" servers asked when a DCV record is checked
	// (a name passes when any of them serves it). Empty: nothing is found.
	DNSServers []string
	// DNSTimeout bounds one DNS query (default 2s).
	DNSTimeout time.Duration
	// Limits are per-username request limits, sliding windows (default
	// none; WebNIC publishes none, a third party claims 5000/day). Over a
	// limit: 429 with Retry-After.
	Limits []Limit
	// StringIDs makes orderId a JSON string instead of a number (the shape
	// is not documented; clients must accept both).
	StringIDs bool
	// Now is the clock (default time.Now).
	Now func() time.Time
	// Logger receives one line per request and per DNS check (never a
	// password or token).
	Logger *slog.Logger
	// FirstOrderID is the id of the first order (default 880001).
	FirstOrderID int
}

// Server is the simulator, an http.Handler serving at the root (base_url is
// the server URL).
type Server struct {
	opts    Options
	users   map[string]string
	allowed map[string]bool
	mux     *http.ServeMux
	dns     *lookup
	log     *slog.Logger
	now     func() time.Time

	faults  simkit.Faults
	counts  simkit.Counter
	windows *simkit.Windows

	mu        sync.Mutex
	tokens    map[string]token
	orders    map[int]*order
	ids       []int
	next      int
	finWrites map[int]int // order id -> writes attempted while finished
}

type token struct {
	user    string
	expires time.Time
}

// New returns a simulator.
func New(opts Options) *Server {
	s := &Server{
		opts: opts, users: opts.Users, allowed: map[string]bool{}, log: opts.Logger, now: opts.Now,
		tokens: map[string]token{}, orders: map[int]*order{}, finWrites: map[int]int{}, next: opts.FirstOrderID,
	}
	if len(s.users) == 0 {
		s.users = map[string]string{DefaultUser: DefaultPassword}
	}
	for _, ip := range opts.AllowedIPs {
		s.allowed[ip] = true
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.now == nil {
		s.now = time.Now
	}
	if s.opts.TokenLifetime <= 0 {
		s.opts.TokenLifetime = DefaultTokenLifetime
	}
	if s.next <= 0 {
		s.next = 880001
	}
	timeout := opts.DNSTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	s.dns = &lookup{servers: opts.DNSServers, timeout: timeout}
	s.windows = simkit.NewWindows(opts.Limits, s.now)
	m := http.NewServeMux()
	m.HandleFunc(RouteToken, s.mintToken)
	m.HandleFunc(RouteSearch, s.search)
	m.HandleFunc(RouteOrderInfo, s.orderInfo)
	m.HandleFunc(RouteAuthInfo, s.authInfo)
	m.HandleFunc(RouteAuth, s.changeAuth)
	m.HandleFunc(RouteDCVStatus, s.dcvStatus)
	m.HandleFunc(RouteApprovers, s.approvers)
	m.HandleFunc(RouteApproverEmail, s.updateApprover)
	m.HandleFunc(RouteSendApprover, s.sendApprover)
	m.HandleFunc("/", notFound)
	s.mux = m
	return s
}

// ServeHTTP counts the request, applies the IP allow-list, the bearer
// token, the rate limits and injected faults, then dispatches it.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	route := simkit.Route(s.mux, r, "")
	s.log.Debug("webnic sandbox request", "method", r.Method, "path", r.URL.Path)
	s.counts.Add("", route)
	if route != RouteToken && route != "unknown" {
		if !s.ipAllowed(r) {
			s.writeStatus(w, http.StatusForbidden)
			return
		}
		user, ok := s.bearer(w, r)
		if !ok {
			return
		}
		if ok, retry := s.windows.Allow(user); !ok {
			w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(retry.Seconds()))))
			s.writeStatus(w, http.StatusTooManyRequests)
			return
		}
	}
	if f, ok := s.faults.Take(r.Method, r.URL.Path, route); ok {
		if !s.serveOwnFault(f, w, r) {
			f.Serve(w, r, s.mux, s.writeStatus)
		}
		return
	}
	s.mux.ServeHTTP(w, r)
}

// writeStatus writes WebNIC's error reply for status (simkit.ErrorWriter).
func (s *Server) writeStatus(w http.ResponseWriter, status int) {
	switch status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		writeFail(w, status, "2401", "RES4010", "Invalid or missing access token")
	case http.StatusForbidden:
		writeFail(w, status, "2400", "RES0004", "Forbidden access")
	case http.StatusNotFound:
		writeFail(w, status, "2400", "SSL2404", "Order not found")
	case http.StatusTooManyRequests:
		writeFail(w, status, "2429", "RES4290", "Too many requests")
	default:
		writeFail(w, status, "5000", "DOM5000", "Unknown error")
	}
}

// ipAllowed applies Options.AllowedIPs to the caller's address.
func (s *Server) ipAllowed(r *http.Request) bool {
	if len(s.allowed) == 0 {
		return true
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return s.allowed[host]
}

// bearer checks the Authorization header and returns the token's user. It
// answers 401 itself (with WWW-Authenticate, as a Spring resource server
// does) and returns false when the token is missing, unknown or expired.
func (s *Server) bearer(w http.ResponseWriter, r *http.Request) (string, bool) {
	raw, found := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	s.mu.Lock()
	tok, known := s.tokens[strings.TrimSpace(raw)]
	expired := known && !s.now().Before(tok.expires)
	if expired {
		delete(s.tokens, raw)
	}
	s.mu.Unlock()
	switch {
	case !found || !known:
		s.writeStatus(w, http.StatusUnauthorized)
		return "", false
	case expired:
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token", error_description="expired"`)
		writeFail(w, http.StatusUnauthorized, "2401", "RES4011", "Access token expired")
		return "", false
	}
	return tok.user, true
}

// Requests returns how many requests reached route (one of the Route
// constants; "" = every route), including refused ones.
func (s *Server) Requests(route string) int { return s.counts.Total(route) }

// Rejected returns how many requests of user were refused by Limits (429).
func (s *Server) Rejected(user string) int { return s.windows.Rejected(user) }

// MaxIn returns the most requests of user accepted within any window of
// length d (to prove a client stayed under a limit).
func (s *Server) MaxIn(user string, d time.Duration) int { return s.windows.MaxIn(user, d) }

// ExpireTokens makes every token issued so far expire now, as if the run
// outlived them.
func (s *Server) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

// Tokens returns how many tokens are currently valid.
func (s *Server) Tokens() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, t := range s.tokens {
		if s.now().Before(t.expires) {
			n++
		}
	}
	return n
}

// envelope is WebNIC's reply: code is a string; data is absent on some
// successful replies and on every error.
type envelope struct {
	Code    string    `json:"code"`
	Message string    `json:"message"`
	Data    any       `json:"data,omitempty"`
	Error   *subError `json:"error,omitempty"`
}

type subError struct {
	SubCode string `json:"subCode"`
	Message string `json:"message"`
}

func writeEnvelope(w http.ResponseWriter, status int, e envelope) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(e)
}

// writeOK writes {"code":"1000", ...} with data (nil: no data member).
func writeOK(w http.ResponseWriter, data any) {
	writeEnvelope(w, http.StatusOK, envelope{Code: "1000", Message: "Command completed successfully.", Data: data})
}

// writeFail writes the error envelope.
func writeFail(w http.ResponseWriter, status int, code, subCode, msg string) {
	writeEnvelope(w, status, envelope{Code: code, Message: "Command failed.", Error: &subError{SubCode: subCode, Message: msg}})
}

// notFound answers an unknown path as Spring Boot does (observed on OTE for
// wrong paths): no envelope at all.
func notFound(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusNotFound)
	json.NewEncoder(w).Encode(map[string]any{
		"timestamp": time.Now().UTC().Format(time.RFC3339), "status": 404, "error": "Not Found",
		"message": "No static resource " + strings.TrimPrefix(r.URL.Path, "/") + ".", "path": r.URL.Path,
	})
}
