package digicert

import (
	"crypto/rand"
	"strings"
	"time"
)

// OrderSpec seeds one order.
type OrderSpec struct {
	// CommonName and DNSNames (SANs, wildcards allowed) name the
	// certificate. The common name is added to the SANs when missing.
	CommonName string   `toml:"common_name" json:"common_name"`
	DNSNames   []string `toml:"dns_names" json:"dns_names"`
	// Method is the order DCV method: "email", "dns-txt-token" (default)
	// or "dns-cname-token".
	Method string `toml:"method" json:"method"`
	// Status is the order status (default "pending").
	Status string `toml:"status" json:"status"`
	// RandomValue fixes the order random value (default: a fresh random
	// 32-character value).
	RandomValue string `toml:"random_value" json:"random_value"`
	// Approved names (as written in CommonName/DNSNames, wildcards reduced)
	// start out approved.
	Approved []string `toml:"approved" json:"approved"`
	// Product is the product name_id (default "ssl_dv_geotrust").
	Product string `toml:"product" json:"product"`
}

// OrderState is a snapshot of one order for tests.
type OrderState struct {
	ID          int
	Status      string
	Method      string
	CommonName  string
	DNSNames    []string
	RandomValue string
	Names       []NameState
	// Checks counts the check-dcv requests that reached this order.
	Checks int
}

// NameState is the DCV state of one validated name of an order.
type NameState struct {
	Name     string   // name_scope: the name DNS proof is looked for at
	DNSNames []string // certificate names it covers
	DomainID int
	Status   string // "pending" or "approved"
}

// DomainState is a snapshot of one domain for tests.
type DomainState struct {
	ID        int
	Name      string
	Method    string
	Token     string
	Validated bool
	// Expires is when the domain's validation lapses (zero: never
	// validated); Revalidations counts validate-token checks that renewed
	// a validation the domain already had.
	Expires       time.Time
	Revalidations int
}

type nameVal struct {
	name       string
	dnsNames   []string
	domainID   int
	status     string
	approvedAt time.Time
	approvedBy int // the order's check-dcv (DCVCheck.Seq) that approved it; 0: none did
}

type order struct {
	id        int
	status    string
	cn        string
	dnsNames  []string
	method    string
	random    string
	randomExp time.Time
	names     []*nameVal
	product   string
	created   time.Time
	issued    time.Time
	certID    int
	hostile   []string // HostileNames
	checks    int      // check-dcv requests that reached the order
	checkSeq  int      // check-dcv requests of a token-method order (DCVCheck.Seq)
	checking  int      // check-dcv requests being answered now
}

type domain struct {
	id          int
	name        string
	method      string
	token       string
	tokenExp    time.Time
	validated   bool
	validatedAt time.Time
	created     time.Time
	inactive    bool
	// revalidations counts validate-token checks on an already validated
	// domain (each renews validatedAt).
	revalidations int
}

// Validity is how long a completed domain validation can be reused (the
// simulator's dcv_expiration is validatedAt + Validity).
const Validity = 397 * 24 * time.Hour

// lapsed reports whether d's validation has expired at the simulator's
// clock: such a domain is pending again (is_pending_validation, validations
// "expired") until it is revalidated. Called with s.mu held.
func (s *Server) lapsed(d *domain) bool {
	return d.validated && !s.now().Before(d.validatedAt.Add(Validity))
}

type state struct {
	nextOrder  int
	nextDomain int
	orders     map[int]*order
	orderIDs   []int
	domains    map[int]*domain
	domainIDs  []int // creation order, which is ID order: the domain list pages without sorting
	byName     map[string]*domain
}

func newState(first int) state {
	return state{nextOrder: first, nextDomain: 5001, orders: map[int]*order{}, domains: map[int]*domain{}, byName: map[string]*domain{}}
}

// tokenLifetime is how long a random value stays valid (DigiCert: 30 days).
const tokenLifetime = 30 * 24 * time.Hour

// newToken returns a 32-character lower-case alphanumeric random value, the
// shape DigiCert hands out.
func newToken() string {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 32)
	rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

func baseName(n string) string {
	n = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(n), "."))
	return strings.TrimPrefix(n, "*.")
}

// AddOrder seeds an order and returns its ID. Its names are grouped as
// DigiCert's fqdn scope does: each distinct name (a wildcard reduced to its
// base) is validated on its own, except that a name below another name of
// the same order is validated through the higher one.
func (s *Server) AddOrder(o OrderSpec) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	id := s.st.nextOrder
	s.st.nextOrder++
	ord := &order{
		id: id, status: o.Status, cn: strings.ToLower(o.CommonName), method: o.Method,
		random: o.RandomValue, product: o.Product, created: now, certID: id + 7000000,
	}
	if ord.status == "" {
		ord.status = "pending"
	}
	if ord.method == "" {
		ord.method = "dns-txt-token"
	}
	if ord.product == "" {
		ord.product = "ssl_dv_geotrust"
	}
	seen := map[string]bool{}
	for _, n := range append([]string{o.CommonName}, o.DNSNames...) {
		n = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(n), "."))
		if n != "" && !seen[n] {
			seen[n] = true
			ord.dnsNames = append(ord.dnsNames, n)
		}
	}
	if ord.cn == "" && len(ord.dnsNames) > 0 {
		ord.cn = ord.dnsNames[0]
	}
	// Group: scope = the highest base name of the order that n lies at or below.
	bases := map[string]bool{}
	for _, n := range ord.dnsNames {
		bases[baseName(n)] = true
	}
	scopes := map[string]*nameVal{}
	for _, n := range ord.dnsNames {
		b := baseName(n)
		scope := b
		// Climb to the top-most ancestor on the order (a.b.c → b.c → c).
		for changed := true; changed; {
			changed = false
			for cand := range bases {
				if cand != scope && strings.HasSuffix(scope, "."+cand) {
					scope, changed = cand, true
				}
			}
		}
		nv := scopes[scope]
		if nv == nil {
			d := s.domainFor(scope, ord.method, now)
			nv = &nameVal{name: scope, domainID: d.id, status: "pending"}
			scopes[scope] = nv
			ord.names = append(ord.names, nv)
		}
		nv.dnsNames = append(nv.dnsNames, n)
	}
	for _, a := range o.Approved {
		if nv := scopes[baseName(a)]; nv != nil {
			nv.status, nv.approvedAt = "approved", now
		}
	}
	if ord.random == "" && ord.method != "email" {
		ord.random = newToken()
	}
	if ord.random != "" {
		ord.randomExp = now.Add(tokenLifetime)
	}
	s.st.orders[id] = ord
	s.st.orderIDs = append(s.st.orderIDs, id)
	s.maybeIssue(ord, now)
	return id
}

// AddOrders seeds several orders and returns their IDs.
func (s *Server) AddOrders(specs []OrderSpec) []int {
	ids := make([]int, len(specs))
	for i, o := range specs {
		ids[i] = s.AddOrder(o)
	}
	return ids
}

// domainFor returns the domain record for name, creating it. Called with
// s.mu held.
func (s *Server) domainFor(name, method string, now time.Time) *domain {
	if d := s.st.byName[name]; d != nil {
		return d
	}
	d := &domain{id: s.st.nextDomain, name: name, method: method, created: now}
	s.st.nextDomain++
	if isTokenMethod(method) {
		d.token, d.tokenExp = newToken(), now.Add(tokenLifetime)
	}
	s.st.domains[d.id] = d
	s.st.domainIDs = append(s.st.domainIDs, d.id)
	s.st.byName[name] = d
	return d
}

// maybeIssue issues a pending order whose names are all approved. Called
// with s.mu held.
func (s *Server) maybeIssue(o *order, now time.Time) {
	if o.status != "pending" {
		return
	}
	for _, nv := range o.names {
		if nv.status != "approved" {
			return
		}
	}
	o.status, o.issued = "issued", now
}

// SetOrderStatus changes an order's status (to simulate a cancellation or
// rejection). It reports whether the order exists.
func (s *Server) SetOrderStatus(id int, status string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.st.orders[id]
	if o == nil {
		return false
	}
	o.status = status
	return true
}

// Order returns a snapshot of order id.
func (s *Server) Order(id int) (OrderState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.st.orders[id]
	if o == nil {
		return OrderState{}, false
	}
	st := OrderState{ID: o.id, Status: o.status, Method: o.method, CommonName: o.cn,
		DNSNames: append([]string(nil), o.dnsNames...), RandomValue: o.random, Checks: o.checks}
	for _, nv := range o.names {
		st.Names = append(st.Names, NameState{Name: nv.name, DNSNames: append([]string(nil), nv.dnsNames...), DomainID: nv.domainID, Status: nv.status})
	}
	return st, true
}

// Orders returns the IDs of every order, in creation order.
func (s *Server) Orders() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.st.orderIDs...)
}

// Domain returns a snapshot of domain id.
func (s *Server) Domain(id int) (DomainState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.st.domains[id]
	if d == nil {
		return DomainState{}, false
	}
	st := DomainState{ID: d.id, Name: d.name, Method: d.method, Token: d.token, Validated: d.validated && !s.lapsed(d), Revalidations: d.revalidations}
	if d.validated {
		st.Expires = d.validatedAt.Add(Validity)
	}
	return st, true
}

// DomainByName returns the ID of the domain record for name (0 if none).
func (s *Server) DomainByName(name string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if d := s.st.byName[baseName(name)]; d != nil {
		return d.id
	}
	return 0
}

func isTokenMethod(m string) bool {
	switch m {
	case "dns-txt-token", "dns-cname-token", "http-token":
		return true
	}
	return false
}

func validMethod(m string) bool {
	return m == "email" || isTokenMethod(m) || m == "http-token-static" || m == "http-token-dynamic"
}

// ExpireRandomValue moves the expiration date of an order's random value
// into the past, so the next dcv-random-value call mints a new one (to test
// that a client publishes the new value). It reports whether the order
// exists.
func (s *Server) ExpireRandomValue(id int) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.st.orders[id]
	if o == nil {
		return false
	}
	o.randomExp = s.now().Add(-time.Hour)
	return true
}
