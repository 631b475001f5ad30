package webnic

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/md5"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// Order statuses (spec §3.7) and the ones this simulator treats as finished:
// every write to a finished order is refused and counted.
const (
	StatusPending   = "PENDING"
	StatusInProcess = "IN_PROCESS"
	StatusCompleted = "COMPLETED"
	StatusCancelled = "CANCELLED"
	StatusRejected  = "REJECTED"
	StatusExpired   = "EXPIRED"
)

// Finished reports whether an order in orderStatus/certStatus is done with
// DCV for good (issued, or never going to be).
func Finished(orderStatus, certStatus string) bool {
	switch strings.ToUpper(orderStatus) {
	case StatusCompleted, StatusCancelled, StatusRejected, StatusExpired, "REFUNDED", "REVOKED":
		return true
	}
	switch strings.ToUpper(certStatus) {
	case "ACTIVE", "REVOKED", "CANCELLED", "EXPIRED":
		return true
	}
	return false
}

// OrderSpec seeds one order.
type OrderSpec struct {
	// CommonName and SANs name the certificate (wildcards allowed). A SAN
	// equal to the common name is dropped.
	CommonName string   `toml:"common_name" json:"common_name"`
	SANs       []string `toml:"sans" json:"sans"`
	// AuthType is the order's DCV method: "dns" (default), "email" or "file".
	AuthType string `toml:"auth_type" json:"auth_type"`
	// RecordType is what a DNS challenge of this order asks for: "TXT"
	// (default, the only documented example) or "CNAME".
	RecordType string `toml:"record_type" json:"record_type"`
	// OrderStatus defaults to PENDING; CertStatus to INITIAL (ACTIVE for a
	// COMPLETED order).
	OrderStatus string `toml:"order_status" json:"order_status"`
	CertStatus  string `toml:"cert_status" json:"cert_status"`
	// UniqueValue is the optional Sectigo uniqueValue label of the value.
	UniqueValue string `toml:"unique_value" json:"unique_value"`
	// Validated names start out validated.
	Validated []string `toml:"validated" json:"validated"`
	// Created is when the order was placed (dtcreate; default now).
	Created time.Time `toml:"created" json:"created"`
	// Product is the product key (default "sectigo-positivessl").
	Product string `toml:"product" json:"product"`
	// Host, when set, replaces the challenge host of the common name
	// (hostile data: a host outside the order's names).
	Host string `toml:"host" json:"host"`
	// Foreign, when set, is a name the order does not cover that the auth
	// replies list anyway, with a challenge of its own (hostile data).
	Foreign string `toml:"foreign" json:"foreign"`
}

// OrderState is a snapshot of one order for tests.
type OrderState struct {
	ID          int
	OrderStatus string
	CertStatus  string
	AuthType    string
	RecordType  string
	CommonName  string
	Names       []NameState
	Approver    string // approver email used by email DCV
	EmailsSent  int
	// Writes counts the accepted writes (Change Auth Type, approver email).
	Writes int
}

// NameState is the DCV state of one certificate name.
type NameState struct {
	Name      string // as on the certificate ("*.example.com")
	Host      string // DNS challenge owner
	Value     string // DNS challenge value
	Validated bool
}

type name struct {
	name      string
	host      string
	validated bool
}

type order struct {
	id          int
	orderStatus string
	certStatus  string
	authType    string
	recordType  string
	names       []*name // names[0] is the common name
	md5, sha    string  // upper-case hex of the CSR DER
	unique      string
	foreign     *name // listed in auth replies only
	product     string
	approver    string
	emailsSent  int
	writes      int
	created     time.Time
	modified    time.Time
}

func (o *order) finished() bool { return Finished(o.orderStatus, o.certStatus) }

// value is the challenge value Sectigo expects (spec §5.1).
func (o *order) value() string {
	v := o.sha[:32] + "." + o.sha[32:]
	if o.unique != "" {
		v += "." + o.unique
	}
	return v + ".sectigo.com"
}

func baseName(n string) string {
	n = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(n), "."))
	return strings.TrimPrefix(n, "*.")
}

// csrHashes makes a real CSR for names and returns the upper-case MD5 and
// SHA-256 of its DER bytes, the inputs of Sectigo's hash challenge.
func csrHashes(names []string) (string, string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	der, err := x509.CreateCertificateRequest(rand.Reader, &x509.CertificateRequest{
		Subject: pkix.Name{CommonName: names[0]}, DNSNames: names,
	}, key)
	if err != nil {
		panic(err)
	}
	m, h := md5.Sum(der), sha256.Sum256(der)
	return strings.ToUpper(hex.EncodeToString(m[:])), strings.ToUpper(hex.EncodeToString(h[:]))
}

// AddOrder seeds an order and returns its id.
func (s *Server) AddOrder(spec OrderSpec) int {
	var names []string
	seen := map[string]bool{}
	for _, n := range append([]string{spec.CommonName}, spec.SANs...) {
		n = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(n), "."))
		if n != "" && !seen[n] {
			seen[n] = true
			names = append(names, n)
		}
	}
	if len(names) == 0 {
		panic("webnic sandbox: order without names")
	}
	md5hex, shahex := csrHashes(names)
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	o := &order{
		id: s.next, orderStatus: strings.ToUpper(spec.OrderStatus), certStatus: strings.ToUpper(spec.CertStatus),
		authType: strings.ToLower(spec.AuthType), recordType: strings.ToUpper(spec.RecordType),
		md5: md5hex, sha: shahex, unique: spec.UniqueValue, product: spec.Product, created: now, modified: now,
	}
	if !spec.Created.IsZero() {
		o.created = spec.Created
	}
	s.next++
	if o.orderStatus == "" {
		o.orderStatus = StatusPending
	}
	if o.certStatus == "" {
		o.certStatus = "INITIAL"
		if o.orderStatus == StatusCompleted {
			o.certStatus = "ACTIVE"
		}
	}
	if o.authType == "" {
		o.authType = "dns"
	}
	if o.recordType == "" {
		o.recordType = "TXT"
	}
	if o.product == "" {
		o.product = "sectigo-positivessl"
	}
	done := map[string]bool{}
	for _, v := range spec.Validated {
		done[strings.ToLower(v)] = true
	}
	for i, n := range names {
		nm := &name{name: n, host: "_" + o.md5 + "." + baseName(n), validated: done[n] || o.orderStatus == StatusCompleted}
		if i == 0 && spec.Host != "" {
			nm.host = spec.Host
		}
		o.names = append(o.names, nm)
	}
	if spec.Foreign != "" {
		f := strings.ToLower(spec.Foreign)
		o.foreign = &name{name: f, host: "_" + o.md5 + "." + baseName(f)}
	}
	o.approver = "admin@" + baseName(names[0])
	s.orders[o.id] = o
	s.ids = append(s.ids, o.id)
	return o.id
}

// AddOrders seeds several orders and returns their ids.
func (s *Server) AddOrders(specs []OrderSpec) []int {
	ids := make([]int, len(specs))
	for i, sp := range specs {
		ids[i] = s.AddOrder(sp)
	}
	return ids
}

// maybeComplete issues an order whose names are all validated. Called with
// s.mu held.
func (o *order) maybeComplete(now time.Time) {
	if o.finished() {
		return
	}
	for _, n := range o.names {
		if !n.validated {
			return
		}
	}
	o.orderStatus, o.certStatus, o.modified = StatusCompleted, "ACTIVE", now
}

// Order returns a snapshot of order id.
func (s *Server) Order(id int) (OrderState, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orders[id]
	if o == nil {
		return OrderState{}, false
	}
	st := OrderState{ID: o.id, OrderStatus: o.orderStatus, CertStatus: o.certStatus, AuthType: o.authType,
		RecordType: o.recordType, CommonName: o.names[0].name, Approver: o.approver, EmailsSent: o.emailsSent, Writes: o.writes}
	for _, n := range o.names {
		st.Names = append(st.Names, NameState{Name: n.name, Host: n.host, Value: o.value(), Validated: n.validated})
	}
	return st, true
}

// Orders returns the ids of every order, in creation order (removed ones
// included).
func (s *Server) Orders() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.ids...)
}

// SetStatus changes an order's statuses (a cancellation, a rejection). It
// reports whether the order exists.
func (s *Server) SetStatus(id int, orderStatus, certStatus string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orders[id]
	if o == nil {
		return false
	}
	o.orderStatus, o.certStatus = orderStatus, certStatus
	return true
}

// RemoveOrder deletes an order: every later call about it gets "order not
// found".
func (s *Server) RemoveOrder(id int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	delete(s.orders, id)
}

// ApproveEmail completes email DCV for an order on email, as if the
// approver clicked the link.
func (s *Server) ApproveEmail(id int) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	o := s.orders[id]
	if o == nil || o.authType != "email" || o.finished() {
		return fmt.Errorf("order %d is not pending on email DCV", id)
	}
	for _, n := range o.names {
		n.validated = true
	}
	o.maybeComplete(s.now())
	return nil
}

// FinishedWrites returns how many writes were attempted on orders while
// they were finished, by order id (empty: none, as it must be).
func (s *Server) FinishedWrites() map[int]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int]int{}
	for id, n := range s.finWrites {
		out[id] = n
	}
	return out
}
