package certinext

import (
	"crypto/rand"
	"fmt"
	"strings"
	"time"
)

// DomainSpec seeds one account domain.
type DomainSpec struct {
	Name string `toml:"name" json:"name"`
	// Method is the DCV method: "dns-txt" (default), "email" or "http-url".
	Method string `toml:"method" json:"method"`
	// Verified domains start VERIFIED (and cover the names below them on orders).
	Verified bool `toml:"verified" json:"verified"`
	// VerifiedAt is when the validation was completed (default now; it
	// implies Verified). The validation is reusable until VerifiedAt +
	// Options.Validity (validTill); after that the domain's dcvStatus is
	// EXPIRED.
	VerifiedAt time.Time `toml:"verified_at" json:"verified_at"`
	// Organization defaults to "Sandbox Org".
	Organization string `toml:"organization" json:"organization"`
}

// OrderSpec seeds one SSL order waiting on DCV.
type OrderSpec struct {
	// Domain is the primary name; AdditionalDomains the other SANs
	// (wildcards allowed: "*.example.com" is validated on example.com).
	Domain            string   `toml:"domain" json:"domain"`
	AdditionalDomains []string `toml:"additional_domains" json:"additional_domains"`
	// Variant is the product variant (default "dv").
	Variant string `toml:"variant" json:"variant"`
	// Status overrides the initial status (default "pending-dcv").
	Status string `toml:"status" json:"status"`
}

// DomainState is a snapshot of one account domain.
type DomainState struct {
	ID, Name, Status, DCVStatus, Method, Token string
	Attempts                                   int
	// VerifiedAt and ValidTill are the current validation's dates (zero:
	// never validated); Valid says whether it is still reusable.
	VerifiedAt, ValidTill time.Time
	Valid                 bool
	// Revalidating: a token was minted (PATCH of the method) on a domain
	// that has a validation, and no verify has renewed it yet.
	// Revalidations counts the verifies that renewed an existing
	// validation.
	Revalidating  bool
	Revalidations int
}

// OrderState is a snapshot of one order.
type OrderState struct {
	ID, Status string
	Names      map[string]string // DCV name (wildcards reduced) -> PENDING | VERIFIED
	Tokens     map[string]string // DCV name -> token ("" until read)
}

type domain struct {
	id, name, org    string
	status, dcv      string // ACTIVE..., PENDING/VERIFIED/...
	method           string
	token            string
	tokenExp         time.Time
	stale            bool // token replaced since the last attempt
	created, checked time.Time
	verifiedAt       time.Time
	attempts         []attempt
	reval            bool // revalidation open: a token minted on a validated domain
	revalidations    int  // verifies that renewed an existing validation
}

type attempt struct {
	ID          string    `json:"attemptId"`
	At          time.Time `json:"attemptedAt"`
	Method      string    `json:"method"`
	Overall     string    `json:"overallStatus"`
	Failure     *string   `json:"failureClass"`
	diagnostics map[string]any
}

type order struct {
	id, requestID, status, variant string
	certNames                      []string // as ordered
	names                          []*orderName
	created, issued                time.Time
}

type orderName struct {
	name       string // DCV name: the certificate name with "*." removed
	status     string // PENDING | VERIFIED
	method     string // "" until verified
	token      string
	tokenExp   time.Time
	verifiedAt time.Time
	byAccount  bool // covered by a verified account domain
}

type state struct {
	domains []*domain // in creation order
	byID    map[string]*domain
	orders  []*order
	orderBy map[string]*order
	nextOrd int
	idem    map[string]*domain // Idempotency-Key -> domain it created
}

func newState() state {
	return state{byID: map[string]*domain{}, orderBy: map[string]*order{}, nextOrd: 7000001, idem: map[string]*domain{}}
}

// baseName lower-cases, trims a trailing dot and a leading "*.".
func baseName(n string) string {
	n = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(n), "."))
	return strings.TrimPrefix(n, "*.")
}

// AddDomain seeds an account domain and returns its ID.
func (s *Server) AddDomain(spec DomainSpec) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addDomainLocked(spec).id
}

func (s *Server) addDomainLocked(spec DomainSpec) *domain {
	now := s.now()
	d := &domain{id: newUUID(), name: baseName(spec.Name), org: spec.Organization, status: "ACTIVE",
		dcv: "PENDING", method: strings.ToLower(spec.Method), created: now}
	if d.org == "" {
		d.org = "Sandbox Org"
	}
	if d.method == "" {
		d.method = "dns-txt"
	}
	if spec.Verified || !spec.VerifiedAt.IsZero() {
		d.dcv, d.verifiedAt = "VERIFIED", spec.VerifiedAt
		if d.verifiedAt.IsZero() {
			d.verifiedAt = now
		}
	}
	s.st.domains = append(s.st.domains, d)
	s.st.byID[d.id] = d
	return d
}

// dcvStatus is the dcvStatus the API shows: the stored one, except that a
// VERIFIED domain whose validTill has passed is EXPIRED.
func (s *Server) dcvStatus(d *domain) string {
	if d.dcv == "VERIFIED" && !d.verifiedAt.IsZero() && !s.now().Before(d.verifiedAt.Add(s.opts.Validity)) {
		return "EXPIRED"
	}
	return d.dcv
}

// valid reports whether d's last validation is still reusable (it covers
// order names until validTill, also while a revalidation is open).
func (s *Server) valid(d *domain) bool {
	return d.status == "ACTIVE" && !d.verifiedAt.IsZero() && s.now().Before(d.verifiedAt.Add(s.opts.Validity))
}

// findDomain returns the account domain called name (ACTIVE first).
func (st *state) findDomain(name string) *domain {
	var found *domain
	for _, d := range st.domains {
		if d.name == name && (found == nil || d.status == "ACTIVE") {
			found = d
		}
	}
	return found
}

// AddOrder seeds an order and returns its ID.
func (s *Server) AddOrder(spec OrderSpec) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := &order{id: fmt.Sprint(s.st.nextOrd), requestID: fmt.Sprintf("REQ-%d", s.st.nextOrd), status: spec.Status,
		variant: spec.Variant, created: s.now()}
	s.st.nextOrd++
	if o.status == "" {
		o.status = "pending-dcv"
	}
	if o.variant == "" {
		o.variant = "dv"
	}
	seen := map[string]bool{}
	for _, n := range append([]string{spec.Domain}, spec.AdditionalDomains...) {
		if n == "" {
			continue
		}
		o.certNames = append(o.certNames, strings.ToLower(n))
		if b := baseName(n); !seen[b] {
			seen[b] = true
			o.names = append(o.names, &orderName{name: b, status: "PENDING"})
		}
	}
	s.st.orders = append(s.st.orders, o)
	s.st.orderBy[o.id] = o
	s.refresh(o)
	return o.id
}

// refresh applies what time and the account domains decide: a name at or
// below a VERIFIED, ACTIVE account domain is verified through it, and an
// order whose names are all verified is issued. Called with s.mu held.
func (s *Server) refresh(o *order) {
	if o.status != "pending-dcv" {
		return
	}
	now := s.now()
	done := true
	for _, n := range o.names {
		if n.status != "VERIFIED" {
			for _, d := range s.st.domains {
				if s.valid(d) && (n.name == d.name || strings.HasSuffix(n.name, "."+d.name)) {
					n.status, n.method, n.verifiedAt, n.byAccount = "VERIFIED", d.method, now, true
					break
				}
			}
		}
		done = done && n.status == "VERIFIED"
	}
	if done {
		o.status, o.issued = "issued", now
	}
}

// Domain returns a snapshot of the domain with the given ID or name.
func (s *Server) Domain(idOrName string) (DomainState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.st.byID[idOrName]
	if d == nil {
		d = s.st.findDomain(baseName(idOrName))
	}
	if d == nil {
		return DomainState{}, false
	}
	st := DomainState{ID: d.id, Name: d.name, Status: d.status, DCVStatus: s.dcvStatus(d), Method: d.method, Token: d.token,
		Attempts: len(d.attempts), VerifiedAt: d.verifiedAt, Valid: s.valid(d), Revalidating: d.reval, Revalidations: d.revalidations}
	if !d.verifiedAt.IsZero() {
		st.ValidTill = d.verifiedAt.Add(s.opts.Validity)
	}
	return st, true
}

// Domains returns a snapshot of every account domain, in creation order.
func (s *Server) Domains() []DomainState {
	s.mu.Lock()
	ids := make([]string, 0, len(s.st.domains))
	for _, d := range s.st.domains {
		ids = append(ids, d.id)
	}
	s.mu.Unlock()
	out := make([]DomainState, 0, len(ids))
	for _, id := range ids {
		d, _ := s.Domain(id)
		out = append(out, d)
	}
	return out
}

// Order returns a snapshot of one order.
func (s *Server) Order(id string) (OrderState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.st.orderBy[id]
	if o == nil {
		return OrderState{}, false
	}
	s.refresh(o)
	st := OrderState{ID: o.id, Status: o.status, Names: map[string]string{}, Tokens: map[string]string{}}
	for _, n := range o.names {
		st.Names[n.name], st.Tokens[n.name] = n.status, n.token
	}
	return st, true
}

// Orders returns every order ID in creation order.
func (s *Server) Orders() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []string
	for _, o := range s.st.orders {
		ids = append(ids, o.id)
	}
	return ids
}

// OrderToken returns the current DCV token of name on order id ("" when none was
// read yet or the order is unknown).
func (s *Server) OrderToken(id, name string) string {
	st, _ := s.Order(id)
	return st.Tokens[baseName(name)]
}

// Deactivate makes a domain INACTIVE, as POST /domains/{id}/deactivate.
func (s *Server) Deactivate(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.st.byID[id]
	if d != nil {
		d.status, d.token = "INACTIVE", ""
	}
	return d != nil
}

// RotateToken replaces a domain's DCV token, as a PATCH of its method by
// someone else would.
func (s *Server) RotateToken(id string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	d := s.st.byID[id]
	if d != nil {
		d.token = ""
		s.dcvBody(d)
	}
	return d != nil
}

// newUUID returns a random version-4 UUID, the shape of CERTInext's domain
// IDs (a base64url string could begin with '-', which no real ID does and a
// command line would take for a flag).
func newUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:])
}
